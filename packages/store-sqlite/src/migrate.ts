import { fileURLToPath } from 'node:url';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import type { SqliteConnection } from './connection.js';

/*
 * Schema migrations: the versioned SQL files drizzle-kit generated in ../drizzle (resolved from
 * this module, so it works from src/ and from dist/), read with drizzle's own reader and recorded
 * in drizzle's `__drizzle_migrations` table exactly as drizzle's migrator records them.
 *
 * Why not call drizzle's better-sqlite3 `migrate()` directly: it reads the last applied migration
 * *before* its own plain `BEGIN`, and takes no cross-process lock, so two processes starting on a
 * fresh file both decide to run `CREATE TABLE` and one fails. It also issues its own `BEGIN`, so it
 * cannot be nested inside our lock. We therefore run the same steps inside `BEGIN EXCLUSIVE`: the
 * first process to get the lock migrates, the others wait (busy_timeout) and then find nothing to do.
 */

const MIGRATIONS_FOLDER = fileURLToPath(new URL('../drizzle', import.meta.url));
const MIGRATIONS_TABLE = '__drizzle_migrations';

/** Apply pending migrations under an exclusive database lock. Idempotent. */
export function migrate(connection: SqliteConnection): void {
  const db = connection.db;
  const migrations = readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER });
  const latest = migrations.reduce((max, migration) => Math.max(max, migration.folderMillis), 0);
  if (lastApplied(db) >= latest) return;

  db.exec('BEGIN EXCLUSIVE');
  try {
    db.exec(`CREATE TABLE IF NOT EXISTS "${MIGRATIONS_TABLE}" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)`);
    const applied = lastApplied(db);
    const record = db.prepare(`INSERT INTO "${MIGRATIONS_TABLE}" ("hash", "created_at") VALUES (?, ?)`);
    for (const migration of migrations) {
      if (migration.folderMillis <= applied) continue;
      for (const statement of migration.sql) {
        if (statement.trim() !== '') db.exec(statement);
      }
      record.run(migration.hash, migration.folderMillis);
    }
    db.exec('COMMIT');
  } catch (error) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw error;
  }
}

/** `created_at` (the migration's folder timestamp) of the last applied migration, 0 if none. */
function lastApplied(db: SqliteConnection['db']): number {
  const exists = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(MIGRATIONS_TABLE);
  if (!exists) return 0;
  const row = db.prepare(`SELECT created_at FROM "${MIGRATIONS_TABLE}" ORDER BY created_at DESC LIMIT 1`).get() as
    | { created_at: unknown }
    | undefined;
  return row ? Number(row.created_at) : 0;
}
