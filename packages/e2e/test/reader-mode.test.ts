import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '@taskmill/cli';
import { serveDashboard } from '@taskmill/dashboard';
import { SchemaNotReadyError, TaskManager } from '@taskmill/core';
import { createPostgresStore } from '@taskmill/store-postgres';
import { MYSQL_URL, PG_URL } from '../src/backends.js';

/*
 * Reader mode (`migrate: false`): a TaskManager, the CLI and the dashboard read through a role
 * that may only SELECT, never create or migrate anything, and a schema that is missing or behind
 * is a SchemaNotReadyError that says so.
 */

const suffix = `${process.pid}_${Date.now().toString(36)}`;

function withUrl(base: string, change: (url: URL) => void): string {
  const url = new URL(base);
  change(url);
  return url.toString();
}

/** Run the CLI in this process; its exit code and what it printed. */
async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

/** What a reader can do on a set-up schema holding one task: the manager's queries, the CLI, the dashboard. */
async function readEverything(dbConnection: Parameters<typeof serveDashboard>[0]['store'], cliArgs: string[], taskId: number) {
  const tm = new TaskManager({ dbConnection, migrate: false });
  try {
    await tm.setup();
    expect((await tm.getTasks()).map((t) => t.id)).toEqual([taskId]);
    expect((await tm.getTaskAudit(taskId)).task!.id).toBe(taskId);
    expect(await tm.listWorkers()).toEqual([]);
  } finally {
    await tm.stop();
  }
  const listed = await cli(['tasks', '--json', ...cliArgs]);
  expect(listed.err).toBe('');
  expect(listed.code).toBe(0);
  expect(JSON.parse(listed.out).items.map((t: { id: number }) => t.id)).toEqual([taskId]);
  const dashboard = await serveDashboard({ store: dbConnection });
  try {
    const page = await fetch(`${dashboard.url}tasks/${taskId}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('reader-task');
  } finally {
    await dashboard.close();
  }
}

describe('reader mode [postgres]', () => {
  const role = `tm_reader_${suffix}`;
  const schema = `e2e_reader_${suffix}`;
  const missing = `e2e_reader_missing_${suffix}`;
  let admin: import('postgres').Sql;
  let taskId: number;
  const readerUrl = () => withUrl(PG_URL, (u) => (u.username = role));

  beforeAll(async () => {
    const { default: pg } = await import('postgres');
    admin = pg(PG_URL, { max: 1, onnotice: () => {} });
    const owner = new TaskManager({ dbConnection: createPostgresStore({ url: PG_URL, schema }) });
    owner.use('reader-task', () => 1);
    taskId = await owner.async('reader-task', { n: 1 });
    await owner.stop();
    await admin.unsafe(`CREATE ROLE "${role}" LOGIN`);
    await admin.unsafe(`GRANT USAGE ON SCHEMA "${schema}" TO "${role}"`);
    await admin.unsafe(`GRANT SELECT ON ALL TABLES IN SCHEMA "${schema}" TO "${role}"`);
  });

  afterAll(async () => {
    await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.unsafe(`DROP SCHEMA IF EXISTS "${missing}" CASCADE`);
    await admin.unsafe(`DROP OWNED BY "${role}"`).catch(() => undefined);
    await admin.unsafe(`DROP ROLE IF EXISTS "${role}"`);
    await admin.end({ timeout: 1 });
  });

  it('a SELECT-only role reads through a TaskManager, the CLI and the dashboard', async () => {
    const url = withUrl(readerUrl(), (u) => u.searchParams.set('schema', schema));
    await readEverything(url, ['--db', url], taskId);
  });

  it('without migrate: false the same role cannot even set up (the reason this mode exists)', async () => {
    const tm = new TaskManager({ dbConnection: createPostgresStore({ url: readerUrl(), schema }) });
    await expect(tm.getTasks()).rejects.toThrow(/permission denied/);
    await tm.stop();
  });

  it('a missing schema is a SchemaNotReadyError naming it, and nothing is created', async () => {
    const url = withUrl(PG_URL, (u) => u.searchParams.set('schema', missing));
    const tm = new TaskManager({ dbConnection: url, migrate: false });
    await expect(tm.getTasks()).rejects.toThrow(SchemaNotReadyError);
    await expect(tm.setup()).rejects.toThrow(new RegExp(`do not exist in PostgreSQL schema "${missing}"`));
    await tm.stop();
    await expect(serveDashboard({ store: url })).rejects.toThrow(SchemaNotReadyError);
    const listed = await cli(['tasks', '--db', url]);
    expect(listed.code).toBe(3);
    expect(listed.err).toMatch(/do not exist.*taskmill migrate/);
    expect(await admin`SELECT 1 FROM pg_namespace WHERE nspname = ${missing}`).toHaveLength(0);
  });

  it('a schema behind the code is a SchemaNotReadyError saying how far behind', async () => {
    const behind = `e2e_reader_behind_${suffix}`;
    const owner = new TaskManager({ dbConnection: createPostgresStore({ url: PG_URL, schema: behind }) });
    await owner.setup();
    await owner.stop();
    try {
      await admin.unsafe(`DELETE FROM "${behind}".taskmill_migrations WHERE created_at = (SELECT max(created_at) FROM "${behind}".taskmill_migrations)`);
      const tm = new TaskManager({ dbConnection: createPostgresStore({ url: PG_URL, schema: behind }), migrate: false });
      await expect(tm.setup()).rejects.toThrow(SchemaNotReadyError);
      await expect(tm.setup()).rejects.toThrow(/are behind: \d+ of \d+ migrations applied/);
      await tm.stop();
    } finally {
      await admin.unsafe(`DROP SCHEMA IF EXISTS "${behind}" CASCADE`);
    }
  });
});

describe('reader mode [mysql]', () => {
  const user = `tm_rd_${suffix}`.slice(0, 32);
  const dbName = `e2e_reader_${suffix}`;
  const missingDb = `e2e_reader_empty_${suffix}`;
  let admin: import('mysql2/promise').Connection;
  let taskId: number;
  const dbUrl = (name: string, who?: string) =>
    withUrl(MYSQL_URL, (u) => {
      u.pathname = `/${name}`;
      if (who) {
        u.username = who;
        u.password = 'reader-pw';
      }
    });

  beforeAll(async () => {
    const { default: my } = await import('mysql2/promise');
    admin = await my.createConnection({ uri: MYSQL_URL });
    await admin.query(`CREATE DATABASE \`${dbName}\``);
    await admin.query(`CREATE DATABASE \`${missingDb}\``);
    const owner = new TaskManager({ dbConnection: dbUrl(dbName) });
    owner.use('reader-task', () => 1);
    taskId = await owner.async('reader-task', { n: 1 });
    await owner.stop();
    for (const host of ['%', 'localhost']) {
      await admin.query(`CREATE USER '${user}'@'${host}' IDENTIFIED BY 'reader-pw'`);
      await admin.query(`GRANT SELECT ON \`${dbName}\`.* TO '${user}'@'${host}'`);
      await admin.query(`GRANT SELECT ON \`${missingDb}\`.* TO '${user}'@'${host}'`);
    }
  });

  afterAll(async () => {
    for (const host of ['%', 'localhost']) await admin.query(`DROP USER IF EXISTS '${user}'@'${host}'`);
    await admin.query(`DROP DATABASE IF EXISTS \`${dbName}\``);
    await admin.query(`DROP DATABASE IF EXISTS \`${missingDb}\``);
    await admin.end();
  });

  it('a SELECT-only user reads through a TaskManager, the CLI and the dashboard', async () => {
    const url = dbUrl(dbName, user);
    await readEverything(url, ['--db', url], taskId);
  });

  it('without migrate: false the same user cannot even set up (the reason this mode exists)', async () => {
    const tm = new TaskManager({ dbConnection: dbUrl(dbName, user) });
    await expect(tm.getTasks()).rejects.toThrow(/denied/);
    await tm.stop();
  });

  it('a database without the tables is a SchemaNotReadyError, and nothing is created', async () => {
    const url = dbUrl(missingDb, user);
    const tm = new TaskManager({ dbConnection: url, migrate: false });
    await expect(tm.getTasks()).rejects.toThrow(SchemaNotReadyError);
    await expect(tm.setup()).rejects.toThrow(new RegExp(`do not exist in MySQL database "${missingDb}"`));
    await tm.stop();
    await expect(serveDashboard({ store: url })).rejects.toThrow(SchemaNotReadyError);
    const listed = await cli(['tasks', '--db', url]);
    expect(listed.code).toBe(3);
    const [tables] = await admin.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = ?`, [missingDb]);
    expect(tables).toEqual([]);
  });
});

describe('reader mode [sqlite]', () => {
  const dir = mkdtempSync(join(tmpdir(), 'taskmill-reader-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a file without the tables is a SchemaNotReadyError and gets none; a set-up file is read through a TaskManager, the CLI and the dashboard', async () => {
    const empty = `sqlite:${join(dir, 'empty.db')}`;
    const tm = new TaskManager({ dbConnection: empty, migrate: false });
    await expect(tm.getTasks()).rejects.toThrow(SchemaNotReadyError);
    await tm.stop();
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(join(dir, 'empty.db'), { readonly: true });
    expect(db.prepare(`SELECT name FROM sqlite_master`).all()).toEqual([]);
    db.close();

    const url = `sqlite:${join(dir, 'tasks.db')}`;
    const writer = new TaskManager({ dbConnection: url });
    writer.use('reader-task', () => 1);
    const id = await writer.async('reader-task');
    await writer.stop();
    await readEverything(url, ['--db', url], id);
  });
});
