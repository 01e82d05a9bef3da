import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Store } from '@taskmill/contracts';
import type { AppTransaction, BadHandle, ConformanceHarness, TableName } from '@taskmill/store-testkit';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate as drizzleMigrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { createPostgresStore } from '../src/index.js';

/** The test server (override with TASKMILL_PG_URL). */
export const PG_URL = process.env.TASKMILL_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const PRIMARY_KEYS: Record<TableName, string> = {
  taskmill_tasks: 'id',
  taskmill_task_events: 'id',
  taskmill_task_attempts: 'id',
  taskmill_workers: 'worker_id',
  taskmill_paused_names: 'name',
  taskmill_task_signals: 'id',
  taskmill_health_minutes: 'minute',
};

/** A fresh schema name for one store's database. */
/** A statement a client sent, with its parameters. */
export interface SentStatement {
  query: string;
  params: unknown[];
}

/** A postgres-js client on the test server that records every statement it sends. */
export function recordingClient(statements: SentStatement[]): postgres.Sql {
  return postgres(PG_URL, { max: 2, onnotice: () => {}, debug: (_connection, query, params) => statements.push({ query, params: [...params] }) });
}

export function freshSchema(): string {
  return `tm_${randomBytes(6).toString('hex')}`;
}

/**
 * Why the PostgreSQL tests cannot run (server unreachable), or null when they can. With `CI`
 * set an unreachable server is a failure, never a skip.
 */
