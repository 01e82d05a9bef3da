import { readFileSync } from 'node:fs';
import type { Task } from '@taskmill/contracts';
import { CLAIMABLE_STATUSES, compareClaimOrder, type EventRow } from '@taskmill/store-kit';
import { newTask, T0 } from '@taskmill/store-testkit';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as claim from '../src/claim.js';
import { openConnection, type Connection } from '../src/connection.js';
import { createPostgresStore } from '../src/index.js';
import { migrate } from '../src/migrate.js';
import * as paused from '../src/paused-names.js';
import { insertEvents } from '../src/task-rows.js';
import { write, type Db } from '../src/transaction.js';
import { freshSchema, migrateBefore, PG_URL, probeServer, recordingClient, type SentStatement } from './pg-harness.js';

/*
 * The flow-control statements of docs/behaviour.md#flow-control, one by one on small data, and
 * the plans of the claim's statements on a queue of a million tasks.
 */

/** Migrations in drizzle/meta/_journal.json. */
const MIGRATIONS = (JSON.parse(readFileSync(new URL('../drizzle/meta/_journal.json', import.meta.url), 'utf8')) as { entries: unknown[] }).entries.length;

const unreachable = await probeServer();

describe.skipIf(unreachable !== null)(`postgres flow-control statements${unreachable ? ` [skipped: ${unreachable}]` : ''}`, () => {
  let admin: postgres.Sql;
  let schema: string;
  let connection: Connection;

  beforeAll(async () => {
    admin = postgres(PG_URL, { max: 4, onnotice: () => {} });
    schema = freshSchema();
    connection = openConnection({ url: PG_URL, schema, max: 4 });
    await migrate(connection);
  });
  afterAll(async () => {
    await connection?.sql.end({ timeout: 5 });
    await admin`DROP SCHEMA IF EXISTS ${admin(schema)} CASCADE`;
    await admin.end({ timeout: 5 });
  });

  const table = (name: string) => admin(`${schema}.${name}`);
  const tx = <T>(work: (db: Db) => Promise<T>) => write(connection, 'test', work);

  interface Row {
    name?: string;
    concurrency_key?: string | null;
    status?: string;
    priority?: number;
    next_run_time?: number;
  }

  /** Insert task rows as they are (no store rules); their ids in input order. */
  async function seed(rows: Row[]): Promise<number[]> {
    const full = rows.map((row) => ({
      name: 'keyed',
      type: 'async',
      created_at: T0,
      status: 'pending',
      priority: 0,
      next_run_time: T0,
      concurrency_key: null,
      ...row,
    }));
    const inserted = await admin`INSERT INTO ${table('taskmill_tasks')} ${admin(full as never)} RETURNING id`;
    return inserted.map((r) => Number(r.id)).sort((a, b) => a - b);
  }

  /** Run `during` while another transaction holds these task rows `FOR UPDATE`. */
  async function whileLocked<T>(ids: number[], during: () => Promise<T>): Promise<T> {
    let result!: T;
    await admin.begin(async (locker) => {
      await locker`SELECT id FROM ${locker(`${schema}.taskmill_tasks`)} WHERE id = ANY(${ids}::int8[]) FOR UPDATE`;
      result = await during();
    });
    return result;
  }

  const ids = (tasks: Task[]) => tasks.map((task) => task.id).sort((a, b) => a - b);

  describe('keyedCandidates and unkeyedCandidates', () => {
    // name `keyed`, keys in byte order: B < a < b < c < d < e (and `other` tasks under the same keys)
    let t: Record<string, number[]>;
    const LATER = T0 + 60_000;

    beforeAll(async () => {
      const [B1, a0, a5, a1, aLater, bLater, cRunning, cDone, dFailed, dTimeout, dPaused, e1, e2, n1, n2, nLater, nRunning, oa, obb] = await seed([
        { concurrency_key: 'B' },
        { concurrency_key: 'a', priority: 0 },
        { concurrency_key: 'a', priority: 5 },
        { concurrency_key: 'a', priority: 1 },
        { concurrency_key: 'a', priority: 9, next_run_time: LATER },
        { concurrency_key: 'b', next_run_time: LATER },
        { concurrency_key: 'c', status: 'running' },
        { concurrency_key: 'c', status: 'completed' },
        { concurrency_key: 'd', status: 'failed', next_run_time: T0 - 5 },
        { concurrency_key: 'd', status: 'timeout', next_run_time: T0 - 1 },
        { concurrency_key: 'd', status: 'paused', next_run_time: T0 - 9 },
        { concurrency_key: 'e', next_run_time: T0 - 2 },
        { concurrency_key: 'e', next_run_time: T0 - 1 },
        { priority: 1 },
        { priority: 2 },
        { priority: 3, next_run_time: LATER },
        { status: 'running' },
        { name: 'other', concurrency_key: 'a' },
        { name: 'other', concurrency_key: 'bb' },
      ]);
      t = { B1: [B1], a: [a5, a1, a0], aLater: [aLater], bLater: [bLater], c: [cRunning, cDone], d: [dFailed, dTimeout], dPaused: [dPaused] };
      t.e = [e1, e2];
      t.unkeyed = [n2, n1];
      t.unkeyedOther = [nLater, nRunning, oa, obb];
    });

    const keyed = (after: string | null, visit: number, perKey: number, now = T0) =>
      tx((db) => claim.keyedCandidates(db, 'keyed', now, after, visit, perKey));

    it('visits the keys with a claimable task in byte order from the smallest, with their due tasks', async () => {
      const found = await keyed(null, 100, 100);
      // c has only running/completed tasks; b none due (still visited); `other`'s bb never
      expect(found.keys).toEqual(['B', 'a', 'b', 'd', 'e']);
      expect(ids(found.tasks)).toEqual([...t.B1, ...t.a, ...t.d, ...t.e].sort((x, y) => x - y));
      for (const task of found.tasks) {
        expect(task.name).toBe('keyed');
        expect(CLAIMABLE_STATUSES).toContain(task.status);
        expect(task.next_run_time).toBeLessThanOrEqual(T0);
        expect(task.concurrency_key).not.toBeNull();
      }
    });

    it('goes on after the cursor (an existing key or not) and stops after `visit` keys', async () => {
      expect((await keyed('a', 100, 100)).keys).toEqual(['b', 'd', 'e']);
      expect((await keyed('bb', 100, 100)).keys).toEqual(['d', 'e']);
      const one = await keyed('b', 1, 100);
      expect(one.keys).toEqual(['d']);
      expect(ids(one.tasks)).toEqual(t.d);
      const two = await keyed(null, 2, 100);
      expect(two.keys).toEqual(['B', 'a']);
      expect(ids(two.tasks)).toEqual([...t.B1, ...t.a].sort((x, y) => x - y));
      expect(await keyed('e', 100, 100)).toEqual({ keys: [], tasks: [] });
      // a key whose only tasks are not yet due is still visited
      expect(await keyed('a', 1, 100)).toEqual({ keys: ['b'], tasks: [] });
    });

    it('takes at most `perKey` tasks of each key, the first in claim order', async () => {
      const found = await keyed(null, 100, 2);
      const ofA = found.tasks.filter((task) => task.concurrency_key === 'a');
      expect(ofA.map((task) => task.id)).toEqual(expect.arrayContaining(t.a.slice(0, 2)));
      expect(ofA).toHaveLength(2);
      expect(found.tasks.filter((task) => task.concurrency_key === 'e')).toHaveLength(2);
      const single = await keyed(null, 100, 1);
      expect(ids(single.tasks)).toEqual([t.B1[0], t.a[0], t.d[0], t.e[0]].sort((x, y) => x - y));
      // later, the task due then comes first (priority 9)
      expect(ids((await keyed('B', 1, 1, LATER)).tasks)).toEqual(t.aLater);
    });

    it('skips the tasks another transaction holds, keeping their key', async () => {
      const found = await whileLocked([t.a[0], ...t.e], () => keyed(null, 100, 2));
      expect(found.keys).toEqual(['B', 'a', 'b', 'd', 'e']);
      expect(ids(found.tasks.filter((task) => task.concurrency_key === 'a'))).toEqual([t.a[1], t.a[2]].sort((x, y) => x - y));
      expect(found.tasks.filter((task) => task.concurrency_key === 'e')).toEqual([]);
    });

    it('locks the candidates it returns until its transaction ends', async () => {
      await tx(async (db) => {
        const found = await claim.keyedCandidates(db, 'keyed', T0, 'B', 1, 1);
        expect(ids(found.tasks)).toEqual([t.a[0]]);
        // another transaction finds it held, and passes it by
        expect(await admin`SELECT id FROM ${table('taskmill_tasks')} WHERE id = ${t.a[0]} FOR UPDATE SKIP LOCKED`).toHaveLength(0);
      });
    });

    it('unkeyedCandidates: the due claimable tasks without a key, in claim order, at most `limit`, skipping held rows', async () => {
      const all = await tx((db) => claim.unkeyedCandidates(db, 'keyed', T0, 10));
      expect(all.map((task) => task.id)).toEqual(t.unkeyed);
      expect([...all].sort(compareClaimOrder)).toEqual(all);
      expect((await tx((db) => claim.unkeyedCandidates(db, 'keyed', T0, 1))).map((task) => task.id)).toEqual([t.unkeyed[0]]);
      const held = await whileLocked([t.unkeyed[0]], () => tx((db) => claim.unkeyedCandidates(db, 'keyed', T0, 1)));
      expect(held.map((task) => task.id)).toEqual([t.unkeyed[1]]);
      expect(await tx((db) => claim.unkeyedCandidates(db, 'nobody', T0, 10))).toEqual([]);
    });

    it('countRunningByKey: running tasks of the name per non-null key', async () => {
      await seed([
        { concurrency_key: 'a', status: 'running' },
        { concurrency_key: 'a', status: 'running' },
        { name: 'other', concurrency_key: 'c', status: 'running' },
      ]);
      expect(await tx((db) => claim.countRunningByKey(db, 'keyed'))).toEqual({ a: 2, c: 1 });
      expect(await tx((db) => claim.countRunningByKey(db, 'nobody'))).toEqual({});
    });
  });

  it('countStarts: starts after `since` (strictly) and the max-th latest of them', async () => {
    const starts = [T0 - 100, T0 - 50, T0 - 10, T0 - 10, T0];
    const rows = [...starts.map((started_at, i) => ({ task_id: 1000 + i, name: 'rated', attempt: 1, started_at })), { task_id: 2000, name: 'unrated', attempt: 1, started_at: T0 }];
    await admin`INSERT INTO ${table('taskmill_task_attempts')} ${admin(rows as never)}`;
    const count = (since: number, max: number) => tx((db) => claim.countStarts(db, 'rated', since, max));
    expect(await count(T0 - 50, 1)).toEqual({ count: 3, max_th_latest: T0 });
    expect(await count(T0 - 50, 2)).toEqual({ count: 3, max_th_latest: T0 - 10 });
    expect(await count(T0 - 50, 3)).toEqual({ count: 3, max_th_latest: T0 - 10 });
    expect(await count(T0 - 50, 4)).toEqual({ count: 3, max_th_latest: null });
    expect(await count(T0 - 101, 5)).toEqual({ count: 5, max_th_latest: T0 - 100 });
    expect(await count(T0, 1)).toEqual({ count: 0, max_th_latest: null });
    expect(await tx((db) => claim.countStarts(db, 'nobody', 0, 1))).toEqual({ count: 0, max_th_latest: null });
  });

  it('paused names: insert once, list, pausedAmong, delete once', async () => {
    const row = { name: 'mailer', paused_at: T0, paused_by: 'ops', reason: 'provider down' };
    expect(await tx((db) => paused.insertPausedName(db, row))).toBe(true);
    expect(await tx((db) => paused.insertPausedName(db, { ...row, paused_at: T0 + 1, reason: 'again' }))).toBe(false);
    expect(await tx((db) => paused.insertPausedName(db, { name: 'Zeta', paused_at: T0 + 2, paused_by: null, reason: null }))).toBe(true);
    const listed = await tx((db) => paused.selectPausedNames(db));
    expect(listed.map((r) => ({ ...r }))).toEqual([
      { name: 'Zeta', paused_at: String(T0 + 2), paused_by: null, reason: null },
      { name: 'mailer', paused_at: String(T0), paused_by: 'ops', reason: 'provider down' },
    ]);
    expect((await tx((db) => claim.pausedAmong(db, ['mailer', 'job', 'Zeta']))).sort()).toEqual(['Zeta', 'mailer']);
    expect(await tx((db) => claim.pausedAmong(db, ['job']))).toEqual([]);
    expect(await tx((db) => paused.deletePausedName(db, 'mailer'))).toBe(true);
    expect(await tx((db) => paused.deletePausedName(db, 'mailer'))).toBe(false);
    expect(await tx((db) => claim.pausedAmong(db, ['mailer', 'Zeta']))).toEqual(['Zeta']);
    await tx((db) => paused.deletePausedName(db, 'Zeta'));
  });

  it('insertEvents: rows of no task (task_id 0), ids in input order across batches', async () => {
    const event = (i: number): EventRow => ({
      task_id: 0,
      root_id: null,
      parent_id: null,
      event_type: i % 2 === 0 ? 'name_paused' : 'name_resumed',
      from_status: null,
      to_status: null,
      stage: null,
      worker_id: null,
      attempt: null,
      event_time: T0 + i,
      message: `m${i}`,
      metadata: JSON.stringify({ name: `n${i}`, by: null }),
    });
    const rows = Array.from({ length: 1500 }, (_, i) => event(i));
    const eventIds = await tx((db) => insertEvents(db, rows));
    expect(eventIds).toHaveLength(1500);
    for (let i = 1; i < eventIds.length; i++) expect(eventIds[i]).toBeGreaterThan(eventIds[i - 1]);
    const stored = await admin`SELECT * FROM ${table('taskmill_task_events')} WHERE id = ANY(${[eventIds[0], eventIds[1499]]}::int8[]) ORDER BY id`;
    expect(stored.map((r) => [Number(r.task_id), r.event_type, Number(r.event_time), r.message, r.metadata])).toEqual([
      [0, 'name_paused', T0, 'm0', '{"name":"n0","by":null}'],
      [0, 'name_resumed', T0 + 1499, 'm1499', '{"name":"n1499","by":null}'],
    ]);
    expect(await tx((db) => insertEvents(db, []))).toEqual([]);
  });

  it('the store writes concurrency_key (createTasks, unique tasks, createTasksWithin) and the attempt name at claim', async () => {
    const store = createPostgresStore({ url: PG_URL, schema, max: 2 });
    try {
      const [plain, keyed] = await store.createTasks([newTask({ name: 'w1' }), newTask({ name: 'w1', concurrency_key: 'tenant-1' })], T0);
      const [unique] = await store.createTasks([newTask({ name: 'w1', unique_key: 'u', concurrency_key: 'tenant-2' })], T0);
      let within = 0;
      await admin.begin(async (app) => {
        [within] = await store.createTasksWithin!(app, [newTask({ name: 'w1', concurrency_key: 'tenant-3' })], T0);
      });
      const rows = await admin`SELECT id, concurrency_key FROM ${table('taskmill_tasks')} WHERE name = 'w1' ORDER BY id`;
      expect(rows.map((r) => [Number(r.id), r.concurrency_key])).toEqual([
        [plain, null],
        [keyed, 'tenant-1'],
        [unique, 'tenant-2'],
        [within, 'tenant-3'],
      ]);
      expect((await store.getTask(keyed))?.concurrency_key).toBe('tenant-1');
      const claimed = await store.claimTasks({ worker_id: 'w', now: T0, limit: 10, names: ['w1'] });
      expect(claimed).toHaveLength(4);
      const attempts = await admin`SELECT DISTINCT name FROM ${table('taskmill_task_attempts')} WHERE task_id = ANY(${[plain, keyed, unique, within]}::int8[])`;
      expect(attempts.map((r) => r.name)).toEqual(['w1']);
    } finally {
      await store.close();
    }
  });

  it('through the store: fair share per key, rate limits, pause and resume', async () => {
    const store = createPostgresStore({ url: PG_URL, schema, max: 2 });
    try {
      await store.createTasks(
        ['x', 'x', 'x', 'y', 'y', 'z', null].map((key) => newTask({ name: 'fair', concurrency_key: key })),
        T0,
      );
      const first = await store.claimBatch({ worker_id: 'w', now: T0, limit: 10, names: ['fair'], key_limits: { fair: 1 } });
      expect(first.tasks.map((task) => task.concurrency_key).sort()).toEqual(['x', 'y', 'z', null].sort());
      expect((await store.claimBatch({ worker_id: 'w', now: T0, limit: 10, names: ['fair'], key_limits: { fair: 1 } })).tasks).toEqual([]);

      await store.createTasks([1, 2, 3].map(() => newTask({ name: 'metered' })), T0);
      const rated = { worker_id: 'w', now: T0, limit: 10, names: ['metered'], rate_limits: { metered: { max: 2, per_ms: 1000 } } };
      expect((await store.claimBatch(rated)).tasks).toHaveLength(2);
      const held = await store.claimBatch(rated);
      expect(held.tasks).toEqual([]);
      // a limited claim records its start at its `now` plus the time it took (docs/behaviour.md#flow-control)
      expect(held.retry_at).toBeGreaterThanOrEqual(T0 + 1000);
      expect(held.retry_at).toBeLessThan(T0 + 1500);
      expect((await store.claimBatch({ ...rated, now: held.retry_at! })).tasks).toHaveLength(1);

      await store.createTasks([newTask({ name: 'held' })], T0);
      expect(await store.pauseName('held', { by: 'ops', reason: 'why' }, T0)).toMatchObject({ changed: true });
      expect(await store.listPausedNames()).toEqual([{ name: 'held', paused_at: T0, paused_by: 'ops', reason: 'why' }]);
      expect((await store.claimBatch({ worker_id: 'w', now: T0, limit: 10, names: ['held'] })).tasks).toEqual([]);
      expect(await store.resumeName('held', { by: 'ops' }, T0 + 1)).toBe(true);
      expect(await store.resumeName('held', { by: 'ops' }, T0 + 2)).toBe(false);
      expect((await store.claimBatch({ worker_id: 'w', now: T0, limit: 10, names: ['held'] })).tasks).toHaveLength(1);
      const events = await admin`SELECT task_id, event_type FROM ${table('taskmill_task_events')} WHERE event_type IN ('name_paused', 'name_resumed') AND metadata LIKE '%"held"%' ORDER BY id`;
      expect(events.map((r) => [Number(r.task_id), r.event_type])).toEqual([
        [0, 'name_paused'],
        [0, 'name_resumed'],
      ]);
    } finally {
      await store.close();
    }
  });

  it('setup() brings a schema of the previous version up: rows kept, new columns null, keys compared byte-wise', async () => {
    const name = freshSchema();
    const store = createPostgresStore({ url: PG_URL, schema: name, max: 2 });
    try {
      // the schema as it was before the flow-control migration (the one adding concurrency_key)
      await migrateBefore(name, '"concurrency_key"');
      const at = (t: string) => admin(`${name}.${t}`);
      await admin`INSERT INTO ${at('taskmill_tasks')} (name, type, created_at, next_run_time) VALUES ('old', 'async', ${T0}, ${T0})`;
      await admin`INSERT INTO ${at('taskmill_task_attempts')} (task_id, attempt, started_at) VALUES (1, 1, ${T0})`;

      await store.setup();

      const [{ n }] = await admin`SELECT count(*)::int AS n FROM ${at('taskmill_migrations')}`;
      expect(n).toBe(MIGRATIONS);
      expect((await admin`SELECT concurrency_key FROM ${at('taskmill_tasks')}`).map((r) => r.concurrency_key)).toEqual([null]);
      expect((await admin`SELECT name FROM ${at('taskmill_task_attempts')}`).map((r) => r.name)).toEqual([null]);
      const indexes = await admin`SELECT indexname FROM pg_indexes WHERE schemaname = ${name}`;
      expect(indexes.map((r) => r.indexname)).toEqual(expect.arrayContaining(['idx_task_claim_key', 'idx_task_attempts_name_started', 'taskmill_paused_names_pkey']));
      expect(indexes.map((r) => r.indexname)).not.toContain('idx_task_attempts_task_open');
      expect(indexes.map((r) => r.indexname)).not.toContain('idx_task_running_worker');
      const [column] = await admin`
        SELECT collation_name FROM information_schema.columns
        WHERE table_schema = ${name} AND table_name = 'taskmill_tasks' AND column_name = 'concurrency_key'`;
      expect(column.collation_name).toBe('C');
      expect((await store.claimBatch({ worker_id: 'w', now: T0, limit: 5, names: ['old'], key_limits: { old: 1 } })).tasks).toHaveLength(1);
    } finally {
      await store.close();
      await admin`DROP SCHEMA IF EXISTS ${admin(name)} CASCADE`;
    }
  });
});

