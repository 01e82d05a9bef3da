import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import {
  ConfigurationError,
  StoreError,
  StoreUnavailableError,
  TaskNotFoundError,
  type NewTask,
  type Store,
} from '@taskmill/contracts';
import { newTask, T0 } from '@taskmill/store-testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSqliteStore, parseSqliteConnection } from '../src/index.js';

const run = promisify(execFile);
/** Migrations in the journal: a fresh file gets each applied exactly once. */
const MIGRATIONS = (JSON.parse(readFileSync(new URL('../drizzle/meta/_journal.json', import.meta.url), 'utf8')) as { entries: unknown[] }).entries.length;
const dirs: string[] = [];
const stores: Store[] = [];

function tempFile(name = 'taskmill.db'): string {
  const dir = mkdtempSync(join(tmpdir(), 'taskmill-sqlite-unit-'));
  dirs.push(dir);
  return join(dir, name);
}

function track(store: Store): Store {
  stores.push(store);
  return store;
}

function task(overrides: Partial<NewTask> = {}): NewTask {
  return newTask({ payload: '{"n":1}', ...overrides });
}

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

afterAll(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('connection strings', () => {
  it('parses memory, relative and absolute forms', () => {
    expect(parseSqliteConnection('sqlite::memory:')).toEqual({ kind: 'memory' });
    expect(parseSqliteConnection('sqlite:file.db')).toEqual({ kind: 'file', path: 'file.db' });
    expect(parseSqliteConnection('sqlite:data/file.db')).toEqual({ kind: 'file', path: 'data/file.db' });
    expect(parseSqliteConnection('sqlite:/abs/path.db')).toEqual({ kind: 'file', path: '/abs/path.db' });
    expect(parseSqliteConnection('sqlite:///abs/path.db')).toEqual({ kind: 'file', path: '/abs/path.db' });
  });

  it('rejects strings that name no SQLite database with ConfigurationError', () => {
    for (const bad of ['', 'sqlite:', 'sqlite://', 'mysql://localhost/db', 'postgres://x', 'file.db']) {
      expect(() => parseSqliteConnection(bad), bad).toThrow(ConfigurationError);
      expect(() => createSqliteStore(bad), bad).toThrow(ConfigurationError);
    }
    expect(() => createSqliteStore({ path: '' })).toThrow(ConfigurationError);
    expect(() => createSqliteStore({ path: 'x.db', busy_timeout_ms: -1 })).toThrow(ConfigurationError);
    expect(() => createSqliteStore(null as never)).toThrow(ConfigurationError);
  });

  it('gives every sqlite::memory: store its own database', async () => {
    const a = track(createSqliteStore('sqlite::memory:'));
    const b = track(createSqliteStore('sqlite::memory:'));
    await a.setup();
    await b.setup();
    const [id] = await a.createTasks([task()], T0);
    expect(await a.getTask(id)).not.toBeNull();
    expect(await b.getTask(id)).toBeNull();
  });

  it('opens a path relative to the working directory', async () => {
    const file = tempFile();
    const store = track(createSqliteStore(`sqlite:${relative(process.cwd(), file)}`));
    await store.setup();
    await store.createTasks([task()], T0);
    const db = new Database(file, { readonly: true });
    expect(db.prepare('SELECT COUNT(*) AS n FROM taskmill_tasks').get()).toEqual({ n: 1 });
    db.close();
  });
});

describe('opening', () => {
  it('does not touch the database until the first call', async () => {
    const missing = join(tmpdir(), `taskmill-no-such-dir-${process.pid}-${Date.now()}`, 'db.sqlite');
    const store = track(createSqliteStore(`sqlite://${missing}`));
    const error = await store.setup().then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as StoreUnavailableError).cause).toBeDefined();
  });

  it('uses WAL, NORMAL sync, no foreign keys and the busy timeout on files', async () => {
    const file = tempFile();
    const store = track(createSqliteStore({ path: file, busy_timeout_ms: 1234 }));
    await store.setup();
    const db = new Database(file);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('applies the migrations once when four stores set up one file at the same time', async () => {
    const file = tempFile();
    const many = Array.from({ length: 4 }, () => track(createSqliteStore({ path: file })));
    await Promise.all(many.map((store) => store.setup()));
    await Promise.all(many.map((store) => store.setup()));
    const db = new Database(file, { readonly: true });
    expect(db.prepare('SELECT COUNT(*) AS n FROM taskmill_migrations').get()).toEqual({ n: MIGRATIONS });
    const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'taskmill_%' ORDER BY name`).all();
    expect(tables.map((row) => (row as { name: string }).name)).toEqual([
      'taskmill_health_minutes',
      'taskmill_migrations',
      'taskmill_paused_names',
      'taskmill_task_attempts',
      'taskmill_task_events',
      'taskmill_task_signals',
      'taskmill_tasks',
      'taskmill_workers',
    ]);
    db.close();
  });

  it('does not close a Database passed in by the caller', async () => {
    const db = new Database(':memory:');
    const store = createSqliteStore({ database: db });
    await store.setup();
    const [id] = await store.createTasks([task()], T0);
    await store.close();
    expect(db.open).toBe(true);
    expect(db.prepare('SELECT id FROM taskmill_tasks').all()).toEqual([{ id }]);
    await expect(store.getTask(id)).rejects.toBeInstanceOf(StoreUnavailableError);
    db.close();
  });

  it('fails with StoreUnavailableError after close()', async () => {
    const store = createSqliteStore('sqlite::memory:');
    await store.setup();
    await store.close();
    await store.close();
    await expect(store.createTasks([task()], T0)).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});

describe('cross-process setup', () => {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const distIndex = new URL('../dist/index.js', import.meta.url).href;

  beforeAll(async () => {
    // the child processes run the compiled store
    await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-b'], { cwd: root });
  }, 120_000);

  it('migrates once when four processes start together on one file', async () => {
    const file = tempFile();
    const startAt = Date.now() + 1500;
    const script = fileURLToPath(new URL('./fixtures/setup-worker.mjs', import.meta.url));
    const results = await Promise.all(
      Array.from({ length: 4 }, () => run(process.execPath, [script, distIndex, file, String(startAt)], { cwd: root })),
    );
    const outputs = results.map((result) => JSON.parse(result.stdout) as { ok: boolean; id?: number; error?: string });
    expect(outputs.filter((output) => !output.ok)).toEqual([]);
    expect(outputs.map((output) => output.id).sort()).toEqual([1, 2, 3, 4]);
    const db = new Database(file, { readonly: true });
    expect(db.prepare('SELECT COUNT(*) AS n FROM taskmill_migrations').get()).toEqual({ n: MIGRATIONS });
    db.close();
  }, 60_000);

  it('never hands one task to two processes claiming from one file', async () => {
    const file = tempFile();
    const store = track(createSqliteStore({ path: file }));
    await store.setup();
    const ids = await store.createTasks(Array.from({ length: 120 }, (_, i) => task({ priority: i % 5 })), T0);
    const startAt = Date.now() + 1500;
    const script = fileURLToPath(new URL('./fixtures/claim-worker.mjs', import.meta.url));
    const results = await Promise.all(
      Array.from({ length: 4 }, (_, i) => run(process.execPath, [script, distIndex, file, String(startAt), `p${i}`], { cwd: root })),
    );
    const outputs = results.map((result) => JSON.parse(result.stdout) as { ok: boolean; claimed: number[]; error?: string });
    expect(outputs.filter((output) => !output.ok)).toEqual([]);
    const claimed = outputs.flatMap((output) => output.claimed);
    expect(claimed.sort((a, b) => a - b)).toEqual([...ids].sort((a, b) => a - b));
    const db = new Database(file, { readonly: true });
    expect(db.prepare(`SELECT COUNT(*) AS n FROM taskmill_task_attempts WHERE outcome = 'completed'`).get()).toEqual({ n: 120 });
    expect(db.prepare(`SELECT COUNT(*) AS n FROM taskmill_task_events WHERE event_type = 'task_claimed'`).get()).toEqual({ n: 120 });
    db.close();
  }, 60_000);
});

describe('one connection, one operation at a time', () => {
  it('runs overlapping calls on one store without mixing their transactions', async () => {
    const store = track(createSqliteStore({ path: tempFile() }));
    await store.setup();
    const calls: Promise<unknown>[] = [];
    const totals: Promise<number>[] = [];
    for (let i = 0; i < 20; i++) {
      calls.push(store.createTasks([task(), task()], T0));
      calls.push(store.pauseTask(999_999, T0).then(() => 'paused', (error: unknown) => error));
      totals.push(store.queryTasks({}).then((page) => page.total));
    }
    const results = await Promise.all(calls);
    expect(results.filter((result) => Array.isArray(result))).toHaveLength(20);
    expect(results.filter((result) => result instanceof TaskNotFoundError)).toHaveLength(20);
    // a read never sees half of another call's batch: totals come in whole batches, in call order
    expect(await Promise.all(totals)).toEqual(Array.from({ length: 20 }, (_, i) => 2 * (i + 1)));
    expect((await store.queryTasks({})).total).toBe(40);
  });
});

describe('rows read in raw mode', () => {
  it('reads rows by their current columns after another connection rebuilt a table in another column order', async () => {
    const file = tempFile();
    const store = track(createSqliteStore({ path: file }));
    await store.setup();
    const input = { worker_id: 'w1', pod_id: 'pod', host: 'h', pid: 7, now: T0, ttl_ms: 1000, meta: { a: 1 } };
    await store.registerWorker(input);
    const before = await store.getWorker('w1');
    // the same columns, reversed: a SELECT * prepared before the change now lists them the other way round
    const other = new Database(file);
    const columns = (other.prepare('PRAGMA table_info(taskmill_workers)').all() as Array<{ name: string; type: string }>).reverse();
    other.exec(`ALTER TABLE taskmill_workers RENAME TO old_workers;
      CREATE TABLE taskmill_workers (${columns.map((c) => `${c.name} ${c.type}`).join(', ')});
      INSERT INTO taskmill_workers SELECT ${columns.map((c) => c.name).join(', ')} FROM old_workers;
      DROP TABLE old_workers;`);
    other.close();
    expect(await store.getWorker('w1')).toEqual(before);
  });
});

describe('rows a transaction writes and reads back', () => {
  it('hands back claimed and finished tasks exactly as a fresh read finds them', async () => {
    const store = track(createSqliteStore({ path: tempFile() }));
    await store.setup();
    const ids = await store.createTasks([task(), task(), task({ type: 'cron', cron_expr: '* * * * *' }), task(), task({ max_retries: 0 })], T0);
    const claimed = await store.claimTasks({ worker_id: 'w1', now: T0 + 1, limit: 10, names: ['job'] });
    expect(claimed.map((t) => t.id)).toEqual(ids);
    for (const t of claimed) expect(t).toEqual(await store.getTask(t.id));
    const fence = (id: number) => ({ task_id: id, worker_id: 'w1', attempt: 1 });
    const results = await store.finishAttempts!(
      [
        { fence: fence(ids[0]), outcome: { kind: 'completed', result: '{"ok":1}' } },
        { fence: fence(ids[1]), outcome: { kind: 'suspended', reason: 'wait', metadata: { m: 1 }, context: new Uint8Array([1, 2, 3]) } },
        { fence: fence(ids[2]), outcome: { kind: 'rescheduled', result: null, next_run_time: T0 + 60_000 } },
        { fence: fence(ids[3]), outcome: { kind: 'failed', status: 'failed', error: 'boom' } },
        { fence: fence(ids[4]), outcome: { kind: 'failed', status: 'timeout', error: 'late', timeout_type: 'total' } },
      ],
      T0 + 2,
    );
    expect(results.map((r) => r.applied)).toEqual([true, true, true, true, true]);
    expect(results.map((r) => r.task?.status)).toEqual(['completed', 'suspended', 'pending', 'failed', 'permanently_failed']);
    for (const r of results) expect(r.task).toEqual(await store.getTask(r.task!.id));
    // a second claim retries the failed task: its retry patch and claim patch land on one kept row
    const [retried] = await store.claimTasks({ worker_id: 'w2', now: T0 + 3, limit: 10, names: ['job'] });
    expect(retried).toMatchObject({ id: ids[3], attempt: 2, retry_count: 1, worker_id: 'w2' });
    expect(retried).toEqual(await store.getTask(ids[3]));
  });
});

describe('writes called together', () => {
  it('share a transaction in which a failing write is undone alone and the others commit', async () => {
    const file = tempFile();
    const store = track(createSqliteStore({ path: file }));
    await store.setup();
    const other = new Database(file);
    other.exec('DROP TABLE taskmill_task_events'); // createTasks inserts its row, then fails at its event
    other.close();
    const worker = { worker_id: 'w1', pod_id: null, host: null, pid: null, now: T0, ttl_ms: 1000, meta: null };
    const [created, registered, again] = await Promise.allSettled([
      store.createTasks([task()], T0),
      store.registerWorker(worker),
      store.registerWorker({ ...worker, worker_id: 'w2' }),
    ]);
    expect(created.status).toBe('rejected');
    expect((created as PromiseRejectedResult).reason).toBeInstanceOf(StoreError);
    expect([registered.status, again.status]).toEqual(['fulfilled', 'fulfilled']);
    expect(await store.queryTasks({})).toMatchObject({ total: 0 });
    expect((await store.listWorkers()).map((w) => w.worker_id)).toEqual(['w1', 'w2']);
  });
});

describe('errors', () => {
  it('reports a held write lock past busy_timeout as StoreUnavailableError', async () => {
    const file = tempFile();
    const store = track(createSqliteStore({ path: file, busy_timeout_ms: 50 }));
    await store.setup();
    const blocker = new Database(file);
    blocker.exec('BEGIN IMMEDIATE');
    try {
      const error = await store.createTasks([task()], T0).then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect((error as Error).cause).toMatchObject({ code: 'SQLITE_BUSY' });
    } finally {
      blocker.exec('ROLLBACK');
      blocker.close();
    }
  });

  it('wraps other driver errors in StoreError', async () => {
    const file = tempFile();
    const store = track(createSqliteStore({ path: file }));
    await store.setup();
    const other = new Database(file);
    other.exec('DROP TABLE taskmill_task_events');
    other.close();
    const error = await store.createTasks([task()], T0).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(await store.queryTasks({})).toMatchObject({ total: 0 });
  });
});

describe('smoke', () => {
  it('creates, claims and completes a task with its events and attempt', async () => {
    const store = track(createSqliteStore('sqlite::memory:'));
    await store.setup();
    const [id] = await store.createTasks([task()], T0);
    const [claimed] = await store.claimTasks({ worker_id: 'w1', now: T0 + 1, limit: 5, names: ['job'] });
    expect(claimed).toMatchObject({ id, status: 'running', worker_id: 'w1', attempt: 1, payload: { n: 1 } });
    const done = await store.finishAttempt(
      { task_id: id, worker_id: 'w1', attempt: 1 },
      { kind: 'completed', result: '{"ok":true}' },
      T0 + 2,
    );
    expect(done).toMatchObject({ applied: true, child_ids: [] });
    expect(done.task).toMatchObject({ status: 'completed', result: { ok: true }, last_event_type: 'task_completed', last_event_time: T0 + 2 });
    const events = await store.queryTaskEvents(id, {});
    expect(events.items.map((event) => event.event_type)).toEqual(['task_created', 'task_claimed', 'task_started', 'task_completed']);
    const attempts = await store.queryTaskAttempts(id, {});
    expect(attempts.items).toEqual([
      expect.objectContaining({ attempt: 1, worker_id: 'w1', started_at: T0 + 1, ended_at: T0 + 2, outcome: 'completed', timeout_flag: false }),
    ]);
  });
});

describe('wake-ups across connections (the WAL file watch)', () => {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('a commit by another store on the file wakes a listener, an idle file does not, and an unsubscribed one stays asleep', async () => {
    const file = tempFile();
    const listener = createSqliteStore(`sqlite:${file}`);
    const producer = createSqliteStore(`sqlite:${file}`);
    try {
      expect(listener.capabilities.notify).toBe(true);
      await listener.setup();
      await producer.setup();
      await sleep(50);
      let wakes = 0;
      const stop = await listener.listen!(() => wakes++);
      await sleep(200);
      expect(wakes).toBe(0);
      const started = Date.now();
      await producer.createTasks([newTask()], T0);
      while (wakes === 0 && Date.now() - started < 5_000) await sleep(2);
      expect(wakes).toBeGreaterThan(0);
      expect(Date.now() - started).toBeLessThan(500);
      await stop();
      const after = wakes;
      await producer.createTasks([newTask()], T0);
      await sleep(100);
      expect(wakes).toBe(after);
    } finally {
      await producer.close();
      await listener.close();
    }
  });

  it("a store's own commits wake its listeners only when they made a task claimable; another store's commit always does", async () => {
    const file = tempFile();
    const store = createSqliteStore(`sqlite:${file}`);
    const other = createSqliteStore(`sqlite:${file}`);
    const until = async (done: () => boolean) => {
      const started = Date.now();
      while (!done() && Date.now() - started < 5_000) await sleep(2);
      return Date.now() - started;
    };
    try {
      await store.setup();
      await other.setup();
      await sleep(50);
      let wakes = 0;
      const stop = await store.listen!(() => wakes++);
      // a worker's own commits that make nothing claimable: a task due later, its claim, its completion
      const [id] = await store.createTasks([newTask({ next_run_time: T0 + 60_000 })], T0);
      const [claimed] = await store.claimTasks({ worker_id: 'w1', now: T0 + 60_000, limit: 1, names: ['job'] });
      expect(claimed).toMatchObject({ id, status: 'running' });
      await store.finishAttempt({ task_id: id, worker_id: 'w1', attempt: 1 }, { kind: 'completed', result: null }, T0 + 60_001);
      await sleep(200);
      expect(wakes).toBe(0);
      // its own commit of a task due now wakes its listeners, once
      await store.createTasks([newTask()], T0);
      expect(await until(() => wakes > 0)).toBeLessThan(500);
      await sleep(100);
      expect(wakes).toBe(1);
      // another connection's commit wakes, whatever it wrote (nothing tells it apart from outside)
      await other.createTasks([newTask({ next_run_time: T0 + 60_000 })], T0);
      expect(await until(() => wakes > 1)).toBeLessThan(500);
      await stop();
    } finally {
      await other.close();
      await store.close();
    }
  });

  it('an in-memory database has no cross-process wake-ups to offer', () => {
    expect(createSqliteStore('sqlite::memory:').capabilities.notify).toBe(false);
  });

  it('hands event ids out in commit order (one writer, AUTOINCREMENT), so its event feed never holds at a gap', () => {
    expect(createSqliteStore('sqlite::memory:').capabilities.orderedEventIds).toBe(true);
  });
});
