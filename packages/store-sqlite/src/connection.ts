import Database from 'better-sqlite3';
import { resolve as resolvePath } from 'node:path';
import { ConfigurationError, StoreUnavailableError } from '@taskmill/contracts';
import { OpenError } from './errors.js';
import type { RawRow } from '@taskmill/store-kit';

/** Where a store's database lives: a file, or a private in-memory database. */
export type SqliteTarget = { kind: 'file'; path: string } | { kind: 'memory' };

/** Options of `createSqliteStore` for a database file the store opens itself. */
export interface SqliteFileOptions {
  /** Path of the database file, or `:memory:` for a private in-memory database. */
  path: string;
  /** How long a write waits for another connection's lock, in ms. (Default: 5000) */
  busy_timeout_ms?: number;
}

/** Options of `createSqliteStore` for a better-sqlite3 database opened by the caller. */
export interface SqliteDatabaseOptions {
  /** An open better-sqlite3 database; the store never closes it. */
  database: Database.Database;
  /** When given, sets the connection's `busy_timeout` (ms). (Default: left as the caller set it) */
  busy_timeout_ms?: number;
}

/** What `createSqliteStore` accepts: a `sqlite:` connection string or an options object. */
export type SqliteStoreOptions = string | SqliteFileOptions | SqliteDatabaseOptions;

/** Default `busy_timeout` in ms: how long a write waits for another connection's lock. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/**
 * Longest lock wait inside one synchronous driver call, in ms, on a database the store opens.
 * better-sqlite3 waits for a busy lock synchronously, freezing the event loop (and with it task and
 * worker heartbeats) while another process writes; the rest of `busy_timeout` is waited out
 * between event-loop turns (see transaction.ts).
 */
export const BUSY_SLICE_MS = 20;

/** A cached prepared statement and, for one that returns rows, how its rows are made. */
interface Prepared {
  statement: Database.Statement;
  row: ((values: unknown[]) => RawRow) | null;
}

/*
 * Rows are read in better-sqlite3's raw mode (an array of values per row) and made into objects
 * by a function compiled per statement from its column names: one object literal of a fixed
 * shape. better-sqlite3's own row objects are built key by key in C++; a task row has 45 columns,
 * and building and then reading such an object cost 10.3 µs per row against 4.6 µs for the raw
 * array and this literal (a drain reads every task row about four times). The objects are the
 * same: the same keys in column order, a later duplicate name overriding an earlier one.
 */
function rowMaker(statement: Database.Statement): ((values: unknown[]) => RawRow) | null {
  const names = statement.columns().map((column) => column.name);
  // a literal's `__proto__:` would set the prototype rather than a key: such a statement keeps the driver's objects
  if (names.includes('__proto__')) return null;
  statement.raw(true);
  const last = new Map(names.map((name, i) => [name, i]));
  const fields = [...last].map(([name, i]) => `${JSON.stringify(name)}: v[${i}]`);
  return new Function('v', `return { ${fields.join(', ')} };`) as (values: unknown[]) => RawRow;
}

/** A value better-sqlite3 can bind. */
export type Param = string | number | bigint | Buffer | null;

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
function targetForPath(path: string, original: string = path): SqliteTarget {
  if (typeof path !== 'string' || path.trim() === '' || path.includes('\0')) {
    throw new ConfigurationError(`SQLite connection has no database path: ${String(original)}`);
  }
  if (path === ':memory:') return { kind: 'memory' };
  return { kind: 'file', path };
}

type Source = { kind: 'target'; target: SqliteTarget } | { kind: 'database'; database: Database.Database };

function checkBusyTimeout(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new ConfigurationError('busy_timeout_ms must be a non-negative number');
  }
  return value;
}

/** A better-sqlite3 Database, told by shape (the application's copy of the driver is not ours). */
export function isDatabase(value: unknown): value is Database.Database {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Database.Database).prepare === 'function' &&
    typeof (value as Database.Database).transaction === 'function'
  );
}

/**
 * Open the database and set the store's PRAGMAs: WAL for files (readers never block the single
 * writer), a busy timeout so writers queue instead of failing at once, no foreign keys (no
 * cascades, docs/behaviour.md#schema) and `synchronous=NORMAL` (durable at checkpoints, safe with WAL).
 */