export async function probeServer(): Promise<string | null> {
  const sql = postgres(PG_URL, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`SELECT 1`;
    return null;
  } catch (error) {
    const reason = `PostgreSQL at ${PG_URL} is unreachable (${(error as Error).message}); set TASKMILL_PG_URL`;
    if (process.env.CI) throw new Error(`${reason} — CI requires the PostgreSQL suites to run`);
    return reason;
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

/**
 * The conformance harness: each store gets its own schema (`tm_<random>`), peers share it with
 * their own client, raw rows come through a separate client, and cleanup drops the schemas.
 */
export function createPgHarness(): ConformanceHarness {
  const schemaOf = new WeakMap<Store, string>();
  const schemas = new Set<string>();
  let raw: postgres.Sql | null = null;
  const rawClient = () => (raw ??= postgres(PG_URL, { max: 4, onnotice: () => {} }));

  return {
    async createStore() {
      const schema = freshSchema();
      schemas.add(schema);
      const store = createPostgresStore({ url: PG_URL, schema, max: 4 });
      await store.setup();
      schemaOf.set(store, schema);
      return store;
    },
    async createPeer(store) {
      const schema = schemaOf.get(store);
      if (!schema) throw new Error('createPeer: unknown store');
      const peer = createPostgresStore({ url: PG_URL, schema, max: 4 });
      await peer.setup();
      schemaOf.set(peer, schema);
      return peer;
    },
    async rawRows(store, table, where = {}) {
      const schema = schemaOf.get(store);
      if (!schema) throw new Error('rawRows: unknown store');
      const sql = rawClient();
      const entries = Object.entries(where);
      const filter = entries.length
        ? entries.map(([col, value]) => sql`${sql(col)} = ${value as string}`).reduce((a, b) => sql`${a} AND ${b}`)
        : sql`TRUE`;
      const rows = await sql`SELECT * FROM ${sql(`${schema}.${table}`)} WHERE ${filter} ORDER BY ${sql(PRIMARY_KEYS[table])}`;
      return rows.map((r) => ({ ...r }));
    },
    async insertRaw(store, table, row) {
      const schema = schemaOf.get(store);
      if (!schema) throw new Error('insertRaw: unknown store');
      const sql = rawClient();
      await sql`INSERT INTO ${sql(`${schema}.${table}`)} ${sql(row as Record<string, postgres.SerializableParameter>)}`;
    },
    async lockRows(store, table, where, during) {
      const schema = schemaOf.get(store);
      if (!schema) throw new Error('lockRows: unknown store');
      const sql = rawClient();
      const filter = Object.entries(where)
        .map(([col, value]) => sql`${sql(col)} = ${value as string}`)
        .reduce((a, b) => sql`${a} AND ${b}`);
      await inApp((fn) => sql.begin(fn) as unknown as Promise<never>, 'rollback', async (handle) => {
        const tx = handle as postgres.TransactionSql;
        await tx`SELECT 1 FROM ${tx(`${schema}.${table}`)} WHERE ${filter} FOR UPDATE`;
      }, during);
    },
    appTransactions: appTransactions(rawClient),
    badHandles: async () => badHandles(rawClient()),
    async cleanup() {
      const sql = rawClient();
      for (const schema of schemas) await sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`;
      schemas.clear();
      await sql.end({ timeout: 5 });
      raw = null;
    },
  };
}

/** Thrown inside an application transaction to roll it back. */
const ROLLBACK = new Error('roll back');

/** Run `body` in a transaction opened by `begin`, then `during`, then commit or roll back. */
async function inApp<T>(
  begin: (fn: (tx: unknown) => Promise<T>) => Promise<T>,
  outcome: 'commit' | 'rollback',
  body: (handle: unknown) => Promise<T>,
  during?: () => Promise<void>,
): Promise<T> {
  let result!: T;
  try {
    await begin(async (tx) => {
      result = await body(tx);
      await during?.();
      if (outcome === 'rollback') throw ROLLBACK;
      return result;
    });
  } catch (error) {
    if (error !== ROLLBACK) throw error;
  }
  return result;
}

/** The application's own transactions: its postgres-js client's, and drizzle's over it. */
function appTransactions(app: () => postgres.Sql): AppTransaction[] {
  return [
    {
      kind: 'postgres-js sql.begin',
      run: (_store, outcome, body, during) => inApp((fn) => app().begin(fn) as unknown as Promise<never>, outcome, body, during),
    },
    {
      kind: 'drizzle postgres-js transaction',
      run: (_store, outcome, body, during) => inApp((fn) => drizzle(app()).transaction(fn), outcome, body, during),
    },
  ];
}

/** Run `use` with a new one-connection client of the test database, ended after. */
async function onFreshClient<T>(use: (client: postgres.Sql) => Promise<T>): Promise<T> {
  const client = postgres(PG_URL, { max: 1, onnotice: () => {} });
  try {
    return await use(client);
  } finally {
    await client.end({ timeout: 1 });
  }
}

function badHandles(app: postgres.Sql): BadHandle[] {
  return [
    { what: 'the postgres-js client (a pool)', use: (call) => call(app) },
    { what: 'a drizzle database (not a transaction)', use: (call) => call(drizzle(app)) },
    // Each on a client of its own: postgres-js stranded the check of a used handle only on a
    // connection where its statements were not yet prepared, so a shared client could hide it.
    {
      what: 'a transaction after its commit',
      use: (call) =>
        onFreshClient(async (client) => {
          let done: unknown;
          await client.begin(async (tx) => {
            done = tx;
          });
          return call(done);
        }),
    },
    {
      what: 'a transaction after its rollback',
      use: (call) =>
        onFreshClient(async (client) => {
          let done: unknown;
          await client
            .begin(async (tx) => {
              done = tx;
              throw ROLLBACK;
            })
            .catch((error: unknown) => {
              if (error !== ROLLBACK) throw error;
            });
          return call(done);
        }),
    },
    {
      what: 'a drizzle transaction after its commit',
      use: (call) =>
        onFreshClient(async (client) => {
          let done: unknown;
          await drizzle(client).transaction(async (tx) => {
            done = tx;
          });
          return call(done);
        }),
    },
    {
      what: 'a transaction on another database',
      use: async (call) => {
        const url = new URL(PG_URL);
        url.pathname = '/postgres';
        const other = postgres(url.toString(), { max: 1, onnotice: () => {} });
        try {
          return await other.begin((tx) => call(tx) as Promise<never>);
        } finally {
          await other.end({ timeout: 1 });
        }
      },
    },
  ];
}

/**
 * Build `schema` as an older version of the store left it: every migration of drizzle/ before the
 * first one whose SQL contains `marker` (a column or table name it adds), applied by drizzle's
 * migrator into the store's bookkeeping table. Found by content, never by number, so migrations
 * added or renumbered later do not move it.
 */
export async function migrateBefore(schema: string, marker: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tm-pg-migrations-'));
  const client = postgres(PG_URL, { max: 1, onnotice: () => {}, connection: { search_path: schema } });
  try {
    cpSync(fileURLToPath(new URL('../drizzle', import.meta.url)), dir, { recursive: true });
    const journalFile = join(dir, 'meta/_journal.json');
    const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: { tag: string }[] };
    const upTo = journal.entries.findIndex((entry) => readFileSync(join(dir, `${entry.tag}.sql`), 'utf8').includes(marker));
    if (upTo <= 0) throw new Error(`migrateBefore: no migration after the first adds ${marker}`);
    journal.entries = journal.entries.slice(0, upTo);
    writeFileSync(journalFile, JSON.stringify(journal));
    await client`CREATE SCHEMA IF NOT EXISTS ${client(schema)}`;
    await drizzleMigrate(drizzle({ client }), { migrationsFolder: dir, migrationsSchema: schema, migrationsTable: 'taskmill_migrations' });
  } finally {
    await client.end({ timeout: 1 });
    rmSync(dir, { recursive: true, force: true });
  }
}
