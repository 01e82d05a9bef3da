import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreError, StoreUnavailableError, TaskManager, TaskmillError } from '@taskmill/core';
import { createPostgresStore } from '@taskmill/store-postgres';
import { MYSQL_URL, PG_URL } from '../src/backends.js';

/*
 * Setup and connection failures name their cause in the message (permission denied, unknown
 * database, authentication failed, connection refused, unknown host), on real servers, with the
 * driver's error kept as `cause`.
 */

const suffix = `${process.pid}_${Date.now().toString(36)}`;

/** A loopback port nothing listens on: bound once to learn a free number, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The error `setup()` fails with (the test fails when it succeeds). */
async function setupError(dbConnection: ConstructorParameters<typeof TaskManager>[0]['dbConnection']): Promise<TaskmillError> {
  const tm = new TaskManager({ dbConnection });
  try {
    await tm.setup();
  } catch (error) {
    return error as TaskmillError;
  } finally {
    await tm.stop().catch(() => undefined);
  }
  throw new Error('setup() succeeded');
}

/** Every error of the `cause` chain, outermost first. */
function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = (error as { cause?: unknown }).cause; e !== undefined && e !== null && chain.length < 10; e = (e as { cause?: unknown }).cause) {
    chain.push(e);
  }
  return chain;
}

function withUrl(base: string, change: (url: URL) => void): string {
  const url = new URL(base);
  change(url);
  return url.toString();
}

describe('setup errors name their cause [postgres]', () => {
  const role = `tm_noperm_${suffix}`;
  let admin: import('postgres').Sql;

  beforeAll(async () => {
    const { default: pg } = await import('postgres');
    admin = pg(PG_URL, { max: 1, onnotice: () => {} });
    // LOGIN only: no CREATE on the database, so it may not create a schema
    await admin.unsafe(`CREATE ROLE "${role}" LOGIN`);
  });

  afterAll(async () => {
    await admin.unsafe(`DROP ROLE IF EXISTS "${role}"`);
    await admin.end({ timeout: 1 });
  });

  it('a role that may not create the schema: the message says permission denied', async () => {
    const url = withUrl(PG_URL, (u) => (u.username = role));
    const store = createPostgresStore({ url, schema: `e2e_noperm_${suffix}` });
    const error = await setupError(store);
    expect(error).toBeInstanceOf(StoreError);
    expect(error.message).toMatch(/^PostgreSQL setup failed: .*permission denied for database/);
    expect(causes(error).some((c) => (c as { code?: unknown }).code === '42501')).toBe(true);
  });

  it('a database that does not exist: the message names it', async () => {
    const error = await setupError(withUrl(PG_URL, (u) => (u.pathname = `/no_such_db_${suffix}`)));
    expect(error).toBeInstanceOf(TaskmillError);
    expect(error.message).toMatch(new RegExp(`database "no_such_db_${suffix}" does not exist`));
    expect(causes(error).some((c) => (c as { code?: unknown }).code === '3D000')).toBe(true);
  });

  it('a closed port: StoreUnavailableError saying connection refused', async () => {
    const port = await closedPort();
    const error = await setupError(withUrl(PG_URL, (u) => (u.port = String(port))));
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(error.message).toMatch(new RegExp(`ECONNREFUSED.*127\\.0\\.0\\.1:${port}`));
    expect(causes(error).length).toBeGreaterThan(0);
  });

  it('localhost on a closed port (IPv4 and IPv6 both tried): the message still says connection refused', async () => {
    const port = await closedPort();
    const error = await setupError(withUrl(PG_URL, (u) => ((u.hostname = 'localhost'), (u.port = String(port)))));
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(error.message).toMatch(/ECONNREFUSED/);
  });

  it('an unknown host: StoreUnavailableError naming the host', async () => {
    const error = await setupError(withUrl(PG_URL, (u) => (u.hostname = 'no-such-host.invalid')));
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(error.message).toMatch(/ENOTFOUND no-such-host\.invalid/);
  });
});

