import type { Store, TaskId, TaskQuery } from '@taskmill/contracts';
import { expect } from 'vitest';
import { claimOne, createAndClaim, createOne, expectApplied, fenceOf, newChild, newTask, SQL_INJECTION, T0, UNKNOWN_ID } from '../fixtures.js';
import type { SuiteContext } from '../suite-context.js';

async function ids(store: Store, query: TaskQuery): Promise<TaskId[]> {
  return (await store.queryTasks(query)).items.map((t) => t.id);
}

/** Task reads, stats and deletes (docs/behaviour.md#queries). */
export function defineQueryTests({ test, open, db }: SuiteContext): void {
  test('getTask returns null for unknown or malformed ids', async () => {
    const store = await open();
    const id = await createOne(store);
    expect((await store.getTask(id))?.id).toBe(id);
    for (const bad of [UNKNOWN_ID, 0, -1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 2, '1 OR 1=1' as unknown as number]) {
      expect(await store.getTask(bad), `getTask(${String(bad)})`).toBeNull();
    }
    expect(await db.tasks(store)).toHaveLength(1);
  });

  test('queryTasks filters by tag, status, name, worker_id, type, parent_id, root_id and workflow_root_id', async () => {
    const store = await open();
    const [plain, tagged, cron] = await store.createTasks(
      [newTask({ name: 'n1' }), newTask({ name: 'n2', tag: 'T' }), newTask({ name: 'n3', type: 'cron', cron_expr: '* * * * *', tag: 'T' })],
      T0,
    );
    const running = await claimOne(store, { names: ['n2'], worker: 'wq' });
    const { task: root, fence } = await createAndClaim(store, { name: 'root' }, { worker: 'wr', now: T0 + 1 });
    const { child_ids } = await store.finishAttempt(fence, { kind: 'spawned', children: [newChild(), newChild()] }, T0 + 2);
    const [c1, c2] = child_ids;
    const c1Task = await claimOne(store, { names: ['child'], worker: 'wc', now: T0 + 3 });
    expect(c1Task.id).toBe(c1);
    const { child_ids: grand } = await store.finishAttempt(fenceOf(c1Task), { kind: 'spawned', children: [newChild({ name: 'g' })] }, T0 + 4);

    expect(await ids(store, { tag: 'T' })).toEqual([tagged, cron]);
    expect(await ids(store, { status: 'running' })).toEqual([running.id]);
    expect(await ids(store, { status: 'suspended' })).toEqual([root.id, c1]);
    expect(await ids(store, { name: 'n1' })).toEqual([plain]);
    expect(await ids(store, { worker_id: 'wq' })).toEqual([tagged]);
    expect(await ids(store, { type: 'cron' })).toEqual([cron]);
    expect(await ids(store, { parent_id: root.id })).toEqual([c1, c2]);
    expect(await ids(store, { parent_id: c1 })).toEqual(grand);
    expect(await ids(store, { root_id: root.id })).toEqual([c1, c2, ...grand]);
    expect(await ids(store, { workflow_root_id: root.id })).toEqual([root.id, c1, c2, ...grand]);
    expect(await ids(store, { tag: 'T', type: 'async' })).toEqual([tagged]);
    expect(await ids(store, { status: 'pending', parent_id: root.id })).toEqual([c2]);
    expect(await ids(store, { name: 'nope' })).toEqual([]);
    expect((await store.queryTasks({})).total).toBe(7);
  });

  test('queryTasks next_run_before keeps tasks due at or before that time (status filters combine)', async () => {
    const store = await open();
    const [early, atBound, late] = await store.createTasks(
      [newTask({ name: 'd1', next_run_time: T0 }), newTask({ name: 'd2', next_run_time: T0 + 500 }), newTask({ name: 'd3', next_run_time: T0 + 501 })],
      T0,
    );
    const { task: failing, fence } = await createAndClaim(store, { name: 'f', retry_interval: 60 }, { now: T0 });
    await expectApplied(store.finishAttempt(fence, { kind: 'failed', status: 'failed', error: 'e' }, T0 + 1)); // retry due at T0 + 60001
    expect(await ids(store, { next_run_before: T0 + 500 })).toEqual([early, atBound]);
    expect(await ids(store, { next_run_before: T0 + 500, status: 'pending' })).toEqual([early, atBound]);
    expect(await ids(store, { next_run_before: T0 + 500, status: 'failed' })).toEqual([]);
    expect(await ids(store, { next_run_before: T0 + 60_001, status: 'failed' })).toEqual([failing.id]);
    expect((await store.queryTasks({ next_run_before: T0 + 500, limit: 1 })).total).toBe(2);
    // 0 and non-numbers are ignored, like the event time bounds
    expect(await ids(store, { next_run_before: 0 })).toHaveLength(4);
    expect(await ids(store, { next_run_before: '1 OR 1=1' as never })).toHaveLength(4);
    expect(late).toBeGreaterThan(atBound);
  });

  test('queryTasks pages with limit, offset and order', async () => {
    const store = await open();
    const created: TaskId[] = [];
    for (let i = 0; i < 5; i++) created.push(await createOne(store, {}, T0 + (i === 2 ? 10 : i))); // created_at order: 0,1,3,4,2
    const byCreation = [created[0], created[1], created[3], created[4], created[2]];
    const all = await store.queryTasks({});
    expect(all).toMatchObject({ total: 5, limit: null, offset: 0, has_more: false });
    expect(all.items.map((t) => t.id)).toEqual(byCreation);
    expect(all.items[0]).toEqual(await store.getTask(created[0]));
    const first = await store.queryTasks({ limit: 2 });
    expect(first).toMatchObject({ total: 5, limit: 2, offset: 0, has_more: true });
    expect(first.items.map((t) => t.id)).toEqual(byCreation.slice(0, 2));
    const middle = await store.queryTasks({ limit: 2, offset: 2 });
    expect(middle).toMatchObject({ total: 5, limit: 2, offset: 2, has_more: true });
    expect(middle.items.map((t) => t.id)).toEqual(byCreation.slice(2, 4));
    const last = await store.queryTasks({ limit: 2, offset: 4 });
    expect(last).toMatchObject({ total: 5, has_more: false });
    expect(last.items.map((t) => t.id)).toEqual(byCreation.slice(4));
    const desc = await store.queryTasks({ order: 'desc', limit: 3 });
    expect(desc.items.map((t) => t.id)).toEqual([...byCreation].reverse().slice(0, 3));
    const offsetOnly = await store.queryTasks({ offset: 3 });
    expect(offsetOnly).toMatchObject({ total: 5, offset: 0, limit: null });
    expect(offsetOnly.items).toHaveLength(5);
    const beyond = await store.queryTasks({ limit: 2, offset: 10 });
    expect(beyond).toMatchObject({ items: [], total: 5, has_more: false });
  });

  test('queryTasks treats odd filter values as data', async () => {
    const store = await open();
    const hostile = await createOne(store, { name: SQL_INJECTION, tag: SQL_INJECTION });
    const plain = await createOne(store, { name: 'plain', tag: 'plain' });
    expect(await ids(store, { tag: SQL_INJECTION })).toEqual([hostile]);
    expect(await ids(store, { name: SQL_INJECTION })).toEqual([hostile]);
    for (const odd of ["' OR '1'='1", '%', '_lain', 'plain; --', 'PLAIN ', '\\']) {
      expect(await ids(store, { tag: odd }), `tag ${odd}`).toEqual([]);
      expect(await ids(store, { name: odd }), `name ${odd}`).toEqual([]);
    }
    expect(await ids(store, { worker_id: "' OR 1=1 --" })).toEqual([]);
    expect(await db.tasks(store)).toHaveLength(2);
    expect((await store.getTask(plain))?.tag).toBe('plain');
  });

  test('getTaskStatsByTag groups by tag, name and status in that order', async () => {
    const store = await open();
    await store.createTasks(
      [
        newTask({ name: 'n2', tag: 'A' }),
        newTask({ name: 'n1', tag: 'B' }),
        newTask({ name: 'n1', tag: 'A' }),
        newTask({ name: 'n1', tag: 'A' }),
        newTask({ name: 'run', tag: 'A' }),
        newTask({ name: 'run', tag: 'A' }),
        newTask({ name: 'n1', tag: null }),
      ],
      T0,
    );
    await claimOne(store, { names: ['run'] });
    const stats = await store.getTaskStatsByTag();
    const tagged = stats.filter((s) => s.tag !== null);
    expect(tagged).toEqual([
      { tag: 'A', name: 'n1', status: 'pending', count: 2 },
      { tag: 'A', name: 'n2', status: 'pending', count: 1 },
      { tag: 'A', name: 'run', status: 'pending', count: 1 },
      { tag: 'A', name: 'run', status: 'running', count: 1 },
      { tag: 'B', name: 'n1', status: 'pending', count: 1 },
    ]);
    expect(stats.filter((s) => s.tag === null)).toEqual([{ tag: null, name: 'n1', status: 'pending', count: 1 }]);
    expect(await store.getTaskStatsByTag('B')).toEqual([{ tag: 'B', name: 'n1', status: 'pending', count: 1 }]);
    expect(await store.getTaskStatsByTag(undefined, 'running')).toEqual([{ tag: 'A', name: 'run', status: 'running', count: 1 }]);
    expect(await store.getTaskStatsByTag('A', 'running')).toEqual([{ tag: 'A', name: 'run', status: 'running', count: 1 }]);
    expect(await store.getTaskStatsByTag(SQL_INJECTION)).toEqual([]);
  });

  test('deleteTasks deletes matching tasks with their events and attempts only', async () => {
    const store = await open();
    const { task: done, fence } = await createAndClaim(store, { name: 'a', tag: 'del' });
    await expectApplied(store.finishAttempt(fence, { kind: 'completed', result: null }, T0 + 1));
    const pendingDel = await createOne(store, { name: 'b', tag: 'del' });
    const { task: keep } = await createAndClaim(store, { name: 'c', tag: 'keep' });
    const keepOtherName = await createOne(store, { name: 'd', tag: 'del' });
    const keepEvents = await db.events(store, { task_id: keep.id });
    const keepAttempts = await db.attempts(store, { task_id: keep.id });

    expect(await store.deleteTasks({ tag: 'del', name: 'zzz' })).toBe(0);
    expect(await store.deleteTasks({ tag: 'del', status: 'completed' })).toBe(1);
    expect(await db.tasks(store, { id: done.id })).toEqual([]);
    expect(await db.events(store, { task_id: done.id })).toEqual([]);
    expect(await db.attempts(store, { task_id: done.id })).toEqual([]);
    expect(await store.deleteTasks({ tag: 'del', name: 'b' })).toBe(1);
    expect(await db.events(store, { task_id: pendingDel })).toEqual([]);
    expect(await db.events(store, { task_id: keep.id })).toEqual(keepEvents);
    expect(await db.attempts(store, { task_id: keep.id })).toEqual(keepAttempts);
    expect((await db.task(store, keepOtherName))?.tag).toBe('del');
    expect(await store.deleteTasks({ tag: SQL_INJECTION })).toBe(0);
    expect(await store.deleteTasks({})).toBe(2);
    const snap = await db.snapshot(store);
    expect([snap.tasks.length, snap.events.length, snap.attempts.length]).toEqual([0, 0, 0]);
  });
}
