import { readFileSync } from 'node:fs';
import { ConfigurationError, type Store, StoreUnavailableError, TaskmillError } from '@taskmill/contracts';
import postgres from 'postgres';
import { T0, newTask } from '@taskmill/store-testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeUrl, openConnection } from '../src/connection.js';
import { createPostgresStore } from '../src/index.js';
import { wake } from '../src/notify.js';
import { write } from '../src/transaction.js';
import { freshSchema, PG_URL, probeServer, recordingClient, type SentStatement } from './pg-harness.js';

/** Migrations in drizzle/meta/_journal.json. */
const MIGRATIONS = (JSON.parse(readFileSync(new URL('../drizzle/meta/_journal.json', import.meta.url), 'utf8')) as { entries: unknown[] }).entries.length;

const task = newTask;

describe('connection options', () => {
  it('accepts postgres://, postgresql:// and psql:// (rewritten to postgres://)', () => {
    expect(normalizeUrl('postgres://u@db:5432/app')).toBe('postgres://u@db:5432/app');
    expect(normalizeUrl('postgresql://u@db/app')).toBe('postgresql://u@db/app');
    expect(normalizeUrl('psql://u:p@db:5433/app?sslmode=disable')).toBe('postgres://u:p@db:5433/app?sslmode=disable');
    for (const url of ['postgres://u@db/app', 'postgresql://u@db/app', 'psql://u@db/app']) {
      const store = createPostgresStore(url);
      expect(store.dialect).toBe('postgres');
      expect(store.capabilities).toEqual({ notify: true, skipLocked: true, orderedEventIds: false });
    }
  });

  it('rejects bad URLs and options with ConfigurationError', () => {
    const bad: unknown[] = ['', '   ', 'not a url', 'mysql://root@db/app', 'sqlite::memory:', 'http://db/app', 'postgres://', undefined];
    for (const url of bad) {
      expect(() => createPostgresStore(url as string), String(url)).toThrow(ConfigurationError);
    }
    expect(() => createPostgresStore({})).toThrow(ConfigurationError);
    expect(() => createPostgresStore({ url: PG_URL, schema: 'bad-name; DROP' })).toThrow(ConfigurationError);
    expect(() => createPostgresStore({ url: PG_URL, max: 0 })).toThrow(ConfigurationError);
    expect(() => createPostgresStore({ client: {} as never })).toThrow(ConfigurationError);
    expect(() => createPostgresStore(`${PG_URL}?schema=bad-name;DROP`)).toThrow(ConfigurationError);
    expect(() => createPostgresStore(`${PG_URL}?schema=`)).toThrow(ConfigurationError);
    expect(() => createPostgresStore({ url: `${PG_URL}?schema=a`, schema: 'b' })).toThrow(/schema given twice/);
  });

  it('never connects while constructing; the first call fails with StoreUnavailableError', async () => {
    const store = createPostgresStore({ url: 'postgres://nobody@127.0.0.1:1/none', connect_timeout: 2 });
    const error = await store.getTask(1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as TaskmillError).cause).toBeDefined();
    await store.close();
  });
});

const unreachable = await probeServer();