describe('setup errors name their cause [mysql]', () => {
  const user = `tm_ro_${suffix}`.slice(0, 32);
  const dbName = `e2e_errors_${suffix}`;
  let admin: import('mysql2/promise').Connection;

  beforeAll(async () => {
    const { default: my } = await import('mysql2/promise');
    admin = await my.createConnection({ uri: MYSQL_URL });
    await admin.query(`CREATE DATABASE \`${dbName}\``);
    await admin.query(`CREATE USER '${user}'@'%' IDENTIFIED BY 'right-password'`);
    await admin.query(`CREATE USER '${user}'@'localhost' IDENTIFIED BY 'right-password'`);
    await admin.query(`GRANT SELECT ON \`${dbName}\`.* TO '${user}'@'%'`);
    await admin.query(`GRANT SELECT ON \`${dbName}\`.* TO '${user}'@'localhost'`);
  });

  afterAll(async () => {
    await admin.query(`DROP USER IF EXISTS '${user}'@'%'`);
    await admin.query(`DROP USER IF EXISTS '${user}'@'localhost'`);
    await admin.query(`DROP DATABASE IF EXISTS \`${dbName}\``);
    await admin.end();
  });

  const userUrl = (password: string) =>
    withUrl(MYSQL_URL, (u) => {
      u.username = user;
      u.password = password;
      u.pathname = `/${dbName}`;
    });

  it('a user with SELECT only: the message says the command was denied', async () => {
    const error = await setupError(userUrl('right-password'));
    expect(error).toBeInstanceOf(StoreError);
    expect(error.message).toMatch(/^MySQL store setup failed: .*command denied to user/);
    expect(causes(error).some((c) => (c as { errno?: unknown }).errno === 1142)).toBe(true);
  });

  it('a wrong password: the message says access denied', async () => {
    const error = await setupError(userUrl('wrong-password'));
    expect(error).toBeInstanceOf(StoreError);
    expect(error.message).toMatch(/Access denied for user/);
    expect(causes(error).some((c) => (c as { errno?: unknown }).errno === 1045)).toBe(true);
  });

  it('a database that does not exist: the message says unknown database', async () => {
    const error = await setupError(withUrl(MYSQL_URL, (u) => (u.pathname = `/no_such_db_${suffix}`)));
    expect(error).toBeInstanceOf(StoreError);
    expect(error.message).toMatch(new RegExp(`Unknown database 'no_such_db_${suffix}'`));
  });

  it('a closed port: StoreUnavailableError saying connection refused', async () => {
    const port = await closedPort();
    const error = await setupError(withUrl(MYSQL_URL, (u) => (u.port = String(port))));
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(error.message).toMatch(new RegExp(`ECONNREFUSED.*127\\.0\\.0\\.1:${port}`));
    expect(causes(error).length).toBeGreaterThan(0);
  });

  it('localhost on a closed port: the message still says connection refused', async () => {
    const port = await closedPort();
    const error = await setupError(withUrl(MYSQL_URL, (u) => ((u.hostname = 'localhost'), (u.port = String(port)))));
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(error.message).toMatch(/ECONNREFUSED/);
  });

  it('an unknown host: StoreUnavailableError naming the host', async () => {
    const error = await setupError(withUrl(MYSQL_URL, (u) => (u.hostname = 'no-such-host.invalid')));
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(error.message).toMatch(/ENOTFOUND no-such-host\.invalid/);
  });
});

describe('setup errors name their cause [sqlite]', () => {
  const dir = mkdtempSync(join(tmpdir(), 'taskmill-errors-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a file in a directory that does not exist: the message names the path and the reason', async () => {
    const path = join(dir, 'missing', 'tasks.db');
    const error = await setupError(`sqlite:${path}`);
    expect(error).toBeInstanceOf(TaskmillError);
    expect(error.message).toContain(path);
    expect(error.message).toMatch(/directory does not exist|unable to open/i);
    expect(causes(error).length).toBeGreaterThan(0);
  });
});