describe.skipIf(unreachable !== null)(`postgres dead_letter migration${unreachable ? ` [skipped: ${unreachable}]` : ''}`, () => {
  let admin: postgres.Sql;
  beforeAll(() => {
    admin = postgres(PG_URL, { max: 2, onnotice: () => {} });
  });
  afterAll(async () => {
    await admin?.end({ timeout: 1 });
  });

  it('setup() brings a schema of the version before dead letters up: old rows get a NULL dead_letter, and dead letters work', async () => {
    const name = freshSchema();
    const store = createPostgresStore({ url: PG_URL, schema: name, max: 2 });
    try {
      await migrateBefore(name, '"dead_letter"');
      const at = (t: string) => admin(`${name}.${t}`);
      await admin`INSERT INTO ${at('taskmill_tasks')} (name, type, created_at, next_run_time, max_retries) VALUES ('old', 'async', ${T0}, ${T0}, 1)`;
      await admin`INSERT INTO ${at('taskmill_task_attempts')} (task_id, name, attempt, started_at) VALUES (1, 'old', 1, ${T0})`;

      await store.setup();

      const [{ n }] = await admin`SELECT count(*)::int AS n FROM ${at('taskmill_migrations')}`;
      expect(n).toBe(MIGRATIONS);
      expect((await admin`SELECT dead_letter FROM ${at('taskmill_tasks')}`).map((r) => r.dead_letter)).toEqual([null]);
      expect((await admin`SELECT due_at FROM ${at('taskmill_task_attempts')}`).map((r) => r.due_at)).toEqual([null]);
      const [id] = await store.createTasks([newTask({ name: 'new', max_retries: 1, dead_letter: 'dead', next_run_time: T0 - 50 })], T0 - 50);
      const [claimed] = (await store.claimBatch({ worker_id: 'w', now: T0, limit: 1, names: ['new'] })).tasks;
      const dueAt = await admin`SELECT due_at FROM ${at('taskmill_task_attempts')} WHERE task_id = ${id}`;
      expect(dueAt.map((r) => Number(r.due_at))).toEqual([T0 - 50]);
      // the old attempt has no due time: no wait, but it counts as started
      const health = await store.getQueueHealth({ now: T0 + 10, window_ms: 1000, buckets: 1 });
      expect(health.names.map((h) => [h.name, h.started, h.wait_p50])).toEqual([
        ['new', 1, 50],
        ['old', 1, null],
      ]);
      await store.finishAttempt({ task_id: id, worker_id: 'w', attempt: claimed.attempt }, { kind: 'failed', status: 'failed', error: 'PermanentError: x', permanent: true }, T0 + 1);
      expect((await admin`SELECT name, payload FROM ${at('taskmill_tasks')} WHERE name = 'dead'`).map((r) => [r.name, JSON.parse(r.payload).task_id])).toEqual([['dead', id]]);
    } finally {
      await store.close();
      await admin`DROP SCHEMA IF EXISTS ${admin(name)} CASCADE`;
    }
  });
});

