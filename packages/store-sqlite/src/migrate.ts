import { fileURLToPath } from 'node:url';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { assertSchemaReady, TABLES } from '@taskmill/store-kit';
import { jsonList, type SqliteConnection } from './connection.js';

/*
 * Schema migrations: the versioned SQL files drizzle-kit generated in ../drizzle (resolved from
 * this module, so it works from src/ and from dist/), read with drizzle's own reader and recorded
 * in `taskmill_migrations` (our prefix, so the store can share a database with an application that
 * runs drizzle's migrator itself, docs/behaviour.md#schema).
 *
 * Why not call drizzle's better-sqlite3 `migrate()` directly: it reads the last applied migration
 * *before* its own plain `BEGIN`, and takes no cross-process lock, so two processes starting on a
 * fresh file both decide to run `CREATE TABLE` and one fails. It also issues its own `BEGIN`, so it
 * cannot be nested inside our lock. We therefore run the same steps inside `BEGIN EXCLUSIVE`: the
 * first process to get the lock migrates, the others wait (busy_timeout) and then find nothing to do.
 *
 * Databases created before 0.2 recorded our migrations in drizzle's `__drizzle_migrations`. The
 * first setup moves those rows (recognised by their hashes) to `taskmill_migrations` in the same
 * exclusive transaction, and drops the old table once nothing else is left in it: an application's
 * own drizzle bookkeeping in the same database is never touched.
 */

const MIGRATIONS_FOLDER = fileURLToPath(new URL('../drizzle', import.meta.url));
const MIGRATIONS_TABLE = 'taskmill_migrations';
const LEGACY_TABLE = '__drizzle_migrations';

/** Apply pending migrations under an exclusive database lock. Idempotent. */
export function migrate(connection: SqliteConnection): void {
  const migrations = readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER });
  const hashes = jsonList(migrations.map((migration) => migration.hash));
  const latest = migrations.reduce((max, migration) => Math.max(max, migration.folderMillis), 0);
  if (!hasLegacyRows(connection, hashes) && lastApplied(connection) >= latest) return;

  connection.exec('BEGIN EXCLUSIVE');
  try {
    connection.exec(`CREATE TABLE IF NOT EXISTS "${MIGRATIONS_TABLE}" (id INTEGER PRIMARY KEY, hash text NOT NULL, created_at numeric)`);
    if (hasLegacyRows(connection, hashes)) adoptLegacyRows(connection, hashes);
    const applied = lastApplied(connection);
    for (const migration of migrations) {
      if (migration.folderMillis <= applied) continue;
      for (const statement of migration.sql) {
        if (statement.trim() !== '') connection.exec(statement);
      }
      connection.run(`INSERT INTO "${MIGRATIONS_TABLE}" ("hash", "created_at") VALUES (?, ?)`, migration.hash, migration.folderMillis);
    }
    connection.exec('COMMIT');
  } catch (error) {
    if (!connection.closed && connection.db.inTransaction) connection.exec('ROLLBACK');
    throw error;
  }
}

/** Reader mode: reads only, never a lock or DDL. */
export function checkSchema(connection: SqliteConnection): void {
  const applied = tableExists(connection, MIGRATIONS_TABLE)
    ? connection.all(`SELECT created_at FROM "${MIGRATIONS_TABLE}"`).map((row) => Number(row.created_at))
    : null;
  const expected = readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER }).map((m) => m.folderMillis);
  const where = connection.filePath === null ? 'the in-memory SQLite database' : `SQLite database ${connection.filePath}`;
  assertSchemaReady(where, tableExists(connection, TABLES.tasks), applied, expected);
}

function tableExists(connection: SqliteConnection, name: string): boolean {
  return connection.get(`SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = ?`, name) !== undefined;
}

/** True when the pre-0.2 bookkeeping table still holds rows of our migrations. */
function hasLegacyRows(connection: SqliteConnection, hashes: string): boolean {
  if (!tableExists(connection, LEGACY_TABLE)) return false;
  return connection.get(`SELECT 1 AS found FROM "${LEGACY_TABLE}" WHERE hash IN (SELECT value FROM json_each(?)) LIMIT 1`, hashes) !== undefined;
}

/** Move our rows from the pre-0.2 table (inside the caller's exclusive transaction); drop it when empty. */
function adoptLegacyRows(connection: SqliteConnection, hashes: string): void {
  connection.run(
    `INSERT INTO "${MIGRATIONS_TABLE}" ("hash", "created_at")
     SELECT hash, created_at FROM "${LEGACY_TABLE}"
     WHERE hash IN (SELECT value FROM json_each(?)) AND hash NOT IN (SELECT hash FROM "${MIGRATIONS_TABLE}")
     ORDER BY created_at`,
    hashes,
  );
  connection.run(`DELETE FROM "${LEGACY_TABLE}" WHERE hash IN (SELECT value FROM json_each(?))`, hashes);
  if (connection.get(`SELECT 1 AS found FROM "${LEGACY_TABLE}" LIMIT 1`) === undefined) connection.exec(`DROP TABLE "${LEGACY_TABLE}"`);
}

/** `created_at` (the migration's folder timestamp) of the last applied migration, 0 if none. */
function lastApplied(connection: SqliteConnection): number {
  if (!tableExists(connection, MIGRATIONS_TABLE)) return 0;
  const row = connection.get(`SELECT created_at FROM "${MIGRATIONS_TABLE}" ORDER BY created_at DESC LIMIT 1`);
  return row ? Number(row.created_at) : 0;
}
