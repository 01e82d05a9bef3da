import {
  BULK_ACTIONS,
  bulkActionStatuses,
  LIMITS,
  TASK_ACTION_SPECS,
  TASK_STATUSES,
  type BulkAction,
  type BulkFilter,
  type Store,
  type TaskEvent,
  type TaskId,
  type TaskStatus,
} from '@taskmill/contracts';
import { expect } from 'vitest';
import { createAndClaim, createOne, expectApplied, newChild, newTask, sortedIds, T0, taskInStatus } from '../fixtures.js';
import type { SuiteContext } from '../suite-context.js';

/* Bulk actions (docs/behaviour.md#bulk-actions): one batch per call, by filter, each task by its per-task rule. */

/** One task in each of the eight statuses (names `in-<status>`, ids in TASK_STATUSES order). */
async function oneOfEach(store: Store): Promise<Map<TaskStatus, TaskId>> {
  const ids = new Map<TaskStatus, TaskId>();
  for (const status of TASK_STATUSES) ids.set(status, (await taskInStatus(store, status, T0)).id);
  return ids;
}

/** The per-task call of an action (what a bulk action must do to each task). */
function perTask(store: Store, action: Exclude<BulkAction, 'delete'>, id: TaskId, now: number): Promise<unknown> {
  switch (action) {
    case 'pause':
      return store.pauseTask(id, now);
    case 'resume':
      return store.resumeTask(id, { resume_reason: 'ops' }, now);
    case 'cancel':
      return store.cancelTask(id, { reason: 'ops' }, now);
    case 'retry':
      return store.retryTask(id, now);
  }
}

/** Events without their ids, in task and insertion order, with `bulk` taken out of the metadata (the tasks that had it returned apart). */
function comparable(events: TaskEvent[]): { events: unknown[]; bulk: TaskId[] } {
  const bulk: TaskId[] = [];
  const list = [...events]
    .sort((a, b) => a.task_id - b.task_id || a.id - b.id)
    .map(({ id: _id, metadata, ...rest }) => {
      if (metadata === null) return { ...rest, metadata };
      const { bulk: flag, ...meta } = metadata;
      if (flag === true) bulk.push(rest.task_id);
      // a per-task event without metadata gets `{bulk: true}` in a bulk run
      return { ...rest, metadata: flag !== undefined && Object.keys(meta).length === 0 ? null : meta };
    });
  return { events: list, bulk };
}