describe.skipIf(unreachable !== null)(`postgres on_failure migration${unreachable ? ` [skipped: ${unreachable}]` : ''}`, () => {
  let admin: postgres.Sql;
  beforeAll(() => {
    admin = postgres(PG_URL, { max: 2, onnotice: () => {} });
  });
  afterAll(async () => {
    await admin?.end({ timeout: 1 });
  });

  it('setup() brings a schema of the version before flows up: old children get a NULL on_failure (continue), and rules work', async () => {
    const name = freshSchema();
    const store = createPostgresStore({ url: PG_URL, schema: name, max: 2 });
    try {
      await migrateBefore(name, '"on_failure"');
      const at = (t: string) => admin(`${name}.${t}`);
      await admin`INSERT INTO ${at('taskmill_tasks')} (name, type, created_at, next_run_time, status, suspend_reason, total_children) VALUES ('parent', 'async', ${T0}, ${T0}, 'suspended', 'awaiting_subtasks', 1)`;
      const [{ id: parentId }] = await admin`SELECT id FROM ${at('taskmill_tasks')} WHERE name = 'parent'`;
      await admin`INSERT INTO ${at('taskmill_tasks')} (name, type, created_at, next_run_time, max_retries, root_id, parent_id) VALUES ('old-child', 'async', ${T0}, ${T0}, 1, ${parentId}, ${parentId})`;

      await store.setup();

      const [{ n }] = await admin`SELECT count(*)::int AS n FROM ${at('taskmill_migrations')}`;
      expect(n).toBe(MIGRATIONS);
      expect((await admin`SELECT on_failure FROM ${at('taskmill_tasks')}`).map((r) => r.on_failure)).toEqual([null, null]);
      // the old child fails for good: its parent goes on as before (continue)
      const [claimed] = (await store.claimBatch({ worker_id: 'w', now: T0, limit: 1, names: ['old-child'] })).tasks;
      await store.finishAttempt({ task_id: claimed.id, worker_id: 'w', attempt: claimed.attempt }, { kind: 'failed', status: 'failed', error: 'x', permanent: true }, T0 + 1);
      expect(await store.getTask(Number(parentId))).toMatchObject({ status: 'pending', stage: 1, result: [{ task_id: claimed.id, error: 'x' }] });
      const flow = await store.createFlow({ task: newTask({ name: 'root' }), children: [{ task: { ...newTask({ name: 'leaf', max_retries: 1 }), on_failure: 'fail' }, next_run_time: T0, children: [] }] }, T0 + 2);
      expect((await admin`SELECT on_failure FROM ${at('taskmill_tasks')} WHERE id = ${flow.children[0].id}`)[0].on_failure).toBe('fail');
    } finally {
      await store.close();
      await admin`DROP SCHEMA IF EXISTS ${admin(name)} CASCADE`;
    }
  });
});

