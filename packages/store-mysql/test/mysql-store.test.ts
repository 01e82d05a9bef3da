import { readFileSync } from 'node:fs';
import {
  ConfigurationError,
  type Store,
  StoreError,
  StoreUnavailableError,
  type Task,
} from '@taskmill/contracts';
import mysql from 'mysql2/promise';
import { T0, newChild, newTask } from '@taskmill/store-testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { changes } from '@taskmill/store-kit';
import { openConnection } from '../src/connection.js';
import { createMysqlStore } from '../src/index.js';
import { applyChanges } from '../src/task-rows.js';
import { inTransaction } from '../src/transaction.js';
import { adminOptions, describeServer, recordingPool, TestDatabases, urlFor, type SentQuery } from './mysql-harness.js';

/** Migrations in drizzle/meta/_journal.json. */
const MIGRATIONS = (JSON.parse(readFileSync(new URL('../drizzle/meta/_journal.json', import.meta.url), 'utf8')) as { entries: unknown[] }).entries.length;

const task = newTask;

describe('createMysqlStore options (no server needed)', () => {
  it.each([
    ['a non-URL string', 'not a url'],
    ['another scheme', 'postgres://root@127.0.0.1:5432/test'],
    ['a URL without a database', 'mysql://root@127.0.0.1:3306'],
    ['a URL with a bad port', 'mysql://root@127.0.0.1:port/test'],
    ['an empty string', ''],
  ])('rejects %s with ConfigurationError', (_what, url) => {
    expect(() => createMysqlStore(url)).toThrow(ConfigurationError);
  });

  it('rejects options without url or pool, and bad pool sizes', () => {
    expect(() => createMysqlStore({})).toThrow(ConfigurationError);
    expect(() => createMysqlStore({ url: 'mysql://root@127.0.0.1/test', connectionLimit: 0 })).toThrow(ConfigurationError);
    expect(() => createMysqlStore({ pool: {} as never })).toThrow(ConfigurationError);
  });

  it('accepts mysql:// and mariadb:// URLs without connecting', async () => {
    // nothing listens on port 1: constructing must still succeed, the first call fails cleanly
    const store = createMysqlStore('mariadb://someone:secret@127.0.0.1:1/nowhere');
    expect(store.dialect).toBe('mysql');
    expect(store.capabilities).toEqual({ notify: true, skipLocked: true, orderedEventIds: false });
    expect(createMysqlStore({ url: 'mysql://root@127.0.0.1:1/x', wakeProbeInterval: 0 }).capabilities.notify).toBe(false);
    expect(() => createMysqlStore({ url: 'mysql://root@127.0.0.1:1/x', wakeProbeInterval: -5 })).toThrow(ConfigurationError);
    expect(() => createMysqlStore({ url: 'mysql://root@127.0.0.1:1/x', wakeProbeInterval: 1.5 })).toThrow(ConfigurationError);
    const error = await store.getTask(1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as StoreUnavailableError).cause).toBeDefined();
    await store.close();
  });

  it('finds nothing for ids that are not safe positive integers, without touching the server', async () => {
    const store = createMysqlStore('mysql://root@127.0.0.1:1/nowhere');
    for (const id of ['1 OR 1=1', 0, -1, 1.5, Number.MAX_SAFE_INTEGER + 2]) {
      expect(await store.getTask(id as number)).toBeNull();
    }
    await store.close();
  });
});


