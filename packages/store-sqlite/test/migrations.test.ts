import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../src/index.js';

const MIGRATIONS_FOLDER = fileURLToPath(new URL('../drizzle', import.meta.url));
const dirs: string[] = [];

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'taskmill-sqlite-migrations-'));
  dirs.push(dir);
  return join(dir, 'taskmill.db');
}

afterAll(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/**
 * A database exactly as the 0.1 store left it: its first migration applied and recorded in
 * drizzle's `__drizzle_migrations` (the 0.1 migrate.ts), and one task in it.
 */
function legacyDatabase(file: string): { hash: string; taskId: number } {
  const [first] = readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER });
  const db = new Database(file);
  db.exec('CREATE TABLE "__drizzle_migrations" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)');
  for (const statement of first.sql) if (statement.trim() !== '') db.exec(statement);
  db.prepare('INSERT INTO "__drizzle_migrations" ("hash", "created_at") VALUES (?, ?)').run(first.hash, first.folderMillis);
  const info = db
    .prepare(
      `INSERT INTO taskmill_tasks (name, type, payload, priority, created_at, status, next_run_time, timeout, max_retries)
       VALUES ('legacy', 'async', '{"kept":true}', 3, 1000, 'pending', 1000, 60, 2)`,
    )
    .run();
  db.close();
  return { hash: first.hash, taskId: Number(info.lastInsertRowid) };
}


/**
 * A new database file as the store left it just before the first migration whose SQL contains
 * `marker` (found by content, not number, so migrations added later do not move it): every
 * earlier migration applied and recorded the way migrate.ts records them. That migration must be
 * additive: columns added and indexes or tables created, no table rebuilt (drizzle-kit copies a
 * table it cannot ALTER into `__new_<table>` and drops the old one). The database is left open.
 */