export function defineBulkActionTests({ test, open, db }: SuiteContext): void {
  for (const action of ['pause', 'resume', 'cancel', 'retry'] as const) {
    test(`bulk ${action} changes each selected task exactly as ${TASK_ACTION_SPECS[action].method} does, with bulk: true on its events`, async () => {
      const bulkStore = await open();
      const oneStore = await open();
      const ids = await oneOfEach(bulkStore);
      expect(await oneOfEach(oneStore)).toEqual(ids);
      const eligible = TASK_STATUSES.filter((status) => TASK_ACTION_SPECS[action].allows({ status, parent_id: null })).map((s) => ids.get(s)!);
      expect(eligible.length).toBeGreaterThan(0);
      const reason = action === 'resume' || action === 'cancel' ? 'ops' : undefined;
      expect(await bulkStore.countBulkTasks(action, { all: true })).toBe(eligible.length);
      const result = await bulkStore.bulkActionBatch(action, { all: true }, { after: 0, limit: 100, reason }, T0 + 100);
      expect(result).toEqual({ changed: eligible, skipped: [], next: null });
      for (const id of eligible) await perTask(oneStore, action, id, T0 + 100);
      expect(await db.tasks(bulkStore)).toEqual(await db.tasks(oneStore));
      expect(await db.attempts(bulkStore)).toEqual(await db.attempts(oneStore));
      const bulkEvents = comparable(await db.events(bulkStore));
      const oneEvents = comparable(await db.events(oneStore));
      expect(bulkEvents.events).toEqual(oneEvents.events);
      expect(oneEvents.bulk).toEqual([]);
      expect(sortedIds(bulkEvents.bulk)).toEqual(eligible);
    });
  }

  test('bulk delete removes completed, permanently failed and paused tasks with their events and attempts, and nothing else', async () => {
    const store = await open();
    const ids = await oneOfEach(store);
    const gone = bulkActionStatuses('delete').map((status) => ids.get(status)!);
    const result = await store.bulkActionBatch('delete', { all: true }, { after: 0, limit: 100 }, T0 + 100);
    expect(result).toEqual({ changed: sortedIds(gone), skipped: [], next: null });
    const left = await db.tasks(store);
    expect(sortedIds(left.map((task) => task.id))).toEqual(sortedIds(TASK_STATUSES.filter((s) => !bulkActionStatuses('delete').includes(s)).map((s) => ids.get(s)!)));
    for (const id of gone) {
      expect(await db.events(store, { task_id: id })).toEqual([]);
      expect(await db.attempts(store, { task_id: id })).toEqual([]);
    }
    // the others keep their audit rows
    expect((await db.events(store, { task_id: ids.get('running')! })).length).toBeGreaterThan(0);
  });

  test('bulk delete skips a paused workflow child (its parent still waits for it)', async () => {
    const store = await open();
    const { fence } = await createAndClaim(store, { name: 'parent' });
    const spawned = await store.finishAttempt(fence, { kind: 'spawned', children: [newChild()] }, T0 + 1);
    const [child] = spawned.child_ids;
    await store.pauseTask(child, T0 + 2);
    const loose = await createOne(store, { name: 'loose' });
    await store.pauseTask(loose, T0 + 3);
    const result = await store.bulkActionBatch('delete', { status: 'paused' }, { after: 0, limit: 10 }, T0 + 4);
    expect(result).toEqual({ changed: [loose], skipped: [child], next: null });
    expect((await db.task(store, child))?.status).toBe('paused');
    expect(await db.task(store, loose)).toBeUndefined();
  });

  test('bulk filters select by name, tag, one or several statuses, created before/after and workflow root', async () => {
    const store = await open();
    const a = await createOne(store, { name: 'mail', tag: 'eu' }, T0);
    const b = await createOne(store, { name: 'mail', tag: 'us' }, T0 + 10);
    const c = await createOne(store, { name: 'sms', tag: 'eu' }, T0 + 20);
    await store.pauseTask(c, T0 + 21);
    const { task: root, fence } = await createAndClaim(store, { name: 'flow' }, { now: T0 + 30 });
    const spawned = await store.finishAttempt(fence, { kind: 'spawned', children: [newChild(), newChild()] }, T0 + 31);
    const [k1, k2] = spawned.child_ids;
    const other = await createOne(store, { name: 'flow' }, T0 + 40);
    const cases: Array<[BulkFilter, TaskId[]]> = [
      [{ name: 'mail' }, [a, b]],
      [{ tag: 'eu' }, [a, c]],
      [{ status: 'paused' }, [c]],
      [{ status: ['paused', 'suspended'] }, [c, root.id]],
      [{ created_after: T0 + 10 }, [b, c, root.id, k1, k2, other]],
      [{ created_before: T0 + 10 }, [a, b]],
      [{ created_after: new Date(T0 + 10), created_before: new Date(T0 + 20) }, [b, c]],
      [{ root_id: root.id }, [root.id, k1, k2]],
      [{ root_id: String(root.id) as never, name: 'child' }, [k1, k2]],
      [{ name: 'mail', tag: 'us' }, [b]],
      [{ name: 'nothing-has-this-name' }, []],
    ];
    for (const [filter, expected] of cases) {
      expect(await store.countBulkTasks('cancel', filter), JSON.stringify(filter)).toBe(expected.length);
    }
    // one filter applied for real: only its tasks change
    const result = await store.bulkActionBatch('cancel', { root_id: root.id, name: 'child' }, { after: 0, limit: 10 }, T0 + 50);
    expect(result.changed).toEqual(sortedIds([k1, k2]));
    const statuses = new Map((await db.tasks(store)).map((task) => [task.id, task.status]));
    expect([statuses.get(k1), statuses.get(k2)]).toEqual(['permanently_failed', 'permanently_failed']);
    // the cancelled children credited their parent, which resumed (as cancelTask of a child does)
    expect(statuses.get(root.id)).toBe('pending');
    expect([statuses.get(a), statuses.get(b), statuses.get(c), statuses.get(other)]).toEqual(['pending', 'pending', 'paused', 'pending']);
  });

  test('bulk: only statuses the action accepts are selected (a status filter narrows them)', async () => {
    const store = await open();
    const ids = await oneOfEach(store);
    for (const action of BULK_ACTIONS) {
      expect(await store.countBulkTasks(action, { all: true }), action).toBe(bulkActionStatuses(action).length);
    }
    expect(await store.countBulkTasks('retry', { status: ['failed', 'completed'] })).toBe(1);
    const result = await store.bulkActionBatch('pause', { status: ['failed', 'completed'] }, { after: 0, limit: 10 }, T0 + 100);
    expect(result).toEqual({ changed: [ids.get('failed')], skipped: [], next: null });
  });

  test('bulk batches: batch_size 2 over 5 tasks takes them by id in three batches, the cursor never re-reading a batch', async () => {
    const store = await open();
    const ids = await store.createTasks([1, 2, 3, 4, 5].map(() => newTask({ name: 'many' })), T0);
    const calls: Array<{ changed: TaskId[]; next: TaskId | null }> = [];
    let after: TaskId = 0;
    for (;;) {
      const { changed, skipped, next } = await store.bulkActionBatch('pause', { name: 'many' }, { after, limit: 2 }, T0 + 10);
      expect(skipped).toEqual([]);
      calls.push({ changed, next });
      if (next === null) break;
      after = next;
    }
    expect(calls).toEqual([
      { changed: [ids[0], ids[1]], next: ids[1] },
      { changed: [ids[2], ids[3]], next: ids[3] },
      { changed: [ids[4]], next: null },
    ]);
    expect((await db.tasks(store)).every((task) => task.status === 'paused')).toBe(true);
    // a full last batch is followed by an empty one that ends the run
    await store.createTasks([newTask({ name: 'four' }), newTask({ name: 'four' })], T0);
    const first = await store.bulkActionBatch('cancel', { name: 'four' }, { after: 0, limit: 2 }, T0 + 20);
    expect(first.changed).toHaveLength(2);
    expect(await store.bulkActionBatch('cancel', { name: 'four' }, { after: first.next!, limit: 2 }, T0 + 20)).toEqual({ changed: [], skipped: [], next: null });
  });

  test('bulk retry skips a permanently failed workflow child, counted, as retryTask refuses it', async () => {
    const store = await open();
    const { fence } = await createAndClaim(store, { name: 'parent' });
    const spawned = await store.finishAttempt(fence, { kind: 'spawned', children: [newChild()] }, T0 + 1);
    const [child] = spawned.child_ids;
    await store.cancelTask(child, {}, T0 + 2);
    const top = (await taskInStatus(store, 'permanently_failed', T0 + 3)).id;
    const before = (await db.task(store, child))!;
    const result = await store.bulkActionBatch('retry', { status: 'permanently_failed' }, { after: 0, limit: 10 }, T0 + 10);
    expect(result).toEqual({ changed: [top], skipped: [child], next: null });
    expect(await db.task(store, child)).toEqual(before);
    // a skipped task still matches the filter: the cursor moves past it, one batch at a time too
    await store.cancelTask(top, {}, T0 + 20);
    const calls = [];
    let after: TaskId = 0;
    for (let i = 0; i < 5; i++) {
      const batch = await store.bulkActionBatch('retry', { status: 'permanently_failed' }, { after, limit: 1 }, T0 + 30);
      calls.push(batch);
      if (batch.next === null) break;
      after = batch.next;
    }
    expect(calls).toEqual([
      { changed: [], skipped: [child], next: child },
      { changed: [top], skipped: [], next: top },
      { changed: [], skipped: [], next: null },
    ]);
  });

  test('bulk retry takes unique keys back; a key held by another task (or taken back earlier in the run) skips the task', async () => {
    const store = await open();
    const failForGood = async (key: string, now: number): Promise<TaskId> => {
      const { task, fence } = await createAndClaim(store, { unique_key: key, unique_scope: 'unfinished', max_retries: 1 }, { now });
      await expectApplied(store.finishAttempt(fence, { kind: 'failed', status: 'failed', error: 'boom' }, now + 1));
      return task.id;
    };
    const a = await failForGood('k', T0);
    const b = await failForGood('k', T0 + 10);
    const c = await failForGood('held', T0 + 20);
    const holder = await createOne(store, { unique_key: 'held', unique_scope: 'unfinished', name: 'job', next_run_time: T0 + 10_000 }, T0 + 30);
    const bBefore = (await db.task(store, b))!;
    const first = await store.bulkActionBatch('retry', { status: 'permanently_failed' }, { after: 0, limit: 1 }, T0 + 100);
    expect(first).toEqual({ changed: [a], skipped: [], next: a });
    const rest = await store.bulkActionBatch('retry', { status: 'permanently_failed' }, { after: a, limit: 10 }, T0 + 100);
    expect(rest).toEqual({ changed: [], skipped: [b, c], next: null });
    expect(String((await db.rawTask(store, a))?.unique_slot)).toBe('k');
    expect(await db.task(store, b)).toEqual(bBefore);
    expect((await db.task(store, holder))?.status).toBe('pending');
    // in one batch too: the first of two tasks with the same released key takes it, the second is skipped
    await store.cancelTask(a, {}, T0 + 200);
    const d = await failForGood('k', T0 + 300);
    const one = await store.bulkActionBatch('retry', { status: 'permanently_failed', created_before: T0 + 10 }, { after: 0, limit: 10 }, T0 + 500);
    expect(one).toEqual({ changed: [a], skipped: [b], next: null });
    const again = await store.bulkActionBatch('retry', { status: 'permanently_failed' }, { after: 0, limit: 10 }, T0 + 600);
    expect(again).toEqual({ changed: [], skipped: [b, c, d], next: null });
  });

  test('bulk: a bad action, filter or batch is a ValidationError and writes nothing', async () => {
    const store = await open();
    await oneOfEach(store);
    const before = await db.snapshot(store);
    const ok = { after: 0, limit: 10 };
    const bad: Array<[unknown, unknown, unknown]> = [
      ['explode', { all: true }, ok],
      ['cancel', {}, ok],
      ['cancel', { all: false }, ok],
      ['cancel', undefined, ok],
      ['cancel', [], ok],
      ['cancel', { stauts: 'failed' }, ok],
      ['cancel', { status: 'broken' }, ok],
      ['cancel', { status: [] }, ok],
      ['retry', { status: 'completed' }, ok],
      ['delete', { status: ['pending', 'running'] }, ok],
      ['cancel', { name: '' }, ok],
      ['cancel', { name: 42 }, ok],
      ['cancel', { tag: 'x'.repeat(LIMITS.max_name_length + 1) }, ok],
      ['cancel', { created_after: 'yesterday' }, ok],
      ['cancel', { created_before: Number.NaN }, ok],
      ['cancel', { created_before: new Date('nope') }, ok],
      ['cancel', { created_after: T0 + 10, created_before: T0 }, ok],
      ['cancel', { root_id: 'abc' }, ok],
      ['cancel', { root_id: -1 }, ok],
      ['cancel', { all: 'yes' }, ok],
      ['cancel', { all: true }, { after: 0, limit: 0 }],
      ['cancel', { all: true }, { after: 0, limit: LIMITS.max_bulk_batch_size + 1 }],
      ['cancel', { all: true }, { after: 0, limit: 1.5 }],
      ['cancel', { all: true }, { after: -1, limit: 10 }],
      ['cancel', { all: true }, { after: 0, limit: 10, reason: '' }],
      ['cancel', { all: true }, { after: 0, limit: 10, size: 3 }],
    ];
    for (const [action, filter, batch] of bad) {
      const label = JSON.stringify([action, filter, batch]);
      await expect(store.bulkActionBatch(action as never, filter as never, batch as never, T0 + 100), label).rejects.toMatchObject({ code: 'TASKMILL_VALIDATION' });
    }
    for (const [action, filter] of bad.slice(0, 20)) {
      await expect(store.countBulkTasks(action as never, filter as never), JSON.stringify(filter)).rejects.toMatchObject({ code: 'TASKMILL_VALIDATION' });
    }
    expect(await db.snapshot(store)).toEqual(before);
  });
}
