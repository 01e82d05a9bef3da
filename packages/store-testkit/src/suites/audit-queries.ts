import type { AttemptQuery, EventQuery, Store, TaskAttempt, TaskEvent, TaskId } from '@taskmill/contracts';
import { expect } from 'vitest';
import { claimOne, createAndClaim, createOne, expectApplied, fenceOf, newChild, T0 } from '../fixtures.js';
import type { SuiteContext } from '../suite-context.js';

/**
 * One task with a varied history:
 * created T0; claimed by w1 at T0+10 (attempt 1); progress T0+20; failed T0+30;
 * retried by w2 at T0+40 (attempt 2); checkpoint at stage 2 T0+50; failed T0+60;
 * retried by w1 at T0+70 (attempt 3, left open).
 */
async function history(store: Store): Promise<TaskId> {
  const id = await createOne(store, { max_retries: 5 }, T0);
  const a1 = await claimOne(store, { worker: 'w1', now: T0 + 10 });
  await store.recordTaskNote(id, fenceOf(a1), { event_type: 'task_progress', message: 'p', metadata: { progress_percent: 10 }, progress: { progress_percent: 10 } }, T0 + 20);
  await expectApplied(store.finishAttempt(fenceOf(a1), { kind: 'failed', status: 'failed', error: 'e1' }, T0 + 30));
  const a2 = await claimOne(store, { worker: 'w2', now: T0 + 40 });
  await store.recordTaskNote(id, fenceOf(a2), { event_type: 'task_checkpoint', message: 'c', metadata: { code: 'c' }, stage: 2 }, T0 + 50);
  await expectApplied(store.finishAttempt(fenceOf(a2), { kind: 'failed', status: 'failed', error: 'e2' }, T0 + 60));
  await claimOne(store, { worker: 'w1', now: T0 + 70 });
  return id;
}

function idsOf(rows: { id: number }[]): number[] {
  return rows.map((r) => r.id);
}

