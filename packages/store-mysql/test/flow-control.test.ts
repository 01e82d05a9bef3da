import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLAIMABLE_STATUSES, TASK_STATUSES, type Store, type Task, type TaskStatus } from '@taskmill/contracts';
import { eventRow } from '@taskmill/store-kit';
import { T0, newTask } from '@taskmill/store-testkit';
import { drizzle } from 'drizzle-orm/mysql2';
import { migrate } from 'drizzle-orm/mysql2/migrator';
import mysql from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { countRunningByKey, countStarts, keyedCandidates, pausedAmong, unkeyedCandidates } from '../src/claim.js';
import { openConnection, type MysqlConnection } from '../src/connection.js';
import { createMysqlStore } from '../src/index.js';
import { deletePausedName, insertPausedName, selectPausedNames } from '../src/names.js';
import { insertEvents } from '../src/task-rows.js';
import { inTransaction, type Conn } from '../src/transaction.js';
import { adminOptions, describeServer, TestDatabases, urlFor } from './mysql-harness.js';

/*
 * The flow-control statements (docs/behaviour.md#flow-control) on small data, called directly
 * inside a store transaction: what each returns, what it locks, and what the migration wrote.
 * Their plans on a large queue are in flow-control-plans.test.ts.
 */

/**
 * Migrate database `db` to the version just before the first migration whose SQL contains `marker`
 * (found by content, not number, so migrations added later do not move it), then run `seed` on a
 * connection to it: rows as an older store left them, for the upgrade tests.
 */
