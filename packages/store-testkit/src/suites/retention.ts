import type { PurgeInput, PurgeResult, Store, TaskId } from '@taskmill/contracts';
import { expect } from 'vitest';
import { claimOne, createAndClaim, createOne, expectApplied, fenceOf, newChild, newTask, T0, taskInStatus } from '../fixtures.js';
import type { SuiteContext } from '../suite-context.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A completed task whose last_active_time is `at`. */
async function completedAt(store: Store, name: string, at: number): Promise<TaskId> {
  const { task, fence } = await createAndClaim(store, { name }, { now: at - 1 });
  await expectApplied(store.finishAttempt(fence, { kind: 'completed', result: null }, at));
  return task.id;
}

/** purgeExpiredTasks (docs/behaviour.md#retention). */
export function defineRetentionTests({ test, open, peer, db, harness }: SuiteContext): void {
  test('purgeExpiredTasks deletes expired tasks of the given statuses oldest first, in bounded batches', async () => {
    const store = await open();
    const c1 = await completedAt(store, 'c1', T0 + 100);
    const c2 = await completedAt(store, 'c2', T0 + 50);
    const c3 = await completedAt(store, 'c3', T0 + 500);
    const pf = await createOne(store, { name: 'pf' }, T0);
    await store.cancelTask(pf, {}, T0 + 70);
    const paused = await createOne(store, { name: 'paused' }, T0);
    await store.pauseTask(paused, T0 + 60);
    const pending = await createOne(store, { name: 'pending' }, T0 - 1_000_000);
    const { id: running } = await taskInStatus(store, 'running', T0 - 1_000_000);
    const { id: suspended } = await taskInStatus(store, 'suspended', T0 - 1_000_000);
    const { id: failed } = await taskInStatus(store, 'failed', T0 - 1_000_000);

    const countOf = async (ids: TaskId[]) => {
      let events = 0;
      let attempts = 0;
      for (const id of ids) {
        events += (await db.events(store, { task_id: id })).length;
        attempts += (await db.attempts(store, { task_id: id })).length;
      }
      return { events, attempts };
    };
    const firstBatch = await countOf([c2, pf]);
    const policy: PurgeInput = { statuses: ['completed', 'permanently_failed'], before: T0 + 200, limit: 2 };
    const first = await store.purgeExpiredTasks(policy);
    expect(first).toEqual({ tasks_deleted: 2, events_deleted: firstBatch.events, attempts_deleted: firstBatch.attempts, has_more: true });
    expect(await db.tasks(store, { id: c2 })).toEqual([]);
    expect(await db.tasks(store, { id: pf })).toEqual([]);
    expect(await db.events(store, { task_id: c2 })).toEqual([]);
    expect(await db.attempts(store, { task_id: c2 })).toEqual([]);
    expect(await db.events(store, { task_id: pf })).toEqual([]);

    const secondBatch = await countOf([c1]);
    const second = await store.purgeExpiredTasks(policy);
    expect(second).toEqual({ tasks_deleted: 1, events_deleted: secondBatch.events, attempts_deleted: secondBatch.attempts, has_more: false });
    expect(await store.purgeExpiredTasks(policy)).toEqual({ tasks_deleted: 0, events_deleted: 0, attempts_deleted: 0, has_more: false });

    // before is strict: c3 (last active T0+500) survives a purge "before T0+500"
    expect((await store.purgeExpiredTasks({ statuses: ['completed'], before: T0 + 500, limit: 10 })).tasks_deleted).toBe(0);
    expect((await db.tasks(store, { id: c3 })).length).toBe(1);

    // paused is opt-in, and pending/running/suspended/failed tasks are never touched
    const keep = await db.snapshot(store);
    const everything = await store.purgeExpiredTasks({ statuses: ['completed', 'permanently_failed', 'paused'], before: T0 + 1e9, limit: 100 });
    expect(everything).toMatchObject({ tasks_deleted: 2, has_more: false });
    const left = (await db.tasks(store)).map((t) => t.id).sort((a, b) => a - b);
    expect(left).toEqual([pending, running, suspended, failed].sort((a, b) => a - b));
    const after = await db.snapshot(store);
    const survivors = new Set(left);
    expect(after.events).toEqual(keep.events.filter((e) => survivors.has(Number(e.task_id))));
    expect(after.attempts).toEqual(keep.attempts.filter((a) => survivors.has(Number(a.task_id))));
  });

  test('purgeExpiredTasks keeps a child that does not qualify when its parent is purged', async () => {
    const store = await open();
    const { task: parent, fence } = await createAndClaim(store, { name: 'parent' }, { now: T0 });
    const { child_ids } = await store.finishAttempt(fence, { kind: 'spawned', children: [newChild(), newChild({ name: 'slow' })] }, T0 + 1);
    const [done, slow] = child_ids;
    const child = await claimOne(store, { names: ['child'], now: T0 + 2 });
    await expectApplied(store.finishAttempt(fenceOf(child), { kind: 'completed', result: null }, T0 + 3));
    await store.cancelTask(parent.id, { reason: 'give up' }, T0 + 4);
    const slowEvents = await db.events(store, { task_id: slow });
    const res = await store.purgeExpiredTasks({ statuses: ['completed', 'permanently_failed'], before: T0 + 1e9, limit: 10 });
    expect(res.tasks_deleted).toBe(2);
    expect(await db.tasks(store, { id: parent.id })).toEqual([]);
    expect(await db.tasks(store, { id: done })).toEqual([]);
    expect(await db.task(store, slow)).toMatchObject({ status: 'pending', parent_id: parent.id, root_id: parent.id });
    expect(await db.events(store, { task_id: slow })).toEqual(slowEvents);
  });

  test('purgeExpiredTasks measures age from the last transition, not from creation', async () => {
    const store = await open();
    const id = await createOne(store, { name: 'x' }, T0);
    await store.cancelTask(id, {}, T0 + 10);
    // cancel sets last_active_time; only a purge after it deletes the task
    expect((await store.purgeExpiredTasks({ statuses: ['permanently_failed'], before: T0 + 10, limit: 10 })).tasks_deleted).toBe(0);
    expect((await store.purgeExpiredTasks({ statuses: ['permanently_failed'], before: T0 + 11, limit: 10 })).tasks_deleted).toBe(1);
  });

  test("an exclusive purge deletes nothing while another store's exclusive purge holds the retention lock", async () => {
    const a = await open();
    const b = await peer(a);
    const ids: TaskId[] = [];
    for (let i = 0; i < 5; i++) ids.push(await completedAt(a, `done${i}`, T0 + i));
    // live tasks (never purged) with events of their own, so that the deletes below go by the
    // events' task_id index: a table scan of a tiny table would wait at the locked rows whatever
    // the retention lock does, and the test would prove nothing
    await a.createTasks(Array.from({ length: 300 }, () => newTask({ name: 'live' })), T0);
    const purge = (limit: number): PurgeInput => ({ statuses: ['completed'], before: T0 + 1000, limit, exclusive: true });
    const zero = { tasks_deleted: 0, events_deleted: 0, attempts_deleted: 0, has_more: false };
    // one exclusive purge beforehand, so a lock made on first use (MySQL's row) exists
    expect(await b.purgeExpiredTasks({ ...purge(10), before: T0 - 1000 })).toEqual(zero);
    const settled: Array<{ by: 'a' | 'b'; result: PurgeResult }> = [];
    let turnedAway = 0;
    let pa!: Promise<PurgeResult>;
    let pb!: Promise<PurgeResult>;
    // The oldest task's events are locked from outside: whichever purge takes the retention lock first
    // also takes that task (both go oldest first) and waits at its events' delete, inside its
    // transaction, still holding the retention lock. (SQLite: the write lock is held, which is the
    // retention lock there, and both purges wait for it.)
    await harness.lockRows(a, 'taskmill_task_events', { task_id: ids[0] }, async () => {
      pa = a.purgeExpiredTasks(purge(1));
      pa.then((result) => settled.push({ by: 'a', result }), () => {});
      await sleep(100);
      pb = b.purgeExpiredTasks(purge(10));
      pb.then((result) => settled.push({ by: 'b', result }), () => {});
      const deadline = Date.now() + 2000;
      while (settled.length === 0 && Date.now() < deadline) await sleep(20);
      await sleep(200);
      // without the lock, the second purge would skip the locked task and delete the other four now
      expect((await db.tasks(a, { status: 'completed' })).length).toBe(5);
      expect(settled.length).toBeLessThanOrEqual(1);
      for (const { result } of settled) expect(result).toEqual({ ...zero, busy: true });
      turnedAway = settled.length;
    });
    const [ra, rb] = await Promise.all([pa, pb]);
    const busy = [ra, rb].filter((r) => r.busy === true);
    expect(busy.length).toBe(turnedAway);
    // the purge that held the lock went on once the rows were free; the one turned away deletes the rest now
    let deleted = ra.tasks_deleted + rb.tasks_deleted;
    for (const [store, result] of [[a, ra], [b, rb]] as const) {
      if (result.busy) deleted += (await store.purgeExpiredTasks({ ...purge(10), exclusive: true })).tasks_deleted;
    }
    expect(deleted).toBe(5);
    expect(await db.tasks(a, { status: 'completed' })).toEqual([]);
    for (const id of ids) expect(await db.events(a, { task_id: id })).toEqual([]);
    expect((await db.tasks(a)).length).toBe(300);
  });
}