describe.skipIf(unreachable !== null)(`postgres waits and signals migration${unreachable ? ` [skipped: ${unreachable}]` : ''}`, () => {
  let admin: postgres.Sql;
  beforeAll(() => {
    admin = postgres(PG_URL, { max: 2, onnotice: () => {} });
  });
  afterAll(async () => {
    await admin?.end({ timeout: 1 });
  });

  it('setup() brings a schema of the version before waits and signals up: a task suspended before keeps waiting, and sleeps and signals work', async () => {
    const name = freshSchema();
    const store = createPostgresStore({ url: PG_URL, schema: name, max: 2 });
    try {
      // the schema as it was before the migration adding waits and signals
      await migrateBefore(name, '"taskmill_task_signals"');
      const at = (t: string) => admin(`${name}.${t}`);
      const [old] = await admin`
        INSERT INTO ${at('taskmill_tasks')} (name, type, created_at, next_run_time, status, suspend_reason)
        VALUES ('old', 'async', ${T0}, ${T0}, 'suspended', 'review') RETURNING id`;

      await store.setup();

      const [{ n }] = await admin`SELECT count(*)::int AS n FROM ${at('taskmill_migrations')}`;
      expect(n).toBe(MIGRATIONS);
      expect(await store.getTask(Number(old.id))).toMatchObject({ status: 'suspended', wake_at: null, awaited_signal: null, received_signal: null });
      expect(await store.wakeDueTasks({ now: T0 + 10_000, limit: 10 })).toEqual({ woken: [], next_wake_at: null });
      expect(await store.sendSignal(Number(old.id), 'go', '1', T0 + 1)).toMatchObject({ resumed: false });
      const [id] = await store.createTasks([newTask({ name: 'new' })], T0);
      const [claimed] = (await store.claimBatch({ worker_id: 'w', now: T0, limit: 1, names: ['new'] })).tasks;
      await store.finishAttempt({ task_id: id, worker_id: 'w', attempt: claimed.attempt }, { kind: 'sleep', wake_at: T0 + 100 }, T0 + 1);
      expect(await store.wakeDueTasks({ now: T0 + 100, limit: 10 })).toEqual({ woken: [id], next_wake_at: null });
      const indexes = await admin`SELECT indexname FROM pg_indexes WHERE schemaname = ${name}`;
      expect(indexes.map((r) => r.indexname)).toEqual(expect.arrayContaining(['idx_task_wake', 'idx_task_signals_task_name']));
    } finally {
      await store.close();
      await admin`DROP SCHEMA IF EXISTS ${admin(name)} CASCADE`;
    }
  });
});