function databaseBefore(file: string, marker: string): { db: Database.Database; migrations: ReturnType<typeof readMigrationFiles> } {
  const migrations = readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER });
  const added = migrations.findIndex((migration) => migration.sql.some((statement) => statement.includes(marker)));
  expect(added).toBeGreaterThan(0);
  expect(migrations[added].sql.join('\n')).not.toMatch(/__new_|DROP TABLE/);
  const db = new Database(file);
  db.exec('CREATE TABLE "taskmill_migrations" (id INTEGER PRIMARY KEY, hash text NOT NULL, created_at numeric)');
  for (const migration of migrations.slice(0, added)) {
    for (const statement of migration.sql) if (statement.trim() !== '') db.exec(statement);
    db.prepare('INSERT INTO "taskmill_migrations" ("hash", "created_at") VALUES (?, ?)').run(migration.hash, migration.folderMillis);
  }
  return { db, migrations };
}
function read<T>(file: string, fn: (db: Database.Database) => T): T {
  const db = new Database(file, { readonly: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

const tableNames = (db: Database.Database) =>
  (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as { name: string }[]).map((row) => row.name);
const bookkeeping = (db: Database.Database) => db.prepare('SELECT id, hash, created_at FROM taskmill_migrations ORDER BY id').all();
const schema = (db: Database.Database) => db.prepare('SELECT type, name, sql FROM sqlite_master ORDER BY type, name').all();

describe('migrations bookkeeping', () => {
  it('records migrations in taskmill_migrations on a fresh database', async () => {
    const file = tempFile();
    const store = createSqliteStore({ path: file });
    await store.setup();
    await store.close();
    const migrations = readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER });
    read(file, (db) => {
      expect(tableNames(db)).toContain('taskmill_migrations');
      expect(tableNames(db)).not.toContain('__drizzle_migrations');
      expect(bookkeeping(db)).toEqual(migrations.map((m, i) => ({ id: i + 1, hash: m.hash, created_at: m.folderMillis })));
    });
  });

  it('upgrades a database created by the 0.1 store: bookkeeping moved, nothing re-run, data kept, old table gone', async () => {
    const file = tempFile();
    const { hash, taskId } = legacyDatabase(file);
    const migrations = readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER });

    const store = createSqliteStore({ path: file });
    await store.setup();
    expect(await store.getTask(taskId)).toMatchObject({ id: taskId, name: 'legacy', payload: { kept: true }, priority: 3, status: 'pending' });
    const [claimed] = await store.claimTasks({ worker_id: 'w1', now: 2000, limit: 1, names: ['legacy'] });
    expect(claimed).toMatchObject({ id: taskId, status: 'running' });

    const before = read(file, (db) => {
      expect(tableNames(db)).not.toContain('__drizzle_migrations');
      const rows = bookkeeping(db) as { hash: string; created_at: number }[];
      expect(rows.map((row) => row.hash)).toEqual(migrations.map((m) => m.hash));
      expect(rows[0]).toMatchObject({ hash, created_at: migrations[0].folderMillis });
      return { rows, schema: schema(db) };
    });

    await store.setup();
    const other = createSqliteStore({ path: file });
    await other.setup();
    await other.close();
    await store.close();
    read(file, (db) => {
      expect(bookkeeping(db)).toEqual(before.rows);
      expect(schema(db)).toEqual(before.schema);
    });
  });

  it("leaves an application's own drizzle bookkeeping in a shared database alone", async () => {
    const file = tempFile();
    legacyDatabase(file);
    const app = new Database(file);
    app.prepare('INSERT INTO "__drizzle_migrations" ("hash", "created_at") VALUES (?, ?)').run('app-migration-hash', 42);
    app.close();

    const store = createSqliteStore({ path: file });
    await store.setup();
    await store.close();
    read(file, (db) => {
      expect(db.prepare('SELECT hash, created_at FROM "__drizzle_migrations"').all()).toEqual([{ hash: 'app-migration-hash', created_at: 42 }]);
      expect((bookkeeping(db) as unknown[]).length).toBe(readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER }).length);
    });
  });

  it('upgrades a file of the version before flow control in place: old rows kept with NULL key and attempt name, flow control works', async () => {
    const file = tempFile();
    const { db, migrations } = databaseBefore(file, 'taskmill_paused_names');
    const old = Number(
      db
        .prepare(
          `INSERT INTO taskmill_tasks (name, type, created_at, status, next_run_time, timeout, max_retries)
           VALUES ('old', 'async', 1000, 'pending', 1000, 60, 2)`,
        )
        .run().lastInsertRowid,
    );
    db.prepare(`INSERT INTO taskmill_task_attempts (task_id, attempt, worker_id, started_at) VALUES (?, 1, 'w0', 900)`).run(old);
    db.close();

    const store = createSqliteStore({ path: file });
    await store.setup();
    expect(await store.getTask(old)).toMatchObject({ id: old, name: 'old', concurrency_key: null });
    const claimed = await store.claimBatch({ worker_id: 'w1', now: 2000, limit: 5, names: ['old'], key_limits: { old: 1 }, rate_limits: { old: { max: 5, per_ms: 10_000 } } });
    expect(claimed.tasks.map((task) => task.id)).toEqual([old]);
    expect((await store.pauseName('old', {}, 2001)).changed).toBe(true);
    await store.close();
    read(file, (db) => {
      expect(db.prepare('SELECT task_id, name, started_at FROM taskmill_task_attempts ORDER BY id').all()).toEqual([
        { task_id: old, name: null, started_at: 900 },
        // a limited claim records its start at its `now` plus the time it took (docs/behaviour.md#flow-control)
        { task_id: old, name: 'old', started_at: expect.toSatisfy((t: number) => t >= 2000 && t < 2500) },
      ]);
      expect((bookkeeping(db) as { hash: string }[]).map((row) => row.hash)).toEqual(migrations.map((m) => m.hash));
      const indexes = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND name IN ('idx_task_claim_key', 'idx_task_attempts_name_started')`).all();
      expect(indexes).toHaveLength(2);
    });
  });

  it('upgrades a file of the version before flows in place: old children get a NULL on_failure (continue), and rules work', async () => {
    const file = tempFile();
    const { db, migrations } = databaseBefore(file, '`on_failure`');
    db.exec(`INSERT INTO taskmill_tasks (id, name, type, created_at, status, next_run_time, timeout, max_retries, suspend_reason, total_children) VALUES (1, 'parent', 'async', 1000, 'suspended', 1000, 60, 1, 'awaiting_subtasks', 1)`);
    db.exec(`INSERT INTO taskmill_tasks (id, name, type, created_at, status, next_run_time, timeout, max_retries, root_id, parent_id) VALUES (2, 'old-child', 'async', 1000, 'pending', 1000, 60, 1, 1, 1)`);
    db.close();

    const store = createSqliteStore({ path: file });
    await store.setup();
    expect(await store.getTask(2)).toMatchObject({ id: 2, on_failure: null });
    const [claimed] = await store.claimTasks({ worker_id: 'w1', now: 2000, limit: 1, names: ['old-child'] });
    await store.finishAttempt({ task_id: 2, worker_id: 'w1', attempt: claimed.attempt }, { kind: 'failed', status: 'failed', error: 'x', permanent: true }, 2001);
    expect(await store.getTask(1)).toMatchObject({ status: 'pending', stage: 1, result: [{ task_id: 2, error: 'x' }] });
    const flow = await store.createFlow(
      {
        task: { name: 'root', type: 'async', payload: null, priority: 0, tag: null, next_run_time: 2002, timeout: 60, max_retries: 1, retry_interval: 0, cron_expr: null, cron_tz: null, retry_backoff: 'fixed', retry_max_interval: null, retry_jitter: 0, unique_key: null, unique_scope: null, unique_until: null, trace_context: null, concurrency_key: null },
        children: [{ task: { name: 'leaf', payload: null, priority: 0, tag: null, timeout: 60, max_retries: 1, retry_interval: 0, retry_backoff: 'fixed', retry_max_interval: null, retry_jitter: 0, trace_context: null, concurrency_key: null, on_failure: 'fail' }, next_run_time: 2002, children: [] }],
      },
      2002,
    );
    expect(await store.getTask(flow.children[0].id)).toMatchObject({ on_failure: 'fail', parent_id: flow.id });
    await store.close();
    read(file, (db) => expect((bookkeeping(db) as { hash: string }[]).map((row) => row.hash)).toEqual(migrations.map((m) => m.hash)));
  });

  it('upgrades a file of the version before dead letters in place: old rows get a NULL dead_letter, and dead letters work', async () => {
    const file = tempFile();
    const { db, migrations } = databaseBefore(file, '`dead_letter`');
    const old = Number(
      db.prepare(`INSERT INTO taskmill_tasks (name, type, created_at, status, next_run_time, timeout, max_retries) VALUES ('old', 'async', 1000, 'pending', 1000, 60, 1)`).run()
        .lastInsertRowid,
    );
    db.close();

    const store = createSqliteStore({ path: file });
    await store.setup();
    expect(await store.getTask(old)).toMatchObject({ id: old, dead_letter: null });
    const [id] = await store.createTasks(
      [{ name: 'new', type: 'async', payload: null, priority: 0, tag: null, next_run_time: 2000, timeout: 60, max_retries: 1, retry_interval: 0, cron_expr: null, cron_tz: null, retry_backoff: 'fixed', retry_max_interval: null, retry_jitter: 0, unique_key: null, unique_scope: null, unique_until: null, trace_context: null, concurrency_key: null, dead_letter: 'dead' }],
      2000,
    );
    const [claimed] = await store.claimTasks({ worker_id: 'w1', now: 2000, limit: 1, names: ['new'] });
    await store.finishAttempt({ task_id: id, worker_id: 'w1', attempt: claimed.attempt }, { kind: 'failed', status: 'failed', error: 'PermanentError: x', permanent: true }, 2001);
    await store.close();
    read(file, (db) => {
      expect(db.prepare(`SELECT name, json_extract(payload, '$.task_id') AS of FROM taskmill_tasks WHERE name = 'dead'`).all()).toEqual([{ name: 'dead', of: id }]);
      expect((bookkeeping(db) as { hash: string }[]).map((row) => row.hash)).toEqual(migrations.map((m) => m.hash));
    });
  });
  it('upgrades a file of the version before waits and signals in place: a task suspended before it keeps waiting, and sleeps and signals work', async () => {
    const file = tempFile();
    const { db, migrations } = databaseBefore(file, 'taskmill_task_signals');
    const old = Number(
      db
        .prepare(`INSERT INTO taskmill_tasks (name, type, created_at, status, next_run_time, timeout, max_retries, suspend_reason) VALUES ('old', 'async', 1000, 'suspended', 1000, 60, 1, 'review')`)
        .run().lastInsertRowid,
    );
    db.close();

    const store = createSqliteStore({ path: file });
    await store.setup();
    expect(await store.getTask(old)).toMatchObject({ id: old, status: 'suspended', wake_at: null, awaited_signal: null, received_signal: null });
    expect(await store.wakeDueTasks({ now: 10_000, limit: 10 })).toEqual({ woken: [], next_wake_at: null });
    expect(await store.sendSignal(old, 'go', '1', 2000)).toMatchObject({ resumed: false });
    const [id] = await store.createTasks(
      [{ name: 'new', type: 'async', payload: null, priority: 0, tag: null, next_run_time: 2000, timeout: 60, max_retries: 1, retry_interval: 0, cron_expr: null, cron_tz: null, retry_backoff: 'fixed', retry_max_interval: null, retry_jitter: 0, unique_key: null, unique_scope: null, unique_until: null, trace_context: null, concurrency_key: null }],
      2000,
    );
    const [claimed] = await store.claimTasks({ worker_id: 'w1', now: 2000, limit: 1, names: ['new'] });
    await store.finishAttempt({ task_id: id, worker_id: 'w1', attempt: claimed.attempt }, { kind: 'sleep', wake_at: 3000 }, 2001);
    expect(await store.wakeDueTasks({ now: 3000, limit: 10 })).toEqual({ woken: [id], next_wake_at: null });
    await store.close();
    read(file, (db) => {
      expect(db.prepare(`SELECT status, stage FROM taskmill_tasks WHERE id = ?`).get(id)).toEqual({ status: 'pending', stage: 1 });
      expect(db.prepare(`SELECT task_id, name, data FROM taskmill_task_signals`).all()).toEqual([{ task_id: old, name: 'go', data: '1' }]);
      expect((bookkeeping(db) as { hash: string }[]).map((row) => row.hash)).toEqual(migrations.map((m) => m.hash));
    });
  });
});
