import { DuplicateTaskError, type NewTask, type Store } from '@taskmill/contracts';
import { expect } from 'vitest';
import { newTask, T0 } from '../fixtures.js';
import type { SuiteContext } from '../suite-context.js';

/** A unique task (scope `unfinished` unless given). */
function unique(key: string, overrides: Partial<NewTask> = {}): NewTask {
  return newTask({ unique_key: key, unique_scope: 'unfinished', ...overrides });
}

async function claimOne(store: Store, name = 'job', now = T0) {
  const [task] = await store.claimTasks({ worker_id: 'w1', now, limit: 1, names: [name] });
  expect(task, 'a task to claim').toBeDefined();
  return task;
}

/** Unique tasks (issue 13): one holder per (name, key) while its scope lasts; race-free via a UNIQUE index. */
export function defineUniqueTests({ test, open, peer, db }: SuiteContext): void {
  test('unique: a duplicate returns the holder id and writes no second row or event', async () => {
    const store = await open();
    const [first] = await store.createTasks([unique('k1')], T0);
    const before = await db.snapshot(store);
    const [again] = await store.createTasks([unique('k1', { payload: '{"other":true}' })], T0 + 5);
    expect(again).toBe(first);
    expect(await db.snapshot(store)).toEqual(before);
    const task = await store.getTask(first);
    expect(task).toMatchObject({ unique_key: 'k1', unique_scope: 'unfinished', unique_until: null, payload: null });
    expect(String((await db.rawTask(store, first))?.unique_slot)).toBe('k1'); // bytes on MySQL
  });

  test('unique: the key is per task name, and a plain task is never a duplicate', async () => {
    const store = await open();
    const [a] = await store.createTasks([unique('k')], T0);
    const [b] = await store.createTasks([unique('k', { name: 'other' })], T0);
    const [c, d] = await store.createTasks([newTask(), newTask()], T0);
    expect(new Set([a, b, c, d]).size).toBe(4);
  });

  test('unique: keys compare byte-wise on every store (case, accents and trailing spaces count)', async () => {
    const store = await open();
    const keys = ['ABC', 'abc', 'abc ', 'ábc'];
    const ids = await store.createTasks(keys.map((key) => unique(key)), T0);
    expect(new Set(ids).size).toBe(keys.length);
    expect(await store.createTasks(keys.map((key) => unique(key)), T0 + 1)).toEqual(ids);
  });

  test("unique: on_duplicate 'error' throws DuplicateTaskError with the holder id, and the whole call writes nothing", async () => {
    const store = await open();
    const [holder] = await store.createTasks([unique('k')], T0);
    const before = await db.snapshot(store);
    const error = await store
      .createTasks([newTask({ name: 'plain' }), unique('fresh'), unique('k', { on_duplicate: 'error' })], T0)
      .then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(DuplicateTaskError);
    expect(error).toMatchObject({ taskId: holder, uniqueKey: 'k', taskName: 'job', code: 'TASKMILL_DUPLICATE_TASK' });
    expect(await db.snapshot(store)).toEqual(before);
  });

  test('unique: duplicates inside one createTasks get the first one’s id, one row and one event', async () => {
    const store = await open();
    const ids = await store.createTasks([unique('a'), newTask(), unique('a'), unique('b'), unique('a')], T0);
    expect(ids[2]).toBe(ids[0]);
    expect(ids[4]).toBe(ids[0]);
    expect(new Set(ids).size).toBe(3);
    expect(await db.tasks(store)).toHaveLength(3);
    expect(await db.eventTypes(store, ids[0])).toEqual(['task_created']);
    const error = await store.createTasks([unique('c'), unique('c', { on_duplicate: 'error' })], T0).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(DuplicateTaskError);
    expect(await db.tasks(store)).toHaveLength(3);
  });

  test("unique: scope 'pending' releases the key at the first claim", async () => {
    const store = await open();
    const [first] = await store.createTasks([unique('p', { unique_scope: 'pending' })], T0);
    expect((await store.createTasks([unique('p', { unique_scope: 'pending' })], T0))[0]).toBe(first);
    await claimOne(store);
    expect((await db.rawTask(store, first))?.unique_slot).toBeNull();
    const [second] = await store.createTasks([unique('p', { unique_scope: 'pending' })], T0 + 1);
    expect(second).not.toBe(first);
    expect((await store.getTask(first))?.unique_key).toBe('p');
  });

  test("unique: scope 'pending' releases the key when paused", async () => {
    const store = await open();
    const [first] = await store.createTasks([unique('p', { unique_scope: 'pending' })], T0);
    await store.pauseTask(first, T0 + 1);
    expect((await store.createTasks([unique('p', { unique_scope: 'pending' })], T0 + 2))[0]).not.toBe(first);
  });

  test("unique: scope 'unfinished' holds through running and retries, and releases at completion", async () => {
    const store = await open();
    const [first] = await store.createTasks([unique('u')], T0);
    let task = await claimOne(store);
    expect((await store.createTasks([unique('u')], T0 + 1))[0]).toBe(first);
    await store.finishAttempt({ task_id: first, worker_id: 'w1', attempt: task.attempt }, { kind: 'failed', status: 'failed', error: 'boom' }, T0 + 2);
    expect((await store.createTasks([unique('u')], T0 + 3))[0]).toBe(first);
    task = await claimOne(store, 'job', T0 + 10);
    await store.finishAttempt({ task_id: first, worker_id: 'w1', attempt: task.attempt }, { kind: 'completed', result: null }, T0 + 11);
    expect((await db.rawTask(store, first))?.unique_slot).toBeNull();
    const [second] = await store.createTasks([unique('u')], T0 + 12);
    expect(second).not.toBe(first);
  });

  test("unique: scope 'unfinished' releases the key when cancelled or permanently failed", async () => {
    const store = await open();
    const [first] = await store.createTasks([unique('c')], T0);
    await store.cancelTask(first, {}, T0 + 1);
    const [second] = await store.createTasks([unique('c', { max_retries: 1 })], T0 + 2);
    expect(second).not.toBe(first);
    const task = await claimOne(store, 'job', T0 + 3);
    await store.finishAttempt({ task_id: second, worker_id: 'w1', attempt: task.attempt }, { kind: 'failed', status: 'failed', error: 'x' }, T0 + 4);
    expect((await store.getTask(second))?.status).toBe('permanently_failed');
    const [third] = await store.createTasks([unique('c')], T0 + 5);
    expect(new Set([first, second, third]).size).toBe(3);
  });

  test("unique: scope 'period' holds until unique_until, through completion, then a new task takes the key", async () => {
    const store = await open();
    const until = T0 + 60_000;
    const [first] = await store.createTasks([unique('w', { unique_scope: 'period', unique_until: until })], T0);
    const task = await claimOne(store);
    await store.finishAttempt({ task_id: first, worker_id: 'w1', attempt: task.attempt }, { kind: 'completed', result: null }, T0 + 1);
    expect(String((await db.rawTask(store, first))?.unique_slot)).toBe('w');
    expect((await store.createTasks([unique('w', { unique_scope: 'period', unique_until: until + 60_000 })], until - 1))[0]).toBe(first);
    const [second] = await store.createTasks([unique('w', { unique_scope: 'period', unique_until: until + 60_000 })], until);
    expect(second).not.toBe(first);
    expect((await db.rawTask(store, first))?.unique_slot).toBeNull();
    expect(String((await db.rawTask(store, second))?.unique_slot)).toBe('w');
    expect(await db.eventTypes(store, second)).toEqual(['task_created']);
  });

  test('unique: an operator retry of a permanently failed task takes its key back', async () => {
    const store = await open();
    const [first] = await store.createTasks([unique('r', { max_retries: 1 })], T0);
    const task = await claimOne(store);
    await store.finishAttempt({ task_id: first, worker_id: 'w1', attempt: task.attempt }, { kind: 'failed', status: 'failed', error: 'x' }, T0 + 1);
    expect((await db.rawTask(store, first))?.unique_slot).toBeNull();
    expect(await store.retryTask(first, T0 + 2)).toMatchObject({ status: 'pending' });
    expect(String((await db.rawTask(store, first))?.unique_slot)).toBe('r');
    expect(await store.createTasks([unique('r')], T0 + 3)).toEqual([first]);
  });

  test('unique: an operator retry or resume whose key another task took meanwhile is a DuplicateTaskError and changes nothing', async () => {
    const store = await open();
    const [first] = await store.createTasks([unique('t', { max_retries: 1 })], T0);
    const task = await claimOne(store);
    await store.finishAttempt({ task_id: first, worker_id: 'w1', attempt: task.attempt }, { kind: 'failed', status: 'failed', error: 'x' }, T0 + 1);
    const [second] = await store.createTasks([unique('t')], T0 + 2);
    const before = await db.snapshot(store);
    const refused = await store.retryTask(first, T0 + 3).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(DuplicateTaskError);
    expect((refused as DuplicateTaskError).taskId).toBe(second);
    expect(await db.snapshot(store)).toEqual(before);
    // scope 'pending': a paused task released its key; resuming it while another waits is refused too
    const [paused] = await store.createTasks([unique('p', { name: 'other', unique_scope: 'pending' })], T0);
    await store.pauseTask(paused, T0 + 1);
    const [waiting] = await store.createTasks([unique('p', { name: 'other', unique_scope: 'pending' })], T0 + 2);
    await expect(store.resumeTask(paused, {}, T0 + 3)).rejects.toBeInstanceOf(DuplicateTaskError);
    expect((await store.getTask(paused))?.status).toBe('paused');
    // once the other one is claimed, the resume takes the key back
    await claimOne(store, 'other', T0 + 4);
    expect((await store.getTask(waiting))?.status).toBe('running');
    expect(await store.resumeTask(paused, {}, T0 + 5)).toMatchObject({ status: 'pending' });
    expect(await store.createTasks([unique('p', { name: 'other', unique_scope: 'pending' })], T0 + 6)).toEqual([paused]);
  });

  test('unique: deleting the holder frees the key', async () => {
    const store = await open();
    const [first] = await store.createTasks([unique('d')], T0);
    expect(await store.deleteTasks({ name: 'job' })).toBe(1);
    const [second] = await store.createTasks([unique('d')], T0);
    expect(second).not.toBe(first);
  });

  test('unique: concurrent enqueues of one key from two stores make exactly one task', async () => {
    const store = await open();
    const other = await peer(store);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? store : other).createTasks([unique('race'), newTask({ name: 'plain' })], T0)),
    );
    const ids = new Set(results.map(([id]) => id));
    expect(ids.size).toBe(1);
    expect(await db.tasks(store, { name: 'job' })).toHaveLength(1);
    expect(await db.events(store, { task_id: [...ids][0] })).toHaveLength(1);
    expect(await db.tasks(store, { name: 'plain' })).toHaveLength(20);
  });
}