function openDatabase(target: SqliteTarget, busyTimeoutMs: number): Database.Database {
  let db: Database.Database;
  try {
    db = new Database(target.kind === 'memory' ? ':memory:' : target.path);
  } catch (error) {
    // better-sqlite3 does not say which file it could not open
    throw target.kind === 'file' ? new OpenError(target.path, error) : error;
  }
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

/**
 * The store's one better-sqlite3 connection, opened on first use (a bad path fails at the first
 * call, not at construction): cached prepared statements with bound parameters only. A caller's
 * `{ database }` is used as it is and never closed.
 */
export class SqliteConnection {
  /** How long a write may wait for another connection's lock in all, in ms. */
  readonly busyTimeoutMs: number;
  readonly #source: Source;
  readonly #busyOption: number | undefined;
  #db: Database.Database | null = null;
  #closed = false;
  readonly #statements = new Map<string, Prepared>();
  #schemaVersion: number | null = null;

  constructor(options: SqliteStoreOptions) {
    if (typeof options === 'string') {
      this.#source = { kind: 'target', target: parseSqliteConnection(options) };
      this.#busyOption = undefined;
    } else {
      if (typeof options !== 'object' || options === null) {
        throw new ConfigurationError('createSqliteStore needs a sqlite: connection string or an options object');
      }
      this.#busyOption = checkBusyTimeout(options.busy_timeout_ms);
      if ('database' in options && options.database !== undefined) {
        if (!isDatabase(options.database)) throw new ConfigurationError('database must be a better-sqlite3 Database');
        this.#source = { kind: 'database', database: options.database };
      } else {
        const path = (options as SqliteFileOptions).path;
        if (typeof path !== 'string') throw new ConfigurationError('createSqliteStore needs a path or a database');
        this.#source = { kind: 'target', target: path.startsWith('sqlite:') ? parseSqliteConnection(path) : targetForPath(path) };
      }
    }
    this.busyTimeoutMs = this.#busyOption ?? DEFAULT_BUSY_TIMEOUT_MS;
  }

  /** The database file's absolute path, or null for an in-memory database (known without opening it). */
  get filePath(): string | null {
    if (this.#source.kind === 'database') {
      const { memory, name } = this.#source.database;
      return memory || !name || name === ':memory:' ? null : resolvePath(name);
    }
    return this.#source.target.kind === 'file' ? resolvePath(this.#source.target.path) : null;
  }

  /** The database object this store uses, when known without opening one (a caller's, or the open one); else null. */
  get openDatabase(): Database.Database | null {
    if (this.#closed) return null;
    return this.#db ?? (this.#source.kind === 'database' ? this.#source.database : null);
  }

  /**
   * True when the store opened the database itself (a path or connection string), so every write
   * on this connection is the store's own; false for a caller's `{ database }`, which the
   * application may also write to directly.
   */
  get ownsDatabase(): boolean {
    return this.#source.kind === 'target';
  }

  /**
   * SQLite's `PRAGMA data_version`: changes whenever another connection (of this process or any
   * other) commits to the file, never for this connection's own commits. Null when closed.
   */
  dataVersion(): number | null {
    if (this.#closed) return null;
    return Number(this.get('PRAGMA data_version')?.data_version);
  }

  /** True once {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The open database; opens it on first use. */
  get db(): Database.Database {
    if (this.#closed) throw new StoreUnavailableError('SQLite store is closed');
    if (!this.#db) {
      if (this.#source.kind === 'database') {
        if (this.#busyOption !== undefined) this.#source.database.pragma(`busy_timeout = ${Math.floor(this.#busyOption)}`);
        this.#db = this.#source.database;
      } else {
        this.#db = openDatabase(this.#source.target, Math.min(BUSY_SLICE_MS, this.busyTimeoutMs));
      }
    }
    return this.#db;
  }

  #prepare(text: string): Prepared {
    let prepared = this.#statements.get(text);
    if (!prepared) {
      const statement = this.db.prepare(text);
      prepared = { statement, row: statement.reader ? rowMaker(statement) : null };
      // no row maker: the driver's own objects (not a reader, or see rowMaker)
      this.#statements.set(text, prepared);
    }
    return prepared;
  }

  /**
   * Forget every prepared statement when the schema changed since the last look (SQLite's schema
   * cookie, `PRAGMA schema_version`): a `SELECT *` re-prepared by SQLite after a migration may list
   * other columns, in another order, than the row maker built for it. Called at the start of each
   * of the store's transactions (the schema cannot change under an open one). The connection
   * reloads its copy of the schema only when a statement runs into the new cookie, so one runs
   * before anything is prepared again (a statement prepared on the stale copy names the old columns).
   */
  checkSchemaVersion(): void {
    const version = Number(this.get('PRAGMA schema_version')?.schema_version);
    if (version !== this.#schemaVersion) {
      this.#statements.clear();
      this.get('SELECT name FROM sqlite_master LIMIT 1');
      this.#schemaVersion = version;
    }
  }

  /** First row of a query, or undefined. */
  get(text: string, ...params: Param[]): RawRow | undefined {
    const { statement, row } = this.#prepare(text);
    if (!row) return statement.get(...params) as RawRow | undefined;
    const values = statement.get(...params) as unknown[] | undefined;
    return values === undefined ? undefined : row(values);
  }

  /** Every row of a query. */
  all(text: string, ...params: Param[]): RawRow[] {
    const { statement, row } = this.#prepare(text);
    if (!row) return statement.all(...params) as RawRow[];
    const rows = statement.all(...params) as unknown[][];
    const out: RawRow[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) out[i] = row(rows[i]);
    return out;
  }

  /**
   * Task rows as the open transaction last read or wrote them, by id (task-rows.ts), so that a
   * transaction reading back the rows it just changed need not read them again; null outside the
   * store's own transactions (transaction.ts). A statement that may change task rows in a way
   * nobody applied to these copies ({@link run}, {@link exec}) empties it.
   */
  taskRows: Map<number, RawRow> | null = null;

  /** Run a statement; `changes` and `lastInsertRowid` tell what it did. Forgets the {@link taskRows}. */
  run(text: string, ...params: Param[]): Database.RunResult {
    this.taskRows?.clear();
    return this.#prepare(text).statement.run(...params);
  }

  /**
   * Run a statement with its parameters in one array, keeping the {@link taskRows}: for statements
   * that change no task row, or whose change the caller applies to the kept copy itself.
   */
  write(text: string, params: readonly Param[]): Database.RunResult {
    return this.#prepare(text).statement.run(params);
  }

  /** Run statements without parameters (transaction control, migrations). */
  exec(text: string): void {
    this.taskRows?.clear();
    this.db.exec(text);
  }

  /** Close the database if the store opened it; later calls fail with `StoreUnavailableError`. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const db = this.#db;
    this.#db = null;
    this.#statements.clear();
    this.#schemaVersion = null;
    if (db && this.#source.kind === 'target' && db.open) db.close();
  }
}

/** Bind a list as one JSON parameter, for `IN (SELECT value FROM json_each(?))`: one statement text for any length. */
export function jsonList(values: readonly (string | number)[]): string {
  return JSON.stringify(values);
}

/** Bytes as better-sqlite3 binds them. */
export function toBlob(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