describe.skipIf(unreachable !== null)(`postgres flow-control plans on 1,000,000 tasks${unreachable ? ` [skipped: ${unreachable}]` : ''}`, () => {
  const TASKS = 1_000_000;
  const KEYS = 10_000;
  const ATTEMPTS = 200_000;
  const statements: SentStatement[] = [];
  let admin: postgres.Sql;
  let client: postgres.Sql;
  let schema: string;
  let connection: Connection;

  beforeAll(async () => {
    admin = postgres(PG_URL, { max: 2, onnotice: () => {} });
    client = recordingClient(statements);
    schema = freshSchema();
    connection = openConnection({ client, schema });
    await migrate(connection);
    const tasks = admin(`${schema}.taskmill_tasks`);
    const started = performance.now();
    // The rows go in without the secondary indexes, which are then built again from their own
    // definitions: a sorted build of each costs a third of keeping ten of them up to date row by
    // row, and the planner sees the same indexes and statistics either way.
    const indexes = await admin`
      SELECT indexname, indexdef FROM pg_indexes
      WHERE schemaname = ${schema} AND tablename = 'taskmill_tasks' AND indexname <> 'taskmill_tasks_pkey'`;
    for (const index of indexes) await admin`DROP INDEX ${admin(`${schema}.${index.indexname}`)}`;
    // nor is the load written to the WAL: the plans do not depend on it, the test's time does
    await admin`ALTER TABLE ${tasks} SET UNLOGGED`;
    // one name, 10,000 keys of 100 tasks each (but every 1001st task, without a key); within a
    // key priorities 0-6 and two thirds of the tasks due, the rest an hour ahead
    await admin`
      INSERT INTO ${tasks} (name, type, priority, created_at, status, next_run_time, timeout, max_retries, concurrency_key)
      SELECT 'keyed', 'async', (g / ${KEYS}) % 7, ${T0}::int8, 'pending',
        CASE WHEN (g / ${KEYS}) % 3 <> 0 THEN ${T0}::int8 - g ELSE ${T0}::int8 + 3600000 + g END, 60, 3,
        CASE WHEN g % 1001 = 0 THEN NULL ELSE 'k' || lpad((g % ${KEYS})::text, 5, '0') END
      FROM generate_series(1, ${TASKS}) AS g`;
    await admin.begin(async (tx) => {
      await tx`SET LOCAL maintenance_work_mem = '256MB'`;
      for (const index of indexes) await tx.unsafe(String(index.indexdef));
    });
    // a rate-limited name's starts among others', one every 10 ms up to T0
    await admin`
      INSERT INTO ${admin(`${schema}.taskmill_task_attempts`)} (task_id, name, attempt, worker_id, started_at, ended_at, outcome)
      SELECT g, CASE WHEN g % 4 = 0 THEN 'keyed' ELSE 'other' END, 1, 'w', ${T0}::int8 - (${ATTEMPTS} - g) * 10, ${T0}::int8, 'completed'
      FROM generate_series(1, ${ATTEMPTS}) AS g`;
    await admin`ANALYZE ${tasks}`;
    await admin`ANALYZE ${admin(`${schema}.taskmill_task_attempts`)}`;
    console.log(`[store-postgres] flow-control plans: ${TASKS} tasks over ${KEYS} keys and ${ATTEMPTS} attempts loaded in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }, 180_000);
  afterAll(async () => {
    await client?.end({ timeout: 5 });
    await admin`DROP SCHEMA IF EXISTS ${admin(schema)} CASCADE`;
    await admin.end({ timeout: 5 });
  });

  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

  /**
   * Run a statement function in store transactions: the one statement it sent, its result, and
   * the median times of the statement and of its whole transaction (BEGIN … COMMIT).
   */
  async function sent<T>(work: (db: Db) => Promise<T>, runs = 5) {
    const statementMs: number[] = [];
    const transactionMs: number[] = [];
    let result!: T;
    for (let i = 0; i < runs; i++) {
      statements.length = 0;
      const began = performance.now();
      result = await write(connection, 'probe', async (db) => {
        const started = performance.now();
        const out = await work(db);
        statementMs.push(performance.now() - started);
        return out;
      });
      transactionMs.push(performance.now() - began);
    }
    const own = statements.filter((s) => !/^\s*(begin|commit)/i.test(s.query));
    expect(own).toHaveLength(1);
    return { ...own[0], result, statementMs: median(statementMs), transactionMs: median(transactionMs) };
  }

  const planText = (rows: postgres.RowList<postgres.Row[]>) => rows.map((r) => String(r['QUERY PLAN'])).join('\n');

  /** The plan of the statement with these parameters (a custom plan). */
  async function customPlan(query: string, params: unknown[], analyze = false): Promise<string> {
    return planText(await admin.unsafe(`EXPLAIN ${analyze ? '(ANALYZE, BUFFERS) ' : ''}${query}`, params as never[]));
  }

  const literal = (value: unknown) => (value === null ? 'NULL' : typeof value === 'number' ? String(value) : `'${String(value).replace(/'/g, "''")}'`);
  let prepared = 0;

  /** The generic plan of the statement, which a prepared statement may switch to after five runs. */
  async function genericPlan(query: string, params: unknown[]): Promise<string> {
    const name = `flow_probe_${++prepared}`;
    return admin.begin(async (tx) => {
      await tx.unsafe('SET LOCAL plan_cache_mode = force_generic_plan');
      await tx.unsafe(`PREPARE ${name} AS ${query}`);
      const plan = planText(await tx.unsafe(`EXPLAIN EXECUTE ${name}(${params.map(literal).join(', ')})`));
      await tx.unsafe(`DEALLOCATE ${name}`);
      return plan;
    });
  }

  /** Both plans read `index` and neither reads a table whole or sorts. */
  async function expectIndexed(query: string, params: unknown[], index: string, times = 1): Promise<string> {
    const custom = await customPlan(query, params);
    const generic = await genericPlan(query, params);
    for (const [kind, plan] of [['custom', custom], ['generic', generic]]) {
      expect(plan.split(index).length - 1, `${kind} plan:\n${plan}`).toBeGreaterThanOrEqual(times);
      expect(plan, `${kind} plan`).not.toMatch(/Seq Scan|Sort/);
    }
    return custom;
  }

  it('keyedCandidates probes idx_task_claim_key once per key and reads each key in claim order: no scan of the queue, no sort', async () => {
    const { query, params, result, statementMs, transactionMs } = await sent((db) => claim.keyedCandidates(db, 'keyed', T0, 'k04999', 40, 2), 9);
    expect(result.keys).toEqual(Array.from({ length: 40 }, (_, i) => `k${String(5000 + i).padStart(5, '0')}`));
    expect(result.tasks).toHaveLength(80);
    for (const task of result.tasks) expect(task.next_run_time).toBeLessThanOrEqual(T0);
    // two probes (the first key, then each next one) and each key's candidates
    await expectIndexed(query, params, 'idx_task_claim_key', 3);
    const analyzed = await customPlan(query, params, true);
    const execution = /Execution Time: ([\d.]+) ms/.exec(analyzed)?.[1];
    console.log(
      `[store-postgres] keyedCandidates (40 keys × 2 of ${TASKS} tasks over ${KEYS} keys), median of 9: ` +
        `statement ${statementMs.toFixed(2)} ms, transaction ${transactionMs.toFixed(2)} ms; server execution ${execution} ms\n${analyzed}`,
    );
    // from the first key, as a pass wrapping round starts
    const first = await sent((db) => claim.keyedCandidates(db, 'keyed', T0, null, 3, 1), 1);
    expect(first.result.keys).toEqual(['k00000', 'k00001', 'k00002']);
    await expectIndexed(first.query, first.params, 'idx_task_claim_key', 3);
  });

  it('unkeyedCandidates reads the name’s unkeyed range of idx_task_claim_key in claim order: no sort', async () => {
    const { query, params, result } = await sent((db) => claim.unkeyedCandidates(db, 'keyed', T0, 10), 1);
    expect(result).toHaveLength(10);
    expect(result.every((task) => task.concurrency_key === null)).toBe(true);
    const plan = await expectIndexed(query, params, 'idx_task_claim_key');
    console.log(`[store-postgres] unkeyedCandidates plan:\n${plan}`);
  });

  it('countStarts reads the window of idx_task_attempts_name_started: no scan of the attempts, no sort', async () => {
    const { query, params, result } = await sent((db) => claim.countStarts(db, 'keyed', T0 - 60_000, 100), 1);
    // one start every 40 ms of the name's (every 4th of one every 10 ms) in the last minute
    expect(result).toEqual({ count: 1500, max_th_latest: T0 - 99 * 40 });
    const plan = await expectIndexed(query, params, 'idx_task_attempts_name_started', 2);
    console.log(`[store-postgres] countStarts plan:\n${plan}`);
  });
});
