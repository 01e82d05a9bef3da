import { fileURLToPath } from 'node:url';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { PgDialect } from 'drizzle-orm/pg-core';
import { PostgresJsSession } from 'drizzle-orm/postgres-js/session';
import { assertSchemaReady } from '@taskmill/store-kit';
import type { Connection, PendingRows, ReservedSql, UnsafeQueryOptions } from './connection.js';
import { toStoreError } from './errors.js';

/*
 * Schema setup: the drizzle-kit migrations in ../drizzle, applied by drizzle's migrator. The
 * migrator takes no cross-process lock, so it runs on one reserved connection holding a session
 * advisory lock keyed by the schema: stores starting together apply each migration once, the
 * others wait and then find nothing to do. The tables are unqualified in the generated SQL;
 * `search_path` on that connection points them at the configured schema, and the bookkeeping
 * table sits in that schema too.
 */

const MIGRATIONS_FOLDER = fileURLToPath(new URL('../drizzle', import.meta.url));

/** Where applied migrations are recorded, in the store's schema (prefixed like every taskmill table). */
export const MIGRATIONS_TABLE = 'taskmill_migrations';

/** Where earlier versions of this store recorded them (drizzle's default name, in the store's schema). */
export const LEGACY_MIGRATIONS_TABLE = '__drizzle_migrations';

/** Create or migrate the schema (idempotent, safe to run from many processes at once). */
export async function migrate(connection: Connection): Promise<void> {
  let reserved: ReservedSql;
  try {
    reserved = await connection.sql.reserve();
  } catch (error) {
    throw toStoreError(error, 'setup');
  }
  const { schema } = connection;
  const lockKey = `taskmill:migrate:${schema}`;
  try {
    // the session's lock_timeout bounds lock waits on the hot path; a migration waits its turn
    // behind another process's migration and behind running transactions however long they take
    await reserved`SET lock_timeout = 0`;
    await reserved`SELECT pg_advisory_lock(hashtext(${lockKey}))`;
    try {
      await moveLegacyBookkeeping(reserved, schema);
      await reserved`SET search_path TO ${reserved(schema)}`;
      // What drizzle-orm/postgres-js/migrator does, on the reserved connection that holds the
      // advisory lock: a drizzle database on it would need `begin`, which a reserved connection
      // lacks, so migrationClient() supplies one.
      const config = { migrationsFolder: MIGRATIONS_FOLDER, migrationsSchema: schema, migrationsTable: MIGRATIONS_TABLE };
      const dialect = new PgDialect();
      const session = new PostgresJsSession<never, Record<string, never>, Record<string, never>>(migrationClient(reserved) as never, dialect, undefined);
      await dialect.migrate(readMigrationFiles(config), session, config);
    } finally {
      await reserved`RESET search_path`.catch(() => {});
      await reserved`SELECT pg_advisory_unlock(hashtext(${lockKey}))`.catch(() => {});
      await reserved`RESET lock_timeout`.catch(() => {});
    }
  } catch (error) {
    throw toStoreError(error, 'setup');
  } finally {
    reserved.release();
  }
}

/**
 * Reader mode: reads only (catalog lookups and the bookkeeping table), no lock, no DDL, so a role
 * with USAGE on the schema and SELECT on its tables may run it.
 */
export async function checkSchema(connection: Connection): Promise<void> {
  const { sql, schema } = connection;
  try {
    const found = await sql`
      SELECT tablename FROM pg_tables WHERE schemaname = ${schema} AND tablename IN (${MIGRATIONS_TABLE}, 'taskmill_tasks')`;
    const names = new Set(found.map((row) => row.tablename as string));
    const applied = names.has(MIGRATIONS_TABLE)
      ? (await sql`SELECT created_at FROM ${sql(`${schema}.${MIGRATIONS_TABLE}`)}`).map((row) => Number(row.created_at))
      : null;
    const expected = readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER }).map((m) => m.folderMillis);
    assertSchemaReady(`PostgreSQL schema "${schema}"`, names.size > 0, applied, expected);
  } catch (error) {
    throw toStoreError(error, 'schema check');
  }
}

/**
 * Upgrade a database set up before the bookkeeping table was renamed: move the rows of our
 * migrations from `<schema>.__drizzle_migrations` to `<schema>.taskmill_migrations` (so none is
 * applied again), then drop the old table once it is empty. Rows are ours when their
 * `created_at` is the timestamp of one of our migrations; any other row (an application's own
 * drizzle bookkeeping in the same schema) stays where it is, with its table. drizzle's default
 * location, schema `drizzle`, was never ours and is never touched. One transaction: a crash
 * leaves the old layout, and the next setup() upgrades again.
 */
async function moveLegacyBookkeeping(reserved: ReservedSql, schema: string): Promise<void> {
  const [legacy] = await reserved`
    SELECT 1 FROM pg_tables WHERE schemaname = ${schema} AND tablename = ${LEGACY_MIGRATIONS_TABLE}`;
  if (!legacy) return;
  const ours = readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER }).map((m) => m.folderMillis);
  const oldTable = reserved(`${schema}.${LEGACY_MIGRATIONS_TABLE}`);
  const newTable = reserved(`${schema}.${MIGRATIONS_TABLE}`);
  await inTransaction(reserved, async () => {
    // the same definition drizzle's migrator creates it with
    await reserved`CREATE TABLE IF NOT EXISTS ${newTable} (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)`;
    await reserved`
      INSERT INTO ${newTable} (hash, created_at)
      SELECT hash, created_at FROM ${oldTable} AS old
      WHERE created_at = ANY(${ours}::int8[])
        AND NOT EXISTS (SELECT 1 FROM ${newTable} AS moved WHERE moved.created_at = old.created_at)
      ORDER BY id`;
    await reserved`DELETE FROM ${oldTable} WHERE created_at = ANY(${ours}::int8[])`;
    const [left] = await reserved`SELECT EXISTS (SELECT 1 FROM ${oldTable}) AS present`;
    if (!left.present) await reserved`DROP TABLE ${oldTable}`;
  });
}

async function inTransaction<T>(reserved: ReservedSql, fn: () => Promise<T>): Promise<T> {
  await reserved.unsafe('BEGIN');
  try {
    const result = await fn();
    await reserved.unsafe('COMMIT');
    return result;
  } catch (error) {
    await reserved.unsafe('ROLLBACK').catch(() => {});
    throw error;
  }
}

/**
 * The slice of a postgres-js client drizzle's migrator uses, bound to the reserved connection
 * (a reserved connection has no `begin`). Its own `options` keep drizzle from changing the
 * type parsers of the caller's client.
 */
interface MigrationClient {
  options: { parsers: object; serializers: object };
  unsafe(query: string, params?: unknown[], options?: UnsafeQueryOptions): PendingRows;
  begin<T>(fn: (tx: MigrationClient) => Promise<T>): Promise<T>;
}

function migrationClient(reserved: ReservedSql): MigrationClient {
  const client: MigrationClient = {
    options: { parsers: {}, serializers: {} },
    unsafe: (query, params, options) => reserved.unsafe(query, params as never, options),
    begin: (fn) => inTransaction(reserved, () => fn(client)),
  };
  return client;
}