describe.skipIf(unreachable !== null)(`postgres store${unreachable ? ` [skipped: ${unreachable}]` : ''}`, () => {
  const schemas: string[] = [];
  let admin: postgres.Sql;

  beforeAll(() => {
    admin = postgres(PG_URL, { max: 2, onnotice: () => {} });
  });
  afterAll(async () => {
    for (const schema of schemas) await admin`DROP SCHEMA IF EXISTS ${admin(schema)} CASCADE`;
    await admin.end({ timeout: 5 });
  });

  function schema(): string {
    const name = freshSchema();
    schemas.push(name);
    return name;
  }

  async function withStores<T>(count: number, name: string, fn: (stores: Store[]) => Promise<T>): Promise<T> {
    const stores = Array.from({ length: count }, () => createPostgresStore({ url: PG_URL, schema: name, max: 4 }));
    try {
      return await fn(stores);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  }

  it('setup() from 4 stores at once migrates once, and again is a no-op', async () => {
    const name = schema();
    await withStores(4, name, async (stores) => {
      await Promise.all(stores.map((s) => s.setup()));
      await stores[0].setup();
    });
    const tables = await admin`
      SELECT table_name FROM information_schema.tables WHERE table_schema = ${name} ORDER BY table_name`;
    expect(tables.map((r) => r.table_name)).toEqual([
      'taskmill_health_minutes',
      'taskmill_migrations',
      'taskmill_paused_names',
      'taskmill_task_attempts',
      'taskmill_task_events',
      'taskmill_task_signals',
      'taskmill_tasks',
      'taskmill_workers',
    ]);
    const [{ n }] = await admin`SELECT count(*)::int AS n FROM ${admin(`${name}.taskmill_migrations`)}`;
    // each migration of the journal applied exactly once
    expect(n).toBe(MIGRATIONS);
    const indexes = await admin`SELECT indexname FROM pg_indexes WHERE schemaname = ${name}`;
    expect(indexes.map((r) => r.indexname)).toEqual(
      expect.arrayContaining([
        'idx_task_scheduling',
        'idx_task_claim_key',
        'idx_task_attempts_task_attempt',
        'idx_task_attempts_name_started',
        'idx_task_workers_pod_status',
      ]),
    );
    // dropped by "lean_writes": an index entry per claim or attempt that no query needed
    expect(indexes.map((r) => r.indexname)).not.toContain('idx_task_attempts_task_open');
    expect(indexes.map((r) => r.indexname)).not.toContain('idx_task_running_worker');
    const [{ reloptions }] = await admin`SELECT reloptions FROM pg_class WHERE oid = ${`${name}.taskmill_task_attempts`}::regclass`;
    expect(reloptions).toEqual(['fillfactor=90']);
  });

  it('a schema query parameter of the URL picks the schema (and is not sent to the server)', async () => {
    const name = schema();
    const url = new URL(PG_URL);
    url.searchParams.set('schema', name);
    const store = createPostgresStore(url.toString().replace(/^postgres:/, 'psql:'));
    try {
      await store.setup();
      const [id] = await store.createTasks([task()], T0);
      expect((await store.getTask(id))?.id).toBe(id);
    } finally {
      await store.close();
    }
    const [{ n }] = await admin`SELECT count(*)::int AS n FROM ${admin(`${name}.taskmill_tasks`)}`;
    expect(n).toBe(1);
    // the same schema given both ways is fine
    const same = createPostgresStore({ url: url.toString(), schema: name });
    try {
      expect(await same.queryTasks({})).toMatchObject({ total: 1 });
    } finally {
      await same.close();
    }
  });

  /** Table names of a schema, sorted. */
  async function tablesOf(name: string): Promise<string[]> {
    const rows = await admin`SELECT table_name FROM information_schema.tables WHERE table_schema = ${name} ORDER BY table_name`;
    return rows.map((r) => String(r.table_name));
  }

  /** The bookkeeping rows of a table, without their serial ids. */
  async function bookkeeping(name: string, table: string): Promise<Array<{ hash: string; created_at: string }>> {
    const rows = await admin`SELECT hash, created_at FROM ${admin(`${name}.${table}`)} ORDER BY created_at`;
    return rows.map((r) => ({ hash: String(r.hash), created_at: String(r.created_at) }));
  }

  /** Put the bookkeeping back where earlier versions of this store kept it. */
  async function toLegacyLayout(name: string): Promise<void> {
    await admin`ALTER TABLE ${admin(`${name}.taskmill_migrations`)} RENAME TO __drizzle_migrations`;
    await admin`ALTER SEQUENCE ${admin(`${name}.taskmill_migrations_id_seq`)} RENAME TO __drizzle_migrations_id_seq`;
  }

  it('setup() moves the bookkeeping of an earlier database to taskmill_migrations: nothing re-run or lost, old table gone', async () => {
    const name = schema();
    await withStores(1, name, async ([store]) => {
      await store.setup();
      const applied = await bookkeeping(name, 'taskmill_migrations');
      expect(applied).toHaveLength(MIGRATIONS);
      await toLegacyLayout(name);
      expect(await tablesOf(name)).toContain('__drizzle_migrations');
      const [id] = await store.createTasks([task({ payload: '{"keep":true}', tag: 'before-upgrade' })], T0);
      const before = await store.getTask(id);

      await store.setup();

      expect(await store.getTask(id)).toEqual(before);
      const tables = await tablesOf(name);
      expect(tables).toContain('taskmill_migrations');
      expect(tables).not.toContain('__drizzle_migrations');
      expect(await bookkeeping(name, 'taskmill_migrations')).toEqual(applied);

      // a second setup() is a no-op
      await store.setup();
      expect(await bookkeeping(name, 'taskmill_migrations')).toEqual(applied);
      expect(await tablesOf(name)).toEqual(tables);
      expect(await store.getTask(id)).toEqual(before);
    });
  });

  it('setup() leaves rows that are not ours in __drizzle_migrations (an application sharing the schema)', async () => {
    const name = schema();
    await withStores(1, name, async ([store]) => {
      await store.setup();
      const applied = await bookkeeping(name, 'taskmill_migrations');
      await toLegacyLayout(name);
      await admin`INSERT INTO ${admin(`${name}.__drizzle_migrations`)} (hash, created_at) VALUES ('app-migration', 1)`;

      await store.setup();

      expect(await bookkeeping(name, 'taskmill_migrations')).toEqual(applied);
      expect(await bookkeeping(name, '__drizzle_migrations')).toEqual([{ hash: 'app-migration', created_at: '1' }]);
    });
  });

  it('each claim query reads a claim-order index and stops after LIMIT rows: no sort of the due queue', async () => {
    const name = schema();
    const statements: SentStatement[] = [];
    const client = recordingClient(statements);
    try {
      const store = createPostgresStore({ client, schema: name });
      await store.setup();
      await admin`
        INSERT INTO ${admin(`${name}.taskmill_tasks`)} (name, type, priority, created_at, status, next_run_time, timeout, max_retries)
        SELECT CASE WHEN g % 500 = 0 THEN 'rare' ELSE 'job' END, 'async', g % 7, ${T0}::int8, 'pending', ${T0}::int8 - g, 60, 3
        FROM generate_series(1, 20000) AS g`;
      await admin`ANALYZE ${admin(`${name}.taskmill_tasks`)}`;
      statements.length = 0;
      const claimed = await store.claimTasks({ worker_id: 'w', now: T0, limit: 10, names: ['job', 'rare'], name_limits: { rare: 2 } });
      expect(claimed).toHaveLength(10);
      const candidates = statements.filter((s) => s.query.includes('SKIP LOCKED') && s.query.includes('ORDER BY priority'));
      expect(candidates).toHaveLength(2);
      for (const { query, params } of candidates) {
        const plan = (await admin.unsafe(`EXPLAIN ${query}`, params as never[])).map((r) => String(r['QUERY PLAN'])).join('\n');
        expect(plan).toMatch(/Index Scan using idx_task_(scheduling|claim_name)/);
        expect(plan).not.toMatch(/Sort|Seq Scan/);
      }
      await store.close();
    } finally {
      await client.end({ timeout: 5 });
    }
  });

  it("a workflow's event page reads its children's events and the root's own as two ordered ranges; a task outside a workflow has no entry in the root index", async () => {
    const name = schema();
    const statements: SentStatement[] = [];
    const client = recordingClient(statements);
    try {
      const store = createPostgresStore({ client, schema: name });
      await store.setup();
      const events = admin(`${name}.taskmill_task_events`);
      // workflow 1: the root's own 50 events (root_id is the task itself, as for any top-level task)
      // and 10,000 of its children's; and 200,000 events of top-level tasks of their own (a workflow a
      // few percent of the log: a plain UNION ALL under the page's ORDER BY … LIMIT is then planned
      // as a bitmap scan of the whole workflow and a sort)
      await admin`
        INSERT INTO ${events} (task_id, root_id, parent_id, event_type, event_time)
        SELECT 1, 1, NULL, 'task_started', ${T0}::int8 + g * 400 FROM generate_series(1, 50) AS g
        UNION ALL SELECT 1000 + g, 1, 1, 'task_started', ${T0}::int8 + g * 2 FROM generate_series(1, 10000) AS g
        UNION ALL SELECT 100000 + g, 100000 + g, NULL, 'task_started', ${T0}::int8 + g FROM generate_series(1, 200000) AS g`;
      await admin`ANALYZE ${events}`;
      const [{ entries }] = await admin`
        SELECT count(*)::int AS entries FROM ${events} WHERE task_id <> root_id`;
      expect(entries).toBe(10_000);
      const [{ indexdef }] = await admin`SELECT indexdef FROM pg_indexes WHERE schemaname = ${name} AND indexname = 'idx_task_events_root_time'`;
      expect(indexdef).toMatch(/WHERE \(task_id <> root_id\)/);

      const expected = async (order: 'ASC' | 'DESC', after: number | null) =>
        (
          await admin`SELECT id FROM ${events} WHERE root_id = 1 AND ${after === null ? admin`TRUE` : order === 'ASC' ? admin`event_time >= ${T0 + after}` : admin`event_time <= ${T0 + after}`}
            ORDER BY event_time ${admin.unsafe(order)}, id ${admin.unsafe(order)} LIMIT 60`
        ).map((r) => Number(r.id));
      for (const order of ['asc', 'desc'] as const) {
        statements.length = 0;
        const page = await store.queryWorkflowEvents(1, { limit: 30, order });
        expect(page.total).toBe(10_050);
        expect(page.items.map((e) => e.id)).toEqual((await expected(order === 'asc' ? 'ASC' : 'DESC', null)).slice(0, 30));
        const next = await store.queryWorkflowEvents(1, { limit: 30, cursor: page.next_cursor! });
        const last = page.items[page.items.length - 1].event_time - T0;
        expect(next.items.map((e) => e.id)).toEqual((await expected(order === 'asc' ? 'ASC' : 'DESC', last)).filter((id) => !page.items.some((e) => e.id === id)).slice(0, 30));
        // the first page and the cursor's
        const reads = statements.filter((s) => s.query.includes('task_id <> root_id') && s.query.includes('ORDER BY'));
        expect(reads).toHaveLength(2);
        for (const read of reads) {
          const plan = (await admin.unsafe(`EXPLAIN ${read.query}`, read.params as never[])).map((r) => String(r['QUERY PLAN'])).join('\n');
          // the children's range in index order, the root's own from the task index, merged: no
          // bitmap scan of the whole workflow and no sort of it, no sequential scan
          expect(plan).toMatch(/Index Scan( Backward)? using idx_task_events_root_time/);
          expect(plan).toMatch(/using idx_task_events_task_time/);
          expect(plan).toMatch(/Merge Append/);
          expect(plan).not.toMatch(/Seq Scan|Bitmap/);
        }
      }
      // a root's own events alone (a task outside a workflow) are its whole workflow
      const alone = await store.queryWorkflowEvents(100_001, {});
      expect(alone.items.map((e) => [e.task_id, e.root_id])).toEqual([[100_001, 100_001]]);
      await store.close();
    } finally {
      await client.end({ timeout: 5 });
    }
  });

  it('a client passed in is used and not ended by close()', async () => {
    const client = postgres(PG_URL, { max: 2, onnotice: () => {} });
    try {
      const store = createPostgresStore({ client, schema: schema() });
      await store.setup();
      const [id] = await store.createTasks([task()], T0);
      expect((await store.getTask(id))?.status).toBe('pending');
      await store.close();
      const [{ one }] = await client`SELECT 1 AS one`;
      expect(one).toBe(1);
    } finally {
      await client.end({ timeout: 5 });
    }
  });

  it('LISTEN/NOTIFY wakes a store in another instance when a task becomes due', async () => {
    const name = schema();
    await withStores(2, name, async ([listener, producer]) => {
      await listener.setup();
      let wake: () => void = () => {};
      let wakes = 0;
      const unsubscribe = await listener.listen!(() => {
        wakes++;
        wake();
      });
      const latencies: number[] = [];
      for (let i = 0; i < 5; i++) {
        const woken = new Promise<void>((resolve) => (wake = resolve));
        const started = performance.now();
        await producer.createTasks([task()], T0);
        await woken;
        latencies.push(performance.now() - started);
      }
      const sorted = [...latencies].sort((a, b) => a - b);
      console.log(
        `[store-postgres] NOTIFY wake-up latency (createTasks call → listener callback, includes the INSERT transaction), ms: ` +
          `median ${sorted[2].toFixed(2)}, max ${sorted[4].toFixed(2)} (${latencies.map((l) => l.toFixed(2)).join(', ')})`,
      );
      expect(sorted[2]).toBeLessThan(200);

      // a task scheduled for later does not wake anyone
      const before = wakes;
      await producer.createTasks([task({ next_run_time: T0 + 60_000 })], T0);
      await new Promise((r) => setTimeout(r, 100));
      expect(wakes).toBe(before);

      await unsubscribe();
      await producer.createTasks([task()], T0);
      await new Promise((r) => setTimeout(r, 100));
      expect(wakes).toBe(before);
    });
  });

  it('a schema of the longest allowed name (63 characters) enqueues, wakes its listeners and claims', async () => {
    const base = schema();
    const name = `${base}_${'x'.repeat(62 - base.length)}`;
    expect(name).toHaveLength(63);
    schemas.push(name);
    // before, its channel taskmill_<schema> (72 bytes) made pg_notify fail every enqueue of a due task
    await withStores(2, name, async ([listener, producer]) => {
      await listener.setup();
      let wakes = 0;
      const unsubscribe = await listener.listen!(() => wakes++);
      const [id] = await producer.createTasks([task()], T0);
      const started = Date.now();
      while (wakes === 0 && Date.now() - started < 5_000) await new Promise((r) => setTimeout(r, 5));
      expect(wakes).toBeGreaterThan(0);
      expect(await listener.claimTasks({ worker_id: 'w1', now: T0, limit: 1, names: ['job'] })).toMatchObject([{ id, status: 'running' }]);
      await unsubscribe();
    });
    // two long names alike in their first 37 characters get channels of their own
    const other = `${name.slice(0, 62)}y`;
    schemas.push(other);
    await withStores(2, other, async ([listener, producer]) => {
      await listener.setup();
      await producer.setup();
      let wakes = 0;
      const unsubscribe = await listener.listen!(() => wakes++);
      await withStores(1, name, async ([elsewhere]) => {
        await elsewhere.createTasks([task()], T0);
      });
      await new Promise((r) => setTimeout(r, 200));
      expect(wakes).toBe(0);
      await producer.createTasks([task()], T0);
      const started = Date.now();
      while (wakes === 0 && Date.now() - started < 5_000) await new Promise((r) => setTimeout(r, 5));
      expect(wakes).toBeGreaterThan(0);
      await unsubscribe();
    });
  });

  it('a wake-up NOTIFY sent without waiting for its answer that fails rolls its transaction back, last statement or not', async () => {
    const name = schema();
    await admin`CREATE SCHEMA ${admin(name)}`;
    await admin`CREATE TABLE ${admin(name)}.probe (n int)`;
    const connection = openConnection({ url: PG_URL, schema: name });
    const probe = connection.sql(`${name}.probe`);
    // 64 bytes: pg_notify refuses the channel, as it did for long schemas before channelFor
    const broken = 'x'.repeat(64);
    try {
      for (const after of [false, true]) {
        const error = await write(connection, 'probe', async (db) => {
          await db.sql`INSERT INTO ${probe} VALUES (1)`;
          await wake({ ...db, channel: broken });
          if (after) await db.sql`INSERT INTO ${probe} VALUES (2)`;
          return 'done';
        }).then(
          () => null,
          (e: unknown) => e,
        );
        expect(error, `NOTIFY ${after ? 'followed by a statement' : 'last'}`).toBeInstanceOf(TaskmillError);
        expect(String((error as Error).message)).toMatch(/channel name too long|current transaction is aborted/);
        expect(await admin`SELECT count(*)::int AS n FROM ${admin(name)}.probe`).toEqual([{ n: 0 }]);
      }
      // and the same transaction with a good channel commits
      await write(connection, 'probe', async (db) => {
        await db.sql`INSERT INTO ${probe} VALUES (1)`;
        await wake(db);
      });
      expect(await admin`SELECT count(*)::int AS n FROM ${admin(name)}.probe`).toEqual([{ n: 1 }]);
    } finally {
      await connection.sql.end({ timeout: 1 });
    }
  });

  it('survives pg_terminate_backend: the call fails as StoreUnavailableError or succeeds, later calls work', async () => {
    const name = schema();
    await withStores(1, name, async ([store]) => {
      await store.setup();
      const [id] = await store.createTasks([task()], T0);
      expect((await store.getTask(id))?.id).toBe(id);

      const killed = await admin`
        SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
        WHERE pid <> pg_backend_pid() AND datname = current_database() AND query LIKE ${`%${name}%`}`;
      expect(killed.length).toBeGreaterThan(0);

      const outcome = await store.getTask(id).then(
        (t) => ({ ok: t?.id === id }),
        (e: unknown) => ({ error: e }),
      );
      if ('error' in outcome) {
        expect(outcome.error).toBeInstanceOf(StoreUnavailableError);
        expect((outcome.error as TaskmillError).cause).toBeDefined();
      } else {
        expect(outcome.ok).toBe(true);
      }
      // the pool reconnects: a later call (and a transaction) work again
      let recovered = false;
      for (let i = 0; i < 5 && !recovered; i++) {
        recovered = await store.getTask(id).then(
          (t) => t?.id === id,
          () => false,
        );
      }
      expect(recovered).toBe(true);
      const claimed = await store.claimTasks({ worker_id: 'w', now: T0, limit: 1, names: ['job'] });
      expect(claimed.map((t) => t.id)).toEqual([id]);
    });
  });

  it('4 store instances claiming 2,000 tasks at once take each exactly once', async () => {
    const name = schema();
    const total = 2000;
    await withStores(4, name, async (stores) => {
      await Promise.all(stores.map((s) => s.setup()));
      for (let i = 0; i < total; i += 500) {
        await stores[0].createTasks(
          Array.from({ length: 500 }, (_, j) => task({ priority: (i + j) % 7 })),
          T0,
        );
      }
      const claimedBy = await Promise.all(
        stores.map(async (store, w) => {
          const ids: number[] = [];
          for (;;) {
            const batch = await store.claimTasks({ worker_id: `w${w}`, now: T0, limit: 20, names: ['job'] });
            if (batch.length === 0) break;
            ids.push(...batch.map((t) => t.id));
          }
          return ids;
        }),
      );
      const all = claimedBy.flat();
      expect(all).toHaveLength(total);
      expect(new Set(all).size).toBe(total);
      for (const ids of claimedBy) expect(ids.length).toBeGreaterThan(0);
      const [{ attempts, running }] = await admin`
        SELECT (SELECT count(*)::int FROM ${admin(`${name}.taskmill_task_attempts`)}) AS attempts,
               (SELECT count(*)::int FROM ${admin(`${name}.taskmill_tasks`)} WHERE status = 'running') AS running`;
      expect(attempts).toBe(total);
      expect(running).toBe(total);
    });
  });
});
