import { fileURLToPath } from 'node:url';
import { StoreError } from '@taskmill/contracts';
import { drizzle } from 'drizzle-orm/mysql2';
import { migrate } from 'drizzle-orm/mysql2/migrator';
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
 * share a database with the application (SPEC A17). The MySQL store has always used this name, so
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
