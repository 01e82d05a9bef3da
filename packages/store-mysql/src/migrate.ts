import { fileURLToPath } from 'node:url';
import { StoreError } from '@taskmill/contracts';
import { drizzle } from 'drizzle-orm/mysql2';
import { migrate } from 'drizzle-orm/mysql2/migrator';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { assertSchemaReady } from '@taskmill/store-kit';
import type { MysqlConnection } from './connection.js';
import { rows, withDedicatedConnection } from './transaction.js';

/*
 * Schema setup: the drizzle-kit migrations in ../drizzle, applied by drizzle's migrator under a
 * per-database named lock. drizzle's migrator takes no cross-process lock, and MySQL DDL commits
 * implicitly, so two processes starting together would both try to create the tables; with
 * GET_LOCK held on the one connection that runs the migrator, the second waits and then finds
 * every migration recorded. Named locks are per server, so the database name is part of it.
 */

const MIGRATIONS_FOLDER = fileURLToPath(new URL('../drizzle', import.meta.url));

/**
 * Where drizzle records applied migrations, prefixed like every taskmill table so the store can
 * share a database with the application (docs/behaviour.md#schema). The MySQL store has always used this name, so
 * databases it created need no upgrade; the migrations create nothing else but `taskmill_` tables.
 */
export const MIGRATIONS_TABLE = 'taskmill_migrations';

/** Create or migrate the schema (idempotent, safe to run from many processes at once). */
export async function runMigrations(connection: MysqlConnection): Promise<void> {
  await withDedicatedConnection(connection, 'setup', async (conn) => {
    const [db] = await rows(conn, 'SELECT DATABASE() AS db');
    // lock names are limited to 64 characters
    const lockName = `taskmill_migrate:${String(db?.db ?? '')}`.slice(0, 64);
    const [got] = await rows(conn, 'SELECT GET_LOCK(?, ?) AS got', [lockName, connection.migrationLockTimeout]);
    if (Number(got?.got) !== 1) {
      throw new StoreError(`Timed out after ${connection.migrationLockTimeout} s waiting for the migration lock ${lockName}`);
    }
    try {
      await migrate(drizzle({ client: conn }), { migrationsFolder: MIGRATIONS_FOLDER, migrationsTable: MIGRATIONS_TABLE });
    } finally {
      await rows(conn, 'SELECT RELEASE_LOCK(?) AS released', [lockName]);
    }
  });
}

/**
 * Reader mode: reads only (information_schema and the bookkeeping table), no lock, no DDL, so a
 * user with SELECT on the database may run it.
 */
export async function checkSchema(connection: MysqlConnection): Promise<void> {
  await withDedicatedConnection(connection, 'schema check', async (conn) => {
    const found = await rows(
      conn,
      `SELECT table_name AS name FROM information_schema.tables
       WHERE table_schema = DATABASE() AND table_name IN (?, 'taskmill_tasks')`,
      [MIGRATIONS_TABLE],
    );
    const names = new Set(found.map((row) => String(row.name)));
    const applied = names.has(MIGRATIONS_TABLE)
      ? (await rows(conn, `SELECT created_at FROM \`${MIGRATIONS_TABLE}\``)).map((row) => Number(row.created_at))
      : null;
    const [current] = await rows(conn, 'SELECT DATABASE() AS db');
    const expected = readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER }).map((m) => m.folderMillis);
    assertSchemaReady(`MySQL database "${String(current?.db ?? '')}"`, names.size > 0, applied, expected);
  });
}