/** Event and attempt queries (docs/behaviour.md#queries). */
export function defineAuditQueryTests({ test, open, db }: SuiteContext): void {
  test('queryTaskEvents returns the events of one task ordered by event_time, id and applies every filter', async () => {
    const store = await open();
    const id = await history(store);
    await createOne(store, { name: 'noise' }, T0 + 20);
    const raw = await db.events(store, { task_id: id });
    const all = await store.queryTaskEvents(id, {});
    expect(all).toMatchObject({ total: raw.length, limit: null, offset: 0, has_more: false });
    expect(all.items).toEqual([...raw].sort((a, b) => a.event_time - b.event_time || a.id - b.id));
    expect(all.items.map((e) => e.event_type)).toEqual([
      'task_created',
      'task_claimed',
      'task_started',
      'task_progress',
      'task_failed',
      'task_retry_scheduled',
      'task_claimed',
      'task_started',
      'task_retry_started',
      'task_checkpoint',
      'task_failed',
      'task_retry_scheduled',
      'task_claimed',
      'task_started',
      'task_retry_started',
    ]);
    const check = async (query: EventQuery, keep: (e: TaskEvent) => boolean, minimum = 1) => {
      const expected = idsOf(all.items.filter(keep));
      expect(expected.length, JSON.stringify(query)).toBeGreaterThanOrEqual(minimum);
      expect(expected.length, JSON.stringify(query)).toBeLessThan(all.items.length);
      const page = await store.queryTaskEvents(id, query);
      expect(idsOf(page.items), JSON.stringify(query)).toEqual(expected);
      expect(page.total).toBe(expected.length);
    };
    await check({ event_type: 'task_started' }, (e) => e.event_type === 'task_started', 3);
    await check({ event_types: ['task_claimed', 'task_failed'] }, (e) => e.event_type === 'task_claimed' || e.event_type === 'task_failed', 5);
    await check({ worker_id: 'w2' }, (e) => e.worker_id === 'w2');
    await check({ attempt: 2 }, (e) => e.attempt === 2, 3);
    await check({ stage: 0 }, (e) => e.stage === 0, 10);
    await check({ stage: 2 }, (e) => e.stage === 2);
    await check({ started_after: T0 + 20 }, (e) => e.event_time >= T0 + 20);
    await check({ started_before: T0 + 20 }, (e) => e.event_time <= T0 + 20);
    await check({ started_after: T0 + 20, started_before: T0 + 20 }, (e) => e.event_time === T0 + 20);
    await check({ event_type: 'task_claimed', worker_id: 'w1' }, (e) => e.event_type === 'task_claimed' && e.worker_id === 'w1', 2);
    expect((await store.queryTaskEvents(id, { event_type: 'task_completed' })).items).toEqual([]);

    const desc = await store.queryTaskEvents(id, { order: 'desc' });
    expect(idsOf(desc.items)).toEqual(idsOf(all.items).reverse());
    const page = await store.queryTaskEvents(id, { limit: 4, offset: 4 });
    expect(page).toMatchObject({ total: all.items.length, limit: 4, offset: 4, has_more: true });
    expect(idsOf(page.items)).toEqual(idsOf(all.items).slice(4, 8));
  });

  test('queryWorkflowEvents returns the events of the root and all its descendants', async () => {
    const store = await open();
    const { task: root, fence } = await createAndClaim(store, { name: 'root' }, { worker: 'wr' });
    const { child_ids } = await store.finishAttempt(fence, { kind: 'spawned', children: [newChild(), newChild()] }, T0 + 1);
    const child = await claimOne(store, { names: ['child'], worker: 'wc', now: T0 + 2 });
    const { child_ids: grand } = await store.finishAttempt(fenceOf(child), { kind: 'spawned', children: [newChild({ name: 'g' })] }, T0 + 3);
    await createAndClaim(store, { name: 'unrelated' }, { now: T0 + 2 });
    const raw = await db.events(store, { root_id: root.id });
    const workflowTasks = new Set([root.id, ...child_ids, ...grand]);
    expect(raw.length).toBeGreaterThan(8);
    expect(raw.every((e) => workflowTasks.has(e.task_id))).toBe(true);
    const all = await store.queryWorkflowEvents(root.id, {});
    expect(all.total).toBe(raw.length);
    expect(idsOf(all.items)).toEqual(idsOf([...raw].sort((a, b) => a.event_time - b.event_time || a.id - b.id)));
    expect(new Set(all.items.map((e) => e.task_id))).toEqual(workflowTasks);
    const ofChildren = await store.queryWorkflowEvents(root.id, { parent_id: root.id });
    expect(ofChildren.items.length).toBeGreaterThan(0);
    expect(idsOf(ofChildren.items)).toEqual(idsOf(all.items.filter((e) => e.parent_id === root.id)));
    const created = await store.queryWorkflowEvents(root.id, { event_type: 'task_created' });
    expect(created.items.map((e) => e.task_id)).toEqual([root.id, ...child_ids, ...grand]);
  });

  test('queryTaskAttempts returns attempts ordered by attempt and applies every filter', async () => {
    const store = await open();
    const id = await history(store);
    const all = await store.queryTaskAttempts(id, {});
    expect(all).toMatchObject({ total: 3, limit: null, offset: 0, has_more: false });
    expect(all.items).toEqual(await db.attempts(store, { task_id: id }));
    expect(all.items.map((a) => [a.attempt, a.worker_id, a.started_at, a.ended_at, a.outcome, a.error])).toEqual([
      [1, 'w1', T0 + 10, T0 + 30, 'failed', 'e1'],
      [2, 'w2', T0 + 40, T0 + 60, 'failed', 'e2'],
      [3, 'w1', T0 + 70, null, null, null],
    ]);
    const attemptsOf = async (query: AttemptQuery) => (await store.queryTaskAttempts(id, query)).items.map((a: TaskAttempt) => a.attempt);
    expect(await attemptsOf({ outcome: 'failed' })).toEqual([1, 2]);
    expect(await attemptsOf({ open_only: true })).toEqual([3]);
    expect(await attemptsOf({ worker_id: 'w2' })).toEqual([2]);
    expect(await attemptsOf({ started_after: T0 + 40 })).toEqual([2, 3]);
    expect(await attemptsOf({ started_before: T0 + 40 })).toEqual([1, 2]);
    expect(await attemptsOf({ ended_after: T0 + 60 })).toEqual([2]);
    expect(await attemptsOf({ ended_before: T0 + 30 })).toEqual([1]);
    expect(await attemptsOf({ worker_id: 'w1', outcome: 'failed' })).toEqual([1]);
    expect(await attemptsOf({ order: 'desc' })).toEqual([3, 2, 1]);
    const page = await store.queryTaskAttempts(id, { limit: 2, offset: 1 });
    expect(page).toMatchObject({ total: 3, limit: 2, offset: 1, has_more: false });
    expect(page.items.map((a) => a.attempt)).toEqual([2, 3]);
    expect((await store.queryTaskAttempts(id, { limit: 1 })).has_more).toBe(true);
  });

  test('queryWorkflowAttempts covers the root and its descendants only', async () => {
    const store = await open();
    const { task: root, fence } = await createAndClaim(store, { name: 'root' }, { worker: 'wr' });
    const { child_ids } = await store.finishAttempt(fence, { kind: 'spawned', children: [newChild(), newChild()] }, T0 + 1);
    const c1 = await claimOne(store, { names: ['child'], worker: 'wc', now: T0 + 2 });
    await store.finishAttempt(fenceOf(c1), { kind: 'spawned', children: [newChild({ name: 'g' })] }, T0 + 3);
    const g = await claimOne(store, { names: ['g'], worker: 'wg', now: T0 + 4 });
    await createAndClaim(store, { name: 'unrelated' }, { now: T0 + 2 });
    const page = await store.queryWorkflowAttempts(root.id, {});
    expect(page.total).toBe(3);
    expect(new Set(page.items.map((a) => a.task_id))).toEqual(new Set([root.id, c1.id, g.id]));
    expect(page.items.every((a) => a.attempt === 1)).toBe(true);
    expect((await store.queryWorkflowAttempts(root.id, { open_only: true })).items.map((a) => a.task_id)).toEqual([g.id]);
    expect((await store.queryWorkflowAttempts(root.id, { outcome: 'suspended' })).total).toBe(2);
    expect((await store.queryWorkflowAttempts(root.id, { worker_id: 'wc' })).items.map((a) => a.task_id)).toEqual([c1.id]);
    expect((await store.queryWorkflowAttempts(child_ids[1], {})).total).toBe(0);
  });

  test('cursor pages walk a whole log in order, ties of event_time included, ascending and descending, for events, attempts and tasks', async () => {
    const store = await open();
    const id = await history(store);
    await createOne(store, { name: 'later' }, T0 + 80);
    const all = idsOf((await store.queryTaskEvents(id, {})).items);
    const walk = async <T extends { id: number }>(read: (query: { limit: number; cursor?: string; order?: 'desc' }) => Promise<{ items: T[]; next_cursor: string | null; has_more: boolean; total: number; offset: number | null }>, order?: 'desc') => {
      const seen: number[] = [];
      let page = await read({ limit: 4, order });
      let pages = 1;
      seen.push(...idsOf(page.items));
      while (page.next_cursor !== null) {
        expect(page.has_more).toBe(true);
        page = await read({ limit: 4, cursor: page.next_cursor });
        expect(page.offset).toBeNull();
        seen.push(...idsOf(page.items));
        pages += 1;
        expect(pages).toBeLessThan(100);
      }
      expect(page.has_more).toBe(false);
      return { seen, total: page.total, pages };
    };
    const up = await walk((q) => store.queryTaskEvents(id, q));
    expect(up).toEqual({ seen: all, total: all.length, pages: Math.ceil(all.length / 4) });
    const down = await walk((q) => store.queryTaskEvents(id, q), 'desc');
    expect(down.seen).toEqual([...all].reverse());
    // a filter narrows both the walk and the total
    const started = await walk((q) => store.queryTaskEvents(id, { ...q, event_type: 'task_started' }));
    expect(started.total).toBe(3);
    expect(started.seen).toHaveLength(3);

    const attempts = idsOf((await store.queryTaskAttempts(id, {})).items);
    const byOne = await walk((q) => store.queryTaskAttempts(id, { ...q, limit: 1 }));
    expect(byOne.seen).toEqual(attempts);
    const tasks = idsOf((await store.queryTasks({})).items);
    expect((await walk((q) => store.queryTasks({ ...q, limit: 1 }))).seen).toEqual(tasks);

    // a cursor is a position, not a snapshot: rows appended after it was handed out are read in turn
    const first = await store.queryTaskEvents(id, { limit: all.length });
    expect(first.next_cursor).toBeNull();
    const partial = await store.queryTaskEvents(id, { limit: all.length - 1 });
    await store.recordTaskNote(id, null, { event_type: 'task_checkpoint', message: 'late', metadata: { code: 'late' } }, T0 + 90);
    const rest = await store.queryTaskEvents(id, { limit: 10, cursor: partial.next_cursor! });
    expect(rest.items.map((e) => e.message)).toEqual([expect.anything(), 'late']);
    expect(rest.total).toBe(all.length + 1);
    // cursors of another query, or misused ones, are typed errors
    await expect(store.queryTaskAttempts(id, { limit: 1, cursor: partial.next_cursor! })).rejects.toMatchObject({ code: 'TASKMILL_VALIDATION' });
    await expect(store.queryTaskEvents(id, { limit: 1, offset: 2, cursor: partial.next_cursor! })).rejects.toThrow('cursor and offset cannot be combined');
    await expect(store.queryTaskEvents(id, { limit: 1, cursor: "x' OR 1=1 --" })).rejects.toThrow('cursor must be a next_cursor returned by this query');
  });
}