await describeServer('MySQL store against a server', () => {
  const dbs = new TestDatabases();
  const stores: Store[] = [];
  const track = (store: Store) => (stores.push(store), store);

  afterAll(async () => {
    for (const store of stores.reverse()) await store.close().catch(() => {});
    await dbs.cleanup();
  });

  async function connectionsTo(db: string): Promise<number[]> {
    const rows = (await dbs.query('SELECT id FROM information_schema.PROCESSLIST WHERE db = ?', [db])) as { id: number }[];
    return rows.map((r) => Number(r.id));
  }

  it('constructing a store opens no connection; the first call does', async () => {
    const db = await dbs.create();
    const store = track(createMysqlStore(urlFor(db)));
    expect(await connectionsTo(db)).toEqual([]);
    await store.setup();
    expect((await connectionsTo(db)).length).toBeGreaterThan(0);
  });

  it('setup() from 4 stores at once migrates exactly once, and again is a no-op', async () => {
    const db = await dbs.create();
    const four = [0, 1, 2, 3].map(() => track(createMysqlStore(urlFor(db))));
    await Promise.all(four.map((s) => s.setup()));
    const migrations = async () => dbs.query(`SELECT * FROM \`${db}\`.taskmill_migrations ORDER BY id`);
    const recorded = await migrations();
    // each migration of the journal applied exactly once
    expect(recorded).toHaveLength(MIGRATIONS);
    const [id] = await four[0].createTasks([task({ payload: '{"kept":true}' })], T0);
    const taskRows = () => dbs.query(`SELECT * FROM \`${db}\`.taskmill_tasks ORDER BY id`);
    const before = await taskRows();
    await four[0].setup();
    await four[1].setup();
    expect(await migrations()).toEqual(recorded);
    expect(await taskRows()).toEqual(before);
    expect((await four[0].getTask(id))?.payload).toEqual({ kept: true });
    // every table in the database is ours and carries the prefix (the database is shared with the application, docs/behaviour.md#schema)
    const tables = (await dbs.query(
      `SELECT table_name AS t, engine AS e, table_collation AS c FROM information_schema.TABLES WHERE table_schema = ? ORDER BY table_name`,
      [db],
    )) as { t: string; e: string; c: string }[];
    expect(tables.map((t) => t.t).sort()).toEqual(['taskmill_claim_locks', 'taskmill_health_minutes', 'taskmill_migrations', 'taskmill_paused_names', 'taskmill_task_attempts', 'taskmill_task_events', 'taskmill_task_signals', 'taskmill_tasks', 'taskmill_workers'].sort());
    for (const t of tables.filter((t) => t.t !== 'taskmill_migrations')) {
      expect(t.e).toBe('InnoDB');
      expect(t.c).toBe('utf8mb4_bin');
    }
    const others = (await dbs.query(
      `SELECT (SELECT COUNT(*) FROM information_schema.VIEWS WHERE table_schema = ?) + (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE routine_schema = ?) + (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE trigger_schema = ?) AS n`,
      [db, db, db],
    )) as { n: number }[];
    expect(Number(others[0].n)).toBe(0);
    const fks = (await dbs.query('SELECT COUNT(*) AS n FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE constraint_schema = ?', [db])) as {
      n: number;
    }[];
    expect(Number(fks[0].n)).toBe(0);
  });

  it('ids of multi-row inserts are exact when the server hands out ids in steps (auto_increment_increment)', async () => {
    const db = await dbs.create();
    const pool = mysql.createPool({ ...adminOptions(), database: db, connectionLimit: 2 });
    // as on a multi-primary cluster: every session of this pool hands out ids 2 apart
    pool.on('connection', (conn) => {
      conn.query('SET SESSION auto_increment_increment = 2');
    });
    try {
      const store = createMysqlStore({ pool });
      await store.setup();
      await store.createTasks([task()], T0);
      const ids = await store.createTasks([task({ tag: 'a' }), task({ tag: 'b' }), task({ tag: 'c' })], T0);
      const [rows] = await pool.query('SELECT id, tag FROM taskmill_tasks WHERE tag IS NOT NULL ORDER BY id');
      expect((rows as { id: number; tag: string }[]).map((r) => [Number(r.id), r.tag])).toEqual([
        [ids[0], 'a'],
        [ids[1], 'b'],
        [ids[2], 'c'],
      ]);
      expect(ids[1] - ids[0]).toBe(2);
      const [claimed] = await store.claimTasks({ worker_id: 'w', now: T0, limit: 1, names: ['job'] });
      const fence = { task_id: claimed.id, worker_id: 'w', attempt: claimed.attempt };
      const eventId = await store.recordTaskNote(claimed.id, fence, { event_type: 'task_checkpoint', message: 'c', metadata: { code: 'c' } }, T0 + 1);
      const [events] = await pool.query('SELECT id, event_type FROM taskmill_task_events WHERE id = ?', [eventId]);
      expect(events).toEqual([{ id: eventId, event_type: 'task_checkpoint' }]);
      await store.close();
    } finally {
      await pool.end();
    }
  });

  it('createTasks of a batch larger than max_allowed_packet is split into several INSERTs, ids in input order', async () => {
    const store = track(await dbs.store());
    const [row] = (await dbs.query('SELECT @@max_allowed_packet AS max')) as { max: number }[];
    const each = 2 * 1024 * 1024;
    const count = Math.floor(Number(row.max) / each) + 2;
    const payload = (i: number) => JSON.stringify({ i, pad: 'x'.repeat(each) });
    const ids = await store.createTasks(Array.from({ length: count }, (_, i) => task({ payload: payload(i) })), T0);
    expect(ids).toHaveLength(count);
    for (const [i, id] of ids.entries()) expect(((await store.getTask(id))?.payload as { i: number }).i).toBe(i);
  });

  it('heartbeatWorker replaces meta when given and leaves it alone when not', async () => {
    const store = track(await dbs.store());
    await store.registerWorker({ worker_id: 'w', pod_id: null, host: 'h', pid: 1, meta: { a: 1 }, now: T0, ttl_ms: 1_000 });
    expect((await store.heartbeatWorker('w', T0 + 1, 1_000))?.meta).toEqual({ a: 1 });
    expect((await store.heartbeatWorker('w', T0 + 2, 1_000, { outlived: [7] }))?.meta).toEqual({ outlived: [7] });
    expect((await store.heartbeatWorker('w', T0 + 3, 1_000))?.meta).toEqual({ outlived: [7] });
    const cleared = await store.heartbeatWorker('w', T0 + 4, 1_000, null);
    expect(cleared?.meta).toBeNull();
    expect(cleared?.expires_at).toBe(T0 + 1_004);
  });

  it('a pool passed in is used and left open by close()', async () => {
    const db = await dbs.create();
    const pool = mysql.createPool({ ...adminOptions(), database: db, connectionLimit: 2 });
    try {
      const store = createMysqlStore({ pool });
      await store.setup();
      const [id] = await store.createTasks([task()], T0);
      expect((await store.getTask(id))?.status).toBe('pending');
      await store.close();
      const [rows] = await pool.query('SELECT COUNT(*) AS n FROM taskmill_tasks');
      expect(Number((rows as { n: number }[])[0].n)).toBe(1);
    } finally {
      await pool.end();
    }
  });

  it('the claim reads each claimable status along idx_task_claim_order: no row sorted but the merged LIMITs, with 65,536 due tasks', async () => {
    const db = await dbs.create();
    const pool = mysql.createPool({ ...adminOptions(), database: db, connectionLimit: 2 });
    const statements: SentQuery[] = [];
    // record what the store sends: each connection it takes from the pool logs its queries
    const recording = recordingPool(pool, statements);
    try {
      const store = createMysqlStore({ pool: recording });
      await store.setup();
      await store.createTasks([task({ name: 'job' })], T0);
      for (let i = 0; i < 16; i++) {
        await pool.query(
          `INSERT INTO taskmill_tasks (name, type, payload, priority, next_run_time, timeout, max_retries, retry_interval, status, created_at)
           SELECT name, type, payload, (id % 5) - 2, next_run_time - (id % 7), timeout, max_retries, retry_interval, status, created_at FROM taskmill_tasks`,
        );
      }
      await pool.query('ANALYZE TABLE taskmill_tasks');
      statements.length = 0;
      const claimed = await store.claimTasks({ worker_id: 'w', now: T0, limit: 10, names: ['job'] });
      expect(claimed).toHaveLength(10);
      expect(claimed.every((t) => t.priority === 2)).toBe(true);
      const peeks = statements.filter((s) => s.sql.includes('UNION ALL'));
      expect(peeks.length).toBeGreaterThan(0);
      const [plan] = (await pool.query(`EXPLAIN ${peeks[0].sql}`, peeks[0].values as never[])) as unknown as [Record<string, unknown>[]];
      const branches = plan.filter((row) => row.table === 'taskmill_tasks');
      expect(branches).toHaveLength(3);
      for (const row of branches) {
        expect(row.key).toBe('idx_task_claim_order');
        expect(String(row.Extra)).toContain('Using index');
        expect(String(row.Extra)).not.toContain('filesort');
        expect(row.type).not.toBe('ALL');
      }
      await store.close();
    } finally {
      await pool.end();
    }
  });

  it('the wake-up probe (wakeBell: false) wakes a listener in another store when a task is committed there, and not before', async () => {
    const db = await dbs.create();
    const listener = track(createMysqlStore({ url: urlFor(db), wakeBell: false, wakeProbeInterval: 20 }));
    const producer = track(createMysqlStore(urlFor(db)));
    await listener.setup();
    let wakes = 0;
    const stop = await listener.listen!(() => wakes++);
    // idle: nothing happened, so no wake-up however many probes ran
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(wakes).toBe(0);
    const started = Date.now();
    await producer.createTasks([task()], T0);
    while (wakes === 0 && Date.now() - started < 5_000) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(wakes).toBeGreaterThan(0);
    expect(Date.now() - started).toBeLessThan(1_000);
    await stop();
    const after = wakes;
    await producer.createTasks([task()], T0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(wakes).toBe(after);
  });

  it('stores large contexts (LONGBLOB) and payloads beyond 64 KiB', async () => {
    const store = track(await dbs.store());
    const big = JSON.stringify({ text: 'x'.repeat(200_000) });
    const [id] = await store.createTasks([task({ payload: big })], T0);
    const [claimed] = await store.claimTasks({ worker_id: 'w', now: T0, limit: 1, names: ['job'] });
    const context = new Uint8Array(100_000).map((_, i) => i % 251);
    const res = await store.finishAttempt(
      { task_id: id, worker_id: 'w', attempt: claimed.attempt },
      { kind: 'suspended', reason: 'wait', context },
      T0 + 1,
    );
    expect(res.applied).toBe(true);
    const stored = await store.getTask(id);
    expect((stored?.payload as { text: string }).text.length).toBe(200_000);
    expect(Buffer.from(stored!.context!).equals(Buffer.from(context))).toBe(true);
  });

  it('after its connections are KILLed the store works again, and outages are StoreUnavailableError', async () => {
    const store = track(await dbs.store());
    const db = dbs.database(store);
    const [id] = await store.createTasks([task()], T0);
    // open several pooled connections
    await Promise.all([0, 1, 2, 3].map(() => store.getTask(id)));
    const victims = await connectionsTo(db);
    expect(victims.length).toBeGreaterThan(0);
    for (const victim of victims) await dbs.query(`KILL ${Number(victim)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    // dead pooled connections are discarded and the work is run on a fresh one
    expect((await store.getTask(id))?.id).toBe(id);
    const [claimed] = await store.claimTasks({ worker_id: 'w', now: T0, limit: 1, names: ['job'] });
    expect(claimed.id).toBe(id);

    // kill while idle again, then a transactional write must still go through exactly once
    for (const victim of await connectionsTo(db)) await dbs.query(`KILL ${Number(victim)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const res = await store.finishAttempt({ task_id: id, worker_id: 'w', attempt: 1 }, { kind: 'completed', result: '1' }, T0 + 1);
    expect(res.applied).toBe(true);
    expect((await dbs.rawRows(store, 'taskmill_task_events', { task_id: id, event_type: 'task_completed' })).length).toBe(1);
  });

  it('maps other database errors to StoreError with the driver error as cause', async () => {
    const store = track(await dbs.store());
    await dbs.query(`DROP TABLE \`${dbs.database(store)}\`.taskmill_tasks`);
    const error = await store.getTask(1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).not.toBeInstanceOf(StoreUnavailableError);
    expect((error as StoreError).cause).toMatchObject({ code: 'ER_NO_SUCH_TABLE' });
  });

  it('a grouped applyChanges decides each guard on the locked row: a stale guard writes nothing, the others apply with their attempt rows and events', async () => {
    const db = await dbs.create();
    const store = track(createMysqlStore(urlFor(db)));
    await store.setup();
    await store.createTasks([task({ name: 'g' }), task({ name: 'g' }), task({ name: 'g' })], T0);
    const [a, b, c] = (await store.claimTasks({ worker_id: 'w1', now: T0 + 1, limit: 3, names: ['g'] })).sort((x, y) => x.id - y.id);
    const connection = openConnection(urlFor(db));
    const now = T0 + 2;
    const stale = changes.complete(b, null, now);
    const list = [changes.complete(a, '"ok"', now), { ...stale, guard: { ...stale.guard!, attempt: 99 } }, changes.note(c, { event_type: 'task_checkpoint', message: 'm', metadata: {} }, null, now)];
    try {
      const { applied, event_ids } = await inTransaction(connection, 'test', (conn) => applyChanges(conn, list));
      expect(applied).toEqual([true, false, true]);
      expect(event_ids).toHaveLength(2);
    } finally {
      await connection.close();
    }
    const statusOf = async (id: number) => (await store.getTask(id))?.status;
    expect([await statusOf(a.id), await statusOf(b.id), await statusOf(c.id)]).toEqual(['completed', 'running', 'running']);
    const attempts = (await dbs.query(`SELECT task_id, ended_at, outcome FROM \`${db}\`.taskmill_task_attempts ORDER BY task_id`)) as { task_id: number; ended_at: number | null; outcome: string | null }[];
    expect(attempts.map((r) => [Number(r.task_id), r.ended_at === null ? null : Number(r.ended_at), r.outcome])).toEqual([
      [a.id, now, 'completed'],
      [b.id, null, null],
      [c.id, null, null],
    ]);
    const events = (await dbs.query(`SELECT task_id, event_type FROM \`${db}\`.taskmill_task_events WHERE event_time = ? ORDER BY id`, [now])) as { task_id: number; event_type: string }[];
    expect(events.map((e) => [Number(e.task_id), e.event_type])).toEqual([
      [a.id, 'task_completed'],
      [c.id, 'task_checkpoint'],
    ]);
  });

  it('4 store instances claim 2,000 tasks concurrently: each exactly once, no deadlock surfaces', async () => {
    const first = track(await dbs.store());
    const peers = [first, ...(await Promise.all([0, 1, 2].map(() => dbs.peer(first).then(track))))];
    const total = 2_000;
    for (let i = 0; i < total; i += 500) {
      await first.createTasks(
        Array.from({ length: 500 }, (_, j) => task({ name: (i + j) % 3 === 0 ? 'a' : 'b', priority: (i + j) % 5 })),
        T0,
      );
    }
    const claimedBy = new Map<number, string>();
    let duplicates = 0;
    const loop = async (store: Store, worker: string) => {
      let idle = 0;
      while (claimedBy.size < total && idle < 200) {
        const got: Task[] = await store.claimTasks({ worker_id: worker, now: T0, limit: 25, names: ['a', 'b'], name_limits: { a: 10 } });
        if (got.length === 0) {
          idle += 1;
          await new Promise((resolve) => setTimeout(resolve, 2));
          continue;
        }
        idle = 0;
        expect(got.filter((t) => t.name === 'a').length).toBeLessThanOrEqual(10);
        for (const t of got) {
          if (claimedBy.has(t.id)) duplicates += 1;
          claimedBy.set(t.id, worker);
          expect(t.status).toBe('running');
          expect(t.worker_id).toBe(worker);
        }
      }
    };
    await Promise.all(peers.flatMap((store, i) => [loop(store, `w${i}a`), loop(store, `w${i}b`)]));
    expect(duplicates).toBe(0);
    expect(claimedBy.size).toBe(total);
    const rows = await dbs.rawRows(first, 'taskmill_tasks');
    expect(rows.every((r) => r.status === 'running' && Number(r.attempt) === 1 && r.worker_id === claimedBy.get(Number(r.id)))).toBe(true);
    expect((await dbs.rawRows(first, 'taskmill_task_attempts')).length).toBe(total);
    expect((await dbs.rawRows(first, 'taskmill_task_events', { event_type: 'task_claimed' })).length).toBe(total);
    // every worker got a share
    expect(new Set(claimedBy.values()).size).toBeGreaterThan(1);
  });

  it('40 children completed concurrently from 4 instances credit the parent exactly 40 times and resume it once', async () => {
    const first = track(await dbs.store());
    const peers = [first, ...(await Promise.all([0, 1, 2].map(() => dbs.peer(first).then(track))))];
    const [parentId] = await first.createTasks([task({ name: 'parent' })], T0);
    const [parent] = await first.claimTasks({ worker_id: 'p', now: T0, limit: 1, names: ['parent'] });
    const children = Array.from({ length: 40 }, (_, i) => newChild({ payload: JSON.stringify({ i }), max_retries: 1 }));
    const spawned = await first.finishAttempt({ task_id: parentId, worker_id: 'p', attempt: parent.attempt }, { kind: 'spawned', children }, T0 + 1);
    expect(spawned.child_ids).toHaveLength(40);
    // SKIP LOCKED may hand a claimer fewer rows than it asked for while peers hold locks: each
    // peer claims until nothing is left, as a worker loop would
    const claims = await Promise.all(
      peers.map(async (s, i) => {
        const mine = [];
        for (;;) {
          const batch = await s.claimTasks({ worker_id: `w${i}`, now: T0 + 2, limit: 10, names: ['child'] });
          if (batch.length === 0) return mine;
          mine.push(...batch);
        }
      }),
    );
    expect(claims.flat()).toHaveLength(40);
    expect(new Set(claims.flat().map((c) => c.id)).size).toBe(40);
    await Promise.all(
      claims.flatMap((batch, i) =>
        batch.map((child, j) =>
          (j % 4 === 3
            ? peers[i].finishAttempt({ task_id: child.id, worker_id: `w${i}`, attempt: child.attempt }, { kind: 'failed', status: 'failed', error: `e${child.id}` }, T0 + 3)
            : peers[i].finishAttempt({ task_id: child.id, worker_id: `w${i}`, attempt: child.attempt }, { kind: 'completed', result: String(child.id) }, T0 + 3)
          ).then((r) => expect(r.applied).toBe(true)),
        ),
      ),
    );
    const after = await first.getTask(parentId);
    expect(after?.completed_children).toBe(40);
    expect(after?.total_children).toBe(40);
    expect(after?.status).toBe('pending');
    expect(after?.stage).toBe(1);
    const results = after?.result as { task_id: number }[];
    expect(results.map((r) => r.task_id)).toEqual([...spawned.child_ids].sort((a, b) => a - b));
    const resumes = (await dbs.rawRows(first, 'taskmill_task_events', { task_id: parentId, event_type: 'task_status_changed', to_status: 'pending' })).length;
    expect(resumes).toBe(1);
    const credited = await dbs.rawRows(first, 'taskmill_tasks', { parent_id: parentId, parent_credited: 1 });
    expect(credited).toHaveLength(40);
  });
});
