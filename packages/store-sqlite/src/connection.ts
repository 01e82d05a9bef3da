import Database from 'better-sqlite3';
import { ConfigurationError } from '@taskmill/contracts';

/** Where a store's database lives: a file, or a private in-memory database. */
export type SqliteTarget = { kind: 'file'; path: string } | { kind: 'memory' };

/** Default `busy_timeout` in ms: how long a write waits for another connection's lock. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/**
 * Parse `sqlite:<path>`, `sqlite::memory:`, `sqlite:file.db`, `sqlite:///abs/path.db` or
 * `sqlite://rel/path.db` (fib-flow spellings). Throws `ConfigurationError` for anything else.
 */
export function parseSqliteConnection(connection: string): SqliteTarget {
  if (typeof connection !== 'string' || !connection.startsWith('sqlite:')) {
    throw new ConfigurationError(`Not a SQLite connection string: ${String(connection)}`);
  }
  let rest = connection.slice('sqlite:'.length);
  if (rest.startsWith('//')) rest = rest.slice(2);
  return targetForPath(rest, connection);
}

/** A target for a bare path (`:memory:` included). */
export function targetForPath(path: string, original: string = path): SqliteTarget {
  if (typeof path !== 'string' || path.trim() === '' || path.includes('\0')) {
    throw new ConfigurationError(`SQLite connection has no database path: ${String(original)}`);
  }
  if (path === ':memory:') return { kind: 'memory' };
  return { kind: 'file', path };
}

/**
 * Open the database and set the store's PRAGMAs: WAL for files (readers never block the single
 * writer), a busy timeout so writers queue instead of failing at once, no foreign keys (no
 * cascades, SPEC A17) and `synchronous=NORMAL` (durable at checkpoints, safe with WAL).
 */
export function openDatabase(target: SqliteTarget, busyTimeoutMs: number): Database.Database {
  const db = new Database(target.kind === 'memory' ? ':memory:' : target.path);
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
    if (target.kind === 'file') db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = OFF');
    db.pragma('synchronous = NORMAL');
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}
