import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Store, Task } from '@taskmill/contracts';
import { eventRow } from '@taskmill/store-kit';
import { newTask, T0 } from '@taskmill/store-testkit';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import * as claim from '../src/claim.js';
import { SqliteConnection } from '../src/connection.js';
import { createSqliteStore } from '../src/index.js';
import { migrate } from '../src/migrate.js';
import * as names from '../src/names.js';
import * as taskRows from '../src/task-rows.js';

/*
 * The flow-control statements of the SQLite store (docs/behaviour.md#flow-control), each against
 * its StoreWriter doc on small data, and what the store writes for them (keys, attempt names,
 * pause rows and their events).
 */

const dirs: string[] = [];
const stores: Store[] = [];
const connections: SqliteConnection[] = [];

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'taskmill-sqlite-flow-'));
  dirs.push(dir);
  return join(dir, 'taskmill.db');
}

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (const connection of connections.splice(0)) connection.close();
});

afterAll(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A migrated in-memory database, to call the statements on directly. */
function database(): SqliteConnection {
  const sql = new SqliteConnection({ path: ':memory:' });
  migrate(sql);
  connections.push(sql);
  return sql;
}

interface Row {
  name?: string;
  key?: string | null;
  status?: string;
  due?: number;
  priority?: number;
}

/** Insert a task row as given (any status); its id. */
function add(sql: SqliteConnection, { name = 'job', key = null, status = 'pending', due = T0, priority = 0 }: Row = {}): number {
  return Number(
    sql.run(
      `INSERT INTO taskmill_tasks (name, type, priority, created_at, status, next_run_time, concurrency_key)
       VALUES (?, 'async', ?, ?, ?, ?, ?)`,
      name,
      priority,
      T0,
      status,
      due,
      key,
    ).lastInsertRowid,
  );
}

const ids = (tasks: Task[]) => tasks.map((task) => task.id);
const ofKey = (tasks: Task[], key: string) => ids(tasks.filter((task) => task.concurrency_key === key));

describe('keyedCandidates and unkeyedCandidates', () => {
  /**
   * Keys of `job`: `a` (three due in a known claim order, one not due, one completed, one
   * running), `b` (only a task not due yet), `c` (no claimable task at all), `d` (a due failed and
   * a due timed-out task), `e` (one due); unkeyed tasks; and `other`, a name whose keys must never
   * show up (`bb` sorts between `job`'s `b` and `d`).
   */
  function fixture() {
    const sql = database();
    const t = {
      a1: add(sql, { key: 'a', due: T0 - 10 }),
      a2: add(sql, { key: 'a', priority: 5, due: T0 }),
      a3: add(sql, { key: 'a', priority: 5, due: T0 - 1 }),
      a4: add(sql, { key: 'a', priority: 9, due: T0 + 1000 }),
      a5: add(sql, { key: 'a', priority: 9, status: 'completed', due: T0 - 100 }),
      a6: add(sql, { key: 'a', priority: 9, status: 'running', due: T0 - 100 }),
      b1: add(sql, { key: 'b', due: T0 + 5 }),
      c: ['running', 'completed', 'paused', 'suspended', 'permanently_failed'].map((status) => add(sql, { key: 'c', status, due: T0 - 100 })),
      d1: add(sql, { key: 'd', status: 'failed', due: T0 - 3 }),
      d2: add(sql, { key: 'd', status: 'timeout', due: T0 - 2 }),
      d3: add(sql, { key: 'd', status: 'completed', due: T0 - 100 }),
      e1: add(sql, { key: 'e', due: T0 }),
      u1: add(sql, { due: T0 - 5 }),
      u2: add(sql, { status: 'failed', priority: 1, due: T0 }),
      u3: add(sql, { due: T0 + 1 }),
      u4: add(sql, { status: 'running', priority: 9, due: T0 - 100 }),
      oa: add(sql, { name: 'other', key: 'a', priority: 9, due: T0 - 100 }),
      obb: add(sql, { name: 'other', key: 'bb', priority: 9, due: T0 - 100 }),
    };
    return { sql, t };
  }

  it('visits the keys of claimable tasks in key order, also keys without a due task, never keys of other names or statuses', async () => {
    const { sql, t } = fixture();
    const { keys, tasks } = await claim.keyedCandidates(sql, 'job', T0, null, 10, 10);
    expect(keys).toEqual(['a', 'b', 'd', 'e']);
    expect(ids(tasks).sort((x, y) => x - y)).toEqual([t.a1, t.a2, t.a3, t.d1, t.d2, t.e1]);
    // each key's due tasks in claim order: priority DESC, next_run_time, id
    expect(ofKey(tasks, 'a')).toEqual([t.a3, t.a2, t.a1]);
    expect(tasks.every((task) => task.name === 'job' && ['pending', 'failed', 'timeout'].includes(task.status) && task.next_run_time <= T0)).toBe(true);
  });

  it('goes on after `after` (exclusive), also from a key that no longer exists, and stops after `visit` keys', async () => {
    const { sql, t } = fixture();
    expect(await claim.keyedCandidates(sql, 'job', T0, 'a', 2, 10)).toEqual({ keys: ['b', 'd'], tasks: expect.any(Array) });
    expect(ids((await claim.keyedCandidates(sql, 'job', T0, 'a', 2, 10)).tasks).sort((x, y) => x - y)).toEqual([t.d1, t.d2]);
    expect((await claim.keyedCandidates(sql, 'job', T0, 'b', 10, 10)).keys).toEqual(['d', 'e']);
    expect((await claim.keyedCandidates(sql, 'job', T0, 'bz', 10, 10)).keys).toEqual(['d', 'e']);
    expect((await claim.keyedCandidates(sql, 'job', T0, null, 1, 10)).keys).toEqual(['a']);
    expect(await claim.keyedCandidates(sql, 'job', T0, 'e', 10, 10)).toEqual({ keys: [], tasks: [] });
    expect(await claim.keyedCandidates(sql, 'job', T0, null, 0, 10)).toEqual({ keys: [], tasks: [] });
    expect(await claim.keyedCandidates(sql, 'nobody', T0, null, 10, 10)).toEqual({ keys: [], tasks: [] });
  });

  it('takes each key’s first `perKey` due tasks in claim order', async () => {
    const { sql, t } = fixture();
    const two = (await claim.keyedCandidates(sql, 'job', T0, null, 10, 2)).tasks;
    expect(ofKey(two, 'a')).toEqual([t.a3, t.a2]);
    expect(ofKey(two, 'd')).toEqual([t.d1, t.d2]);
    const one = (await claim.keyedCandidates(sql, 'job', T0, null, 10, 1)).tasks;
    expect(ids(one).sort((x, y) => x - y)).toEqual([t.a3, t.d1, t.e1]);
    // later, the tasks not due before are due and come first by priority
    const later = (await claim.keyedCandidates(sql, 'job', T0 + 1000, null, 10, 1)).tasks;
    expect(ids(later).sort((x, y) => x - y)).toEqual([t.a4, t.b1, t.d1, t.e1]);
  });

  it('unkeyedCandidates: due claimable tasks of the name without a key, in claim order, at most `limit`', async () => {
    const { sql, t } = fixture();
    expect(ids(await claim.unkeyedCandidates(sql, 'job', T0, 10))).toEqual([t.u2, t.u1]);
    expect(ids(await claim.unkeyedCandidates(sql, 'job', T0, 1))).toEqual([t.u2]);
    expect(ids(await claim.unkeyedCandidates(sql, 'job', T0 + 1, 10))).toEqual([t.u2, t.u1, t.u3]);
    expect(await claim.unkeyedCandidates(sql, 'other', T0, 10)).toEqual([]);
  });
});

describe('countStarts and countRunningByKey', () => {
  function attempt(sql: SqliteConnection, name: string | null, startedAt: number, taskId = 1): void {
    sql.run(`INSERT INTO taskmill_task_attempts (task_id, name, attempt, worker_id, started_at) VALUES (?, ?, 1, 'w', ?)`, taskId, name, startedAt);
  }

  it('counts the name’s starts after `since` (exclusive) and finds the max-th latest of them', async () => {
    const sql = database();
    for (let i = 1; i <= 10; i += 1) attempt(sql, 'job', T0 + i);
    attempt(sql, 'other', T0 + 5);
    attempt(sql, null, T0 + 5); // a row written before attempts had a name
    expect(await claim.countStarts(sql, 'job', T0, 3)).toEqual({ count: 10, max_th_latest: T0 + 8 });
    expect(await claim.countStarts(sql, 'job', T0, 1)).toEqual({ count: 10, max_th_latest: T0 + 10 });
    expect(await claim.countStarts(sql, 'job', T0 + 5, 3)).toEqual({ count: 5, max_th_latest: T0 + 8 });
    expect(await claim.countStarts(sql, 'job', T0 + 5, 5)).toEqual({ count: 5, max_th_latest: T0 + 6 });
    expect(await claim.countStarts(sql, 'job', T0 + 5, 6)).toEqual({ count: 5, max_th_latest: null });
    expect(await claim.countStarts(sql, 'job', T0 + 10, 1)).toEqual({ count: 0, max_th_latest: null });
    expect(await claim.countStarts(sql, 'nobody', 0, 1)).toEqual({ count: 0, max_th_latest: null });
  });

  it('counts running tasks of the name per non-null key', async () => {
    const sql = database();
    add(sql, { key: 'a', status: 'running' });
    add(sql, { key: 'a', status: 'running' });
    add(sql, { key: 'b', status: 'running' });
    add(sql, { key: 'b', status: 'pending' });
    add(sql, { key: 'c', status: 'completed' });
    add(sql, { status: 'running' });
    add(sql, { name: 'other', key: 'a', status: 'running' });
    expect(await claim.countRunningByKey(sql, 'job')).toEqual({ a: 2, b: 1 });
    expect(await claim.countRunningByKey(sql, 'nobody')).toEqual({});
  });
});

describe('paused names and events without a task', () => {
  it('inserts a pause once, lists it, finds it among names, deletes it once', async () => {
    const sql = database();
    expect(await names.insertPausedName(sql, { name: 'job', paused_at: T0, paused_by: 'ops', reason: 'incident' })).toBe(true);
    expect(await names.insertPausedName(sql, { name: 'job', paused_at: T0 + 1, paused_by: null, reason: null })).toBe(false);
    expect(await names.insertPausedName(sql, { name: 'alpha', paused_at: T0 + 2, paused_by: null, reason: null })).toBe(true);
    expect(await names.selectPausedNames(sql)).toEqual([
      { name: 'alpha', paused_at: T0 + 2, paused_by: null, reason: null },
      { name: 'job', paused_at: T0, paused_by: 'ops', reason: 'incident' },
    ]);
    expect((await claim.pausedAmong(sql, ['x', 'job', 'y', 'alpha'])).sort()).toEqual(['alpha', 'job']);
    expect(await claim.pausedAmong(sql, ['x'])).toEqual([]);
    expect(await claim.pausedAmong(sql, [])).toEqual([]);
    expect(await names.deletePausedName(sql, 'job')).toBe(true);
    expect(await names.deletePausedName(sql, 'job')).toBe(false);
    expect(await claim.pausedAmong(sql, ['job', 'alpha'])).toEqual(['alpha']);
  });

  it('insertEvents writes rows with task_id 0 and returns their ids in order', async () => {
    const sql = database();
    const row = (type: 'name_paused' | 'name_resumed', time: number) =>
      eventRow({
        task_id: 0,
        root_id: null,
        parent_id: null,
        event_type: type,
        from_status: null,
        to_status: null,
        stage: null,
        worker_id: null,
        attempt: null,
        event_time: time,
        message: null,
        metadata: { name: 'job', by: null },
      });
    const eventIds = await taskRows.insertEvents(sql, [row('name_paused', T0), row('name_resumed', T0 + 1)]);
    expect(eventIds).toHaveLength(2);
    expect(eventIds[1]).toBeGreaterThan(eventIds[0]);
    expect(sql.all('SELECT id, task_id, event_type, event_time, metadata FROM taskmill_task_events ORDER BY id')).toEqual([
      { id: eventIds[0], task_id: 0, event_type: 'name_paused', event_time: T0, metadata: '{"name":"job","by":null}' },
      { id: eventIds[1], task_id: 0, event_type: 'name_resumed', event_time: T0 + 1, metadata: '{"name":"job","by":null}' },
    ]);
    expect(await taskRows.insertEvents(sql, [])).toEqual([]);
  });
});

describe('the store writes the flow-control columns', () => {
  async function store(): Promise<{ store: Store; file: string }> {
    const file = tempFile();
    const made = createSqliteStore({ path: file });
    stores.push(made);
    await made.setup();
    return { store: made, file };
  }

  const raw = (file: string, text: string) => {
    const db = new Database(file, { readonly: true });
    try {
      return db.prepare(text).all();
    } finally {
      db.close();
    }
  };

  it('stores concurrency_key with createTasks (with and without a key) and createTasksWithin; a claim records the name on the attempt', async () => {
    const { store: s, file } = await store();
    const [keyed, plain] = await s.createTasks([newTask({ concurrency_key: 'tenant-1' }), newTask()], T0);
    expect((await s.getTask(keyed))?.concurrency_key).toBe('tenant-1');
    expect((await s.getTask(plain))?.concurrency_key).toBeNull();

    const app = new Database(file);
    try {
      let within: Promise<number[]> | undefined;
      app.transaction(() => {
        within = s.createTasksWithin!(app, [newTask({ name: 'app', concurrency_key: 'tenant-2' })], T0);
      })();
      const [id] = await within!;
      expect((await s.getTask(id))?.concurrency_key).toBe('tenant-2');
    } finally {
      app.close();
    }

    await s.claimTasks({ worker_id: 'w1', now: T0, limit: 10, names: ['job', 'app'] });
    expect(raw(file, 'SELECT task_id, name FROM taskmill_task_attempts ORDER BY task_id')).toEqual([
      { task_id: keyed, name: 'job' },
      { task_id: plain, name: 'job' },
      { task_id: 3, name: 'app' },
    ]);
  });

  it('pauses and resumes a name with events of task 0; a paused name is not claimed', async () => {
    const { store: s, file } = await store();
    await s.createTasks([newTask(), newTask({ name: 'other' })], T0);
    expect(await s.pauseName('job', { by: 'ops', reason: 'incident' }, T0)).toEqual({
      changed: true,
      pause: { name: 'job', paused_at: T0, paused_by: 'ops', reason: 'incident' },
    });
    expect((await s.pauseName('job', {}, T0 + 1)).changed).toBe(false);
    expect(await s.listPausedNames()).toEqual([{ name: 'job', paused_at: T0, paused_by: 'ops', reason: 'incident' }]);
    expect((await s.claimTasks({ worker_id: 'w1', now: T0, limit: 10, names: ['job', 'other'] })).map((task) => task.name)).toEqual(['other']);
    expect(await s.resumeName('job', { by: 'ops' }, T0 + 2)).toBe(true);
    expect(await s.resumeName('job', {}, T0 + 3)).toBe(false);
    expect((await s.claimTasks({ worker_id: 'w1', now: T0, limit: 10, names: ['job'] })).map((task) => task.name)).toEqual(['job']);
    expect(raw(file, 'SELECT task_id, event_type, event_time FROM taskmill_task_events WHERE task_id = 0 ORDER BY id')).toEqual([
      { task_id: 0, event_type: 'name_paused', event_time: T0 },
      { task_id: 0, event_type: 'name_resumed', event_time: T0 + 2 },
    ]);
  });

  it('claims a keyed name key by key under its per-key limit, and holds a rate-limited name to its window', async () => {
    const { store: s } = await store();
    await s.createTasks(
      ['k1', 'k1', 'k1', 'k2', 'k2', 'k3'].map((key) => newTask({ concurrency_key: key })),
      T0,
    );
    const first = await s.claimBatch({ worker_id: 'w1', now: T0, limit: 10, names: ['job'], key_limits: { job: 1 } });
    expect(first.tasks.map((task) => task.concurrency_key).sort()).toEqual(['k1', 'k2', 'k3']);
    const second = await s.claimBatch({ worker_id: 'w1', now: T0, limit: 10, names: ['job'], key_limits: { job: 1 } });
    expect(second.tasks).toEqual([]);

    await s.createTasks([newTask({ name: 'rated' }), newTask({ name: 'rated' }), newTask({ name: 'rated' })], T0);
    const rated = await s.claimBatch({ worker_id: 'w1', now: T0 + 10, limit: 10, names: ['rated'], rate_limits: { rated: { max: 2, per_ms: 1000 } } });
    expect(rated.tasks).toHaveLength(2);
    const held = await s.claimBatch({ worker_id: 'w1', now: T0 + 20, limit: 10, names: ['rated'], rate_limits: { rated: { max: 2, per_ms: 1000 } } });
    expect(held.tasks).toEqual([]);
    // a limited claim records its start at its `now` plus the time it took (docs/behaviour.md#flow-control)
    expect(held.retry_at).toBeGreaterThanOrEqual(T0 + 1010);
    expect(held.retry_at).toBeLessThan(T0 + 1510);
  });
});