async function migrateBefore(db: string, marker: string, seed: (pool: mysql.Pool) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tm-migrations-'));
  try {
    cpSync(new URL('../drizzle', import.meta.url), dir, { recursive: true });
    const journal = JSON.parse(readFileSync(join(dir, 'meta/_journal.json'), 'utf8')) as { entries: { tag: string }[] };
    const adds = journal.entries.findIndex((entry) => readFileSync(join(dir, `${entry.tag}.sql`), 'utf8').includes(marker));
    expect(adds).toBeGreaterThan(0);
    for (const entry of journal.entries.slice(adds)) rmSync(join(dir, `${entry.tag}.sql`));
    journal.entries = journal.entries.slice(0, adds);
    writeFileSync(join(dir, 'meta/_journal.json'), JSON.stringify(journal));
    const pool = mysql.createPool({ ...adminOptions(), database: db, connectionLimit: 1 });
    try {
      await migrate(drizzle({ client: pool }), { migrationsFolder: dir, migrationsTable: 'taskmill_migrations' });
      await seed(pool);
    } finally {
      await pool.end();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await describeServer('MySQL flow-control statements', () => {
  const dbs = new TestDatabases();
  const stores: Store[] = [];
  const connections: MysqlConnection[] = [];

  afterAll(async () => {
    for (const store of stores) await store.close().catch(() => {});
    for (const connection of connections) await connection.close().catch(() => {});
    await dbs.cleanup();
  });

  /** A store on a fresh database, and a way to run statements in one of its transactions. */
  async function fresh(): Promise<{ store: Store; db: string; tx: <T>(work: (conn: Conn) => Promise<T>) => Promise<T> }> {
    const store = await dbs.store();
    stores.push(store);
    const db = dbs.database(store);
    const connection = openConnection(urlFor(db));
    connections.push(connection);
    return { store, db, tx: (work) => inTransaction(connection, 'test', work) };
  }

  /** Set the status of tasks by id, bypassing the store. */
  async function setStatus(db: string, ids: number[], status: TaskStatus): Promise<void> {
    await dbs.query(`UPDATE \`${db}\`.taskmill_tasks SET status = ? WHERE id IN (?)`, [status, ids]);
  }

  const keyed = (key: string | null, more: Parameters<typeof newTask>[0] = {}) => newTask({ name: 'kjob', concurrency_key: key, ...more });
  const ids = (tasks: Task[]) => tasks.map((task) => task.id).sort((a, b) => a - b);

  it('pause rows: insert once (then false), list by name, pausedAmong, delete once (then false)', async () => {
    const { tx } = await fresh();
    expect(await tx((conn) => insertPausedName(conn, { name: 'b', paused_at: T0, paused_by: 'ops', reason: 'why' }))).toBe(true);
    expect(await tx((conn) => insertPausedName(conn, { name: 'b', paused_at: T0 + 1, paused_by: null, reason: null }))).toBe(false);
    expect(await tx((conn) => insertPausedName(conn, { name: 'a', paused_at: T0 + 2, paused_by: null, reason: null }))).toBe(true);
    // the duplicate left the first row as it was
    const listed = await tx((conn) => selectPausedNames(conn));
    expect(listed.map((row) => [row.name, Number(row.paused_at), row.paused_by, row.reason])).toEqual([
      ['a', T0 + 2, null, null],
      ['b', T0, 'ops', 'why'],
    ]);
    expect((await tx((conn) => pausedAmong(conn, ['a', 'c', 'b', 'B']))).sort()).toEqual(['a', 'b']);
    expect(await tx((conn) => pausedAmong(conn, []))).toEqual([]);
    expect(await tx((conn) => deletePausedName(conn, 'b'))).toBe(true);
    expect(await tx((conn) => deletePausedName(conn, 'b'))).toBe(false);
    expect(await tx((conn) => pausedAmong(conn, ['a', 'b']))).toEqual(['a']);
  });

  it('pauseName / resumeName through the store: events of task 0, and a paused name is not claimed', async () => {
    const { store, db } = await fresh();
    await store.createTasks([newTask({ name: 'p' }), newTask({ name: 'q' })], T0);
    expect((await store.pauseName('p', { by: 'ops', reason: 'maintenance' }, T0)).changed).toBe(true);
    expect((await store.pauseName('p', {}, T0 + 1)).changed).toBe(false);
    expect((await store.listPausedNames()).map((pause) => pause.name)).toEqual(['p']);
    const claimed = await store.claimTasks({ worker_id: 'w', now: T0, limit: 5, names: ['p', 'q'] });
    expect(claimed.map((task) => task.name)).toEqual(['q']);
    expect(await store.resumeName('p', { by: 'ops' }, T0 + 2)).toBe(true);
    expect(await store.resumeName('p', {}, T0 + 3)).toBe(false);
    const events = (await dbs.query(`SELECT task_id, event_type, metadata FROM \`${db}\`.taskmill_task_events WHERE task_id = 0 ORDER BY id`)) as {
      task_id: number;
      event_type: string;
      metadata: string;
    }[];
    expect(events.map((e) => [Number(e.task_id), e.event_type, JSON.parse(e.metadata)])).toEqual([
      [0, 'name_paused', { name: 'p', by: 'ops' }],
      [0, 'name_resumed', { name: 'p', by: 'ops' }],
    ]);
    expect((await store.claimTasks({ worker_id: 'w', now: T0, limit: 5, names: ['p'] })).map((task) => task.name)).toEqual(['p']);
  });

  it('insertEvents writes one multi-row INSERT and returns the ids in order', async () => {
    const { db, tx } = await fresh();
    const draft = (message: string) =>
      eventRow({
        task_id: 0,
        root_id: null,
        parent_id: null,
        event_type: 'name_paused',
        from_status: null,
        to_status: null,
        stage: null,
        worker_id: null,
        attempt: null,
        event_time: T0,
        message,
        metadata: { name: message },
      });
    const got = await tx((conn) => insertEvents(conn, [draft('x'), draft('y'), draft('z')]));
    expect(got).toHaveLength(3);
    const rows = (await dbs.query(`SELECT id, message FROM \`${db}\`.taskmill_task_events ORDER BY id`)) as { id: number; message: string }[];
    expect(rows.map((row) => [Number(row.id), row.message])).toEqual([
      [got[0], 'x'],
      [got[1], 'y'],
      [got[2], 'z'],
    ]);
  });

  it('task inserts write concurrency_key (plain, unique and in an application transaction); a claim writes the attempt name', async () => {
    const { store, db } = await fresh();
    const [plain, none] = await store.createTasks([keyed('tenant-1'), keyed(null)], T0);
    const [unique] = await store.createTasks([keyed('tenant-2', { unique_key: 'u' })], T0);
    const conn = await mysql.createConnection({ ...adminOptions(), database: db });
    let within: number;
    try {
      await conn.beginTransaction();
      [within] = await store.createTasksWithin!(conn, [keyed('tenant-3')], T0);
      await conn.commit();
    } finally {
      await conn.end();
    }
    const rows = (await dbs.query(`SELECT id, concurrency_key FROM \`${db}\`.taskmill_tasks ORDER BY id`)) as { id: number; concurrency_key: string | null }[];
    expect(rows.map((row) => [Number(row.id), row.concurrency_key])).toEqual([
      [plain, 'tenant-1'],
      [none, null],
      [unique, 'tenant-2'],
      [within!, 'tenant-3'],
    ]);
    expect((await store.getTask(plain))?.concurrency_key).toBe('tenant-1');
    const claimed = await store.claimTasks({ worker_id: 'w', now: T0, limit: 10, names: ['kjob'] });
    expect(claimed).toHaveLength(4);
    const attempts = (await dbs.query(`SELECT DISTINCT name FROM \`${db}\`.taskmill_task_attempts`)) as { name: string }[];
    expect(attempts.map((row) => row.name)).toEqual(['kjob']);
  });

  it("claim_key is NULL unless the task is claimable, '' without a key, 'k' + the key's bytes with one", async () => {
    const { store, db } = await fresh();
    const statuses = TASK_STATUSES;
    const made = await store.createTasks(
      statuses.flatMap(() => [keyed('a '), keyed(null)]),
      T0,
    );
    for (const [i, status] of statuses.entries()) await setStatus(db, made.slice(2 * i, 2 * i + 2), status);
    const rows = (await dbs.query(`SELECT status, concurrency_key, HEX(claim_key) AS ck FROM \`${db}\`.taskmill_tasks ORDER BY id`)) as {
      status: string;
      concurrency_key: string | null;
      ck: string | null;
    }[];
    for (const row of rows) {
      const claimable = (CLAIMABLE_STATUSES as readonly string[]).includes(row.status);
      const expected = !claimable ? null : row.concurrency_key === null ? '' : Buffer.from(`k${row.concurrency_key}`).toString('hex').toUpperCase();
      expect([row.status, row.concurrency_key, row.ck]).toEqual([row.status, row.concurrency_key, expected]);
    }
  });

  it('countStarts: starts of the name after `since`, and the max-th latest of them (null when fewer)', async () => {
    const { db, tx } = await fresh();
    const starts = [T0 + 10, T0 + 20, T0 + 30, T0 + 40, T0 + 50];
    for (const [i, at] of starts.entries()) {
      await dbs.query(`INSERT INTO \`${db}\`.taskmill_task_attempts (task_id, name, attempt, started_at) VALUES (?, 'r', 1, ?)`, [i + 1, at]);
    }
    // other names, and attempts recorded before the column existed, never count
    await dbs.query(`INSERT INTO \`${db}\`.taskmill_task_attempts (task_id, name, attempt, started_at) VALUES (9, 'R', 1, ?), (9, NULL, 2, ?)`, [T0 + 45, T0 + 46]);
    expect(await tx((conn) => countStarts(conn, 'r', T0 + 20, 2))).toEqual({ count: 3, max_th_latest: T0 + 40 });
    expect(await tx((conn) => countStarts(conn, 'r', T0 + 20, 1))).toEqual({ count: 3, max_th_latest: T0 + 50 });
    expect(await tx((conn) => countStarts(conn, 'r', T0 + 20, 3))).toEqual({ count: 3, max_th_latest: T0 + 30 });
    expect(await tx((conn) => countStarts(conn, 'r', T0 + 20, 4))).toEqual({ count: 3, max_th_latest: null });
    expect(await tx((conn) => countStarts(conn, 'r', T0 + 50, 1))).toEqual({ count: 0, max_th_latest: null });
    expect(await tx((conn) => countStarts(conn, 'nobody', 0, 1))).toEqual({ count: 0, max_th_latest: null });
  });

  it("countRunningByKey: running tasks of the name per key, byte-exact ('a', 'a ' and 'A' are three keys)", async () => {
    const { store, db, tx } = await fresh();
    const made = await store.createTasks([keyed('a'), keyed('a '), keyed('A'), keyed('A'), keyed(null), keyed('a'), newTask({ name: 'other', concurrency_key: 'a' })], T0);
    await setStatus(db, [made[0], made[1], made[2], made[3], made[4], made[6]], 'running');
    expect(await tx((conn) => countRunningByKey(conn, 'kjob'))).toEqual({ a: 1, 'a ': 1, A: 2 });
    expect(await tx((conn) => countRunningByKey(conn, 'nobody'))).toEqual({});
  });

  describe('keyedCandidates', () => {
    /**
     * Keys in byte order: '' (the empty key) < 'A' < 'a' < 'a ' < 'b' < 'c' < 'é'. 'A' has only
     * future tasks, 'x' only running and completed ones, 'b' five due tasks of mixed priority.
     */
    async function keyedQueue() {
      const env = await fresh();
      const { store, db } = env;
      const make = (key: string | null, more: Parameters<typeof newTask>[0] = {}) => store.createTasks([keyed(key, more)], T0).then(([id]) => id);
      const byKey: Record<string, number[]> = {};
      const add = async (key: string, more: Parameters<typeof newTask>[0] = {}) => (byKey[key] ??= []).push(await make(key, more));
      await add('');
      await add('A', { next_run_time: T0 + 60_000 });
      await add('a');
      await add('a ');
      for (const priority of [0, 5, 0, 5, 1]) await add('b', { priority });
      await add('c');
      await add('é');
      await add('x');
      await add('x');
      await setStatus(db, [byKey.x[0]], 'running');
      await setStatus(db, [byKey.x[1]], 'completed');
      const unkeyed = await make(null);
      const otherName = (await store.createTasks([newTask({ name: 'kjob2', concurrency_key: 'b' })], T0))[0];
      return { ...env, byKey, unkeyed, otherName };
    }

    it('visits the keys of claimable tasks in byte order from the start, also keys without a due task', async () => {
      const { tx, byKey } = await keyedQueue();
      const got = await tx((conn) => keyedCandidates(conn, 'kjob', T0, null, 100, 10));
      expect(got.keys).toEqual(['', 'A', 'a', 'a ', 'b', 'c', 'é']);
      // every due task of every visited key (never 'A''s future one, nor x's running and completed ones, nor the unkeyed one)
      expect(ids(got.tasks)).toEqual([...byKey[''], ...byKey.a, ...byKey['a '], ...byKey.b, ...byKey.c, ...byKey['é']].sort((a, b) => a - b));
      for (const task of got.tasks) expect(task.status).toBe('pending');
    });

    it('goes on after `after` (exclusive, byte-exact) and stops after `visit` keys', async () => {
      const { tx, byKey } = await keyedQueue();
      expect((await tx((conn) => keyedCandidates(conn, 'kjob', T0, 'a', 100, 10))).keys).toEqual(['a ', 'b', 'c', 'é']);
      expect((await tx((conn) => keyedCandidates(conn, 'kjob', T0, 'a ', 100, 10))).keys).toEqual(['b', 'c', 'é']);
      // a cursor that is no key any more still finds the keys after it
      expect((await tx((conn) => keyedCandidates(conn, 'kjob', T0, 'bb', 100, 10))).keys).toEqual(['c', 'é']);
      expect((await tx((conn) => keyedCandidates(conn, 'kjob', T0, 'é', 100, 10))).keys).toEqual([]);
      const two = await tx((conn) => keyedCandidates(conn, 'kjob', T0, '', 2, 10));
      expect(two.keys).toEqual(['A', 'a']);
      expect(ids(two.tasks)).toEqual(byKey.a);
      expect(await tx((conn) => keyedCandidates(conn, 'kjob', T0, null, 0, 10))).toEqual({ keys: [], tasks: [] });
    });

    it('takes the first `perKey` due tasks of each key in claim order', async () => {
      const { tx, byKey } = await keyedQueue();
      const got = await tx((conn) => keyedCandidates(conn, 'kjob', T0, 'a ', 1, 3));
      expect(got.keys).toEqual(['b']);
      // priorities 0, 5, 0, 5, 1: the two fives (oldest first), then the one
      expect(ids(got.tasks)).toEqual([byKey.b[1], byKey.b[3], byKey.b[4]]);
      const one = await tx((conn) => keyedCandidates(conn, 'kjob', T0, null, 100, 1));
      expect(one.tasks.filter((task) => task.concurrency_key === 'b').map((task) => task.id)).toEqual([byKey.b[1]]);
      expect(one.tasks).toHaveLength(6);
    });

    it('never returns a task that is not claimable or not due', async () => {
      const { db, tx, byKey } = await keyedQueue();
      await setStatus(db, [byKey.b[1]], 'suspended');
      await setStatus(db, [byKey.b[3]], 'failed');
      await setStatus(db, [byKey.b[4]], 'timeout');
      const got = await tx((conn) => keyedCandidates(conn, 'kjob', T0, 'a ', 1, 10));
      expect(ids(got.tasks)).toEqual([byKey.b[0], byKey.b[2], byKey.b[3], byKey.b[4]]);
      // not yet due at T0 - 1: the key is visited, nothing is taken
      expect(await tx((conn) => keyedCandidates(conn, 'kjob', T0 - 1, 'a ', 1, 10))).toEqual({ keys: ['b'], tasks: [] });
    });

    it('skips tasks another transaction holds and takes the next ones of the key instead', async () => {
      const { store, tx, byKey } = await keyedQueue();
      let got!: { keys: string[]; tasks: Task[] };
      await dbs.lockRows(store, 'taskmill_tasks', { id: byKey.b[1] }, async () => {
        got = await tx((conn) => keyedCandidates(conn, 'kjob', T0, 'a ', 1, 2));
      });
      expect(got.keys).toEqual(['b']);
      expect(ids(got.tasks)).toEqual([byKey.b[3], byKey.b[4]]);
    });

    it('locks what it returns: a concurrent keyed read of the name skips those tasks', async () => {
      const { tx, byKey } = await keyedQueue();
      let inner!: { keys: string[]; tasks: Task[] };
      const outer = await tx(async (conn) => {
        const first = await keyedCandidates(conn, 'kjob', T0, 'a ', 1, 2);
        inner = await tx((second) => keyedCandidates(second, 'kjob', T0, 'a ', 1, 2));
        return first;
      });
      expect(ids(outer.tasks)).toEqual([byKey.b[1], byKey.b[3]]);
      expect(ids(inner.tasks)).toEqual([byKey.b[0], byKey.b[4]]);
    });
  });

  describe('unkeyedCandidates', () => {
    it('due claimable tasks of the name without a key, in claim order, at most `limit`, skipping held ones', async () => {
      const { store, db, tx } = await fresh();
      const made = await store.createTasks(
        [
          keyed(null, { priority: 1 }),
          keyed(null, { priority: 3 }),
          keyed(null, { priority: 3, next_run_time: T0 - 5 }),
          keyed(null, { next_run_time: T0 + 1 }),
          keyed(''),
          keyed('k'),
          keyed(null, { name: 'other' }),
          keyed(null),
        ],
        T0,
      );
      await setStatus(db, [made[7]], 'running');
      expect((await tx((conn) => unkeyedCandidates(conn, 'kjob', T0, 10))).map((task) => task.id)).toEqual([made[2], made[1], made[0]]);
      expect((await tx((conn) => unkeyedCandidates(conn, 'kjob', T0, 2))).map((task) => task.id)).toEqual([made[2], made[1]]);
      let held!: Task[];
      await dbs.lockRows(store, 'taskmill_tasks', { id: made[2] }, async () => {
        held = await tx((conn) => unkeyedCandidates(conn, 'kjob', T0, 2));
      });
      expect(held.map((task) => task.id)).toEqual([made[1], made[0]]);
    });
  });

  it('claimBatch with per-key limits takes the keys in turn and counts what each key runs', async () => {
    const { store } = await fresh();
    await store.createTasks(
      ['a', 'a', 'a', 'b', 'b', 'c', null].map((key) => keyed(key)),
      T0,
    );
    const first = await store.claimBatch({ worker_id: 'w', now: T0, limit: 4, names: ['kjob'], key_limits: { kjob: 1 } });
    expect(first.tasks.map((task) => task.concurrency_key).sort()).toEqual([null, 'a', 'b', 'c'].sort());
    // one of each key runs: only the unkeyed turn is left, and it has nothing more
    const second = await store.claimBatch({ worker_id: 'w', now: T0, limit: 4, names: ['kjob'], key_limits: { kjob: 1 } });
    expect(second.tasks).toEqual([]);
  });

  it('claimBatch with a rate limit counts the attempts started in the window', async () => {
    const { store } = await fresh();
    await store.createTasks(Array.from({ length: 5 }, () => newTask({ name: 'rated' })), T0);
    const rate = { rated: { max: 2, per_ms: 1_000 } };
    expect((await store.claimBatch({ worker_id: 'w', now: T0, limit: 5, names: ['rated'], rate_limits: rate })).tasks).toHaveLength(2);
    const held = await store.claimBatch({ worker_id: 'w', now: T0 + 10, limit: 5, names: ['rated'], rate_limits: rate });
    expect(held.tasks).toEqual([]);
    // a limited claim records its start at its `now` plus the time it took (docs/behaviour.md#flow-control)
    expect(held.retry_at).toBeGreaterThanOrEqual(T0 + 1_000);
    expect(held.retry_at).toBeLessThan(T0 + 1_500);
    expect((await store.claimBatch({ worker_id: 'w', now: held.retry_at!, limit: 5, names: ['rated'], rate_limits: rate })).tasks).toHaveLength(2);
  });

  it('a database of the version before flow control migrates: existing tasks become claimable unkeyed tasks, existing attempts keep a NULL name', async () => {
    const db = await dbs.create();
    await migrateBefore(db, '`concurrency_key`', async (pool) => {
      await pool.query(
        `INSERT INTO taskmill_tasks (name, type, created_at, status, next_run_time) VALUES ('old', 'async', ?, 'pending', ?), ('old', 'async', ?, 'completed', ?)`,
        [T0, T0, T0, T0],
      );
      await pool.query(`INSERT INTO taskmill_task_attempts (task_id, attempt, started_at) VALUES (2, 1, ?)`, [T0]);
    });
    const store = createMysqlStore(urlFor(db));
    stores.push(store);
    await store.setup();
    const tasks = (await dbs.query(`SELECT status, concurrency_key, HEX(claim_key) AS ck FROM \`${db}\`.taskmill_tasks ORDER BY id`)) as Record<string, unknown>[];
    expect(tasks).toEqual([
      { status: 'pending', concurrency_key: null, ck: '' },
      { status: 'completed', concurrency_key: null, ck: null },
    ]);
    expect(((await dbs.query(`SELECT name FROM \`${db}\`.taskmill_task_attempts`)) as { name: unknown }[])[0].name).toBeNull();
    const claimed = await store.claimBatch({ worker_id: 'w', now: T0, limit: 5, names: ['old'], key_limits: { old: 1 }, rate_limits: { old: { max: 5, per_ms: 1000 } } });
    expect(claimed.tasks.map((task) => [task.name, task.concurrency_key])).toEqual([['old', null]]);
  });

  it('a database of the version before flows migrates: old children get a NULL on_failure (continue), and rules work', async () => {
    const db = await dbs.create();
    await migrateBefore(db, '`on_failure`', async (pool) => {
      await pool.query(`INSERT INTO taskmill_tasks (id, name, type, created_at, status, next_run_time, suspend_reason, total_children) VALUES (1, 'parent', 'async', ?, 'suspended', ?, 'awaiting_subtasks', 1)`, [T0, T0]);
      await pool.query(`INSERT INTO taskmill_tasks (id, name, type, created_at, status, next_run_time, max_retries, root_id, parent_id) VALUES (2, 'old-child', 'async', ?, 'pending', ?, 1, 1, 1)`, [T0, T0]);
    });
    const store = createMysqlStore(urlFor(db));
    stores.push(store);
    await store.setup();
    expect(await dbs.query(`SELECT on_failure FROM \`${db}\`.taskmill_tasks ORDER BY id`)).toEqual([{ on_failure: null }, { on_failure: null }]);
    const [claimed] = await store.claimTasks({ worker_id: 'w', now: T0, limit: 1, names: ['old-child'] });
    await store.finishAttempt({ task_id: 2, worker_id: 'w', attempt: claimed.attempt }, { kind: 'failed', status: 'failed', error: 'x', permanent: true }, T0 + 1);
    expect(await store.getTask(1)).toMatchObject({ status: 'pending', stage: 1, result: [{ task_id: 2, error: 'x' }] });
    const flow = await store.createFlow({ task: newTask({ name: 'root' }), children: [{ task: { ...newTask({ name: 'leaf', max_retries: 1 }), on_failure: 'fail' }, next_run_time: T0, children: [] }] }, T0 + 2);
    expect(await dbs.query(`SELECT on_failure FROM \`${db}\`.taskmill_tasks WHERE id = ${flow.children[0].id}`)).toEqual([{ on_failure: 'fail' }]);
  });

  it('a database of the version before dead letters migrates: existing tasks get a NULL dead_letter, and dead letters work', async () => {
    const db = await dbs.create();
    await migrateBefore(db, '`dead_letter`', async (pool) => {
      await pool.query(`INSERT INTO taskmill_tasks (name, type, created_at, status, next_run_time) VALUES ('old', 'async', ?, 'pending', ?)`, [T0, T0]);
    });
    const store = createMysqlStore(urlFor(db));
    stores.push(store);
    await store.setup();
    expect(await dbs.query(`SELECT dead_letter FROM \`${db}\`.taskmill_tasks`)).toEqual([{ dead_letter: null }]);
    const [id] = await store.createTasks([newTask({ name: 'new', max_retries: 1, dead_letter: 'dead' })], T0);
    const [claimed] = await store.claimTasks({ worker_id: 'w', now: T0, limit: 1, names: ['new'] });
    await store.finishAttempt({ task_id: id, worker_id: 'w', attempt: claimed.attempt }, { kind: 'failed', status: 'failed', error: 'PermanentError: x', permanent: true }, T0 + 1);
    const letters = (await dbs.query(`SELECT payload FROM \`${db}\`.taskmill_tasks WHERE name = 'dead'`)) as { payload: string }[];
    expect(letters.map((row) => JSON.parse(row.payload).task_id)).toEqual([id]);
  });
  it('a database of the version before waits and signals migrates: a task suspended before keeps waiting, and sleeps and signals work', async () => {
    const db = await dbs.create();
    let old = 0;
    await migrateBefore(db, 'taskmill_task_signals', async (pool) => {
      const [inserted] = (await pool.query(
        `INSERT INTO taskmill_tasks (name, type, created_at, status, next_run_time, suspend_reason) VALUES ('old', 'async', ?, 'suspended', ?, 'review')`,
        [T0, T0],
      )) as unknown as [{ insertId: number }];
      old = inserted.insertId;
    });
    const store = createMysqlStore(urlFor(db));
    stores.push(store);
    await store.setup();
    expect(await store.getTask(old)).toMatchObject({ status: 'suspended', wake_at: null, awaited_signal: null, received_signal: null });
    expect(await store.wakeDueTasks({ now: T0 + 10_000, limit: 10 })).toEqual({ woken: [], next_wake_at: null });
    expect(await store.sendSignal(old, 'go', '1', T0 + 1)).toMatchObject({ resumed: false });
    const [id] = await store.createTasks([newTask({ name: 'new' })], T0);
    const [claimed] = await store.claimTasks({ worker_id: 'w', now: T0, limit: 1, names: ['new'] });
    await store.finishAttempt({ task_id: id, worker_id: 'w', attempt: claimed.attempt }, { kind: 'sleep', wake_at: T0 + 100 }, T0 + 1);
    expect(await store.wakeDueTasks({ now: T0 + 100, limit: 10 })).toEqual({ woken: [id], next_wake_at: null });
    const tables = (await dbs.query(`SELECT engine AS e, table_collation AS c FROM information_schema.TABLES WHERE table_schema = ? AND table_name = 'taskmill_task_signals'`, [db])) as { e: string; c: string }[];
    expect(tables).toEqual([{ e: 'InnoDB', c: 'utf8mb4_bin' }]);
  });
});
