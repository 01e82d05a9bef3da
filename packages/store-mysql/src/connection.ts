import { ConfigurationError, protocolsOf, redactUrl, LifecycleError, resolveSessionLimits, wholeSeconds, type SessionLimits } from '@taskmill/contracts';
import type { Connection, ConnectionOptions, Pool, PoolOptions } from 'mysql2/promise';
import { createConnection, createPool } from 'mysql2/promise';
import { ringer } from './bell.js';

/** Options of {@link createMysqlStore}. */
export interface MysqlStoreOptions extends SessionLimits {
  /** `mysql://user:password@host:port/database` (`mariadb://` is accepted as an alias). */
  url?: string;
  /**
   * An existing mysql2 promise pool to use instead of `url`. The store never ends it: `close()`
   * leaves it open for its owner. It should use `supportBigNumbers: true` so ids beyond 2^53 stay exact.
   */
  pool?: Pool;
  /** Connections in the pool the store creates. (Default: 10) */
  connectionLimit?: number;
  /** ms allowed to open a connection. (Default: 10000) */
  connectTimeout?: number;
  /** Seconds `setup()` waits for another process's migration to finish. (Default: 60) */
  migrationLockTimeout?: number;
  /** How many times a transaction that hit a deadlock or lock wait timeout is run again. (Default: 5) */
  deadlockRetries?: number;
  /**
   * Cross-process wake-ups by a doorbell on MariaDB (bell.ts): an idle worker holds one blocking
   * statement on a connection of its own that returns when the newest event id moves, and every
   * commit that makes a task claimable interrupts those statements (`KILL QUERY ID`). false (on
   * every process: producers ring, workers wait) goes back to the probe every `wakeProbeInterval`
   * ms. The bell needs a connection the store opens itself: with `pool`, and on MySQL servers,
   * workers probe. (Default: true)
   */
  wakeBell?: boolean;
  /**
   * The longest, in ms, one bell statement waits before it looks again: the idle cost is one
   * statement per `wakeBellWait`, and the wake-up delay where no ring arrives (an enqueue inside
   * the application's transaction, a producer with `wakeBell: false` or under another database
   * user). (Default: 1000)
   */
  wakeBellWait?: number;
  /**
   * How often, in ms, an idle worker's wake-up probe asks whether anything happened (notify.ts),
   * where the bell is off or cannot run: one primary-key read per probe. 0 turns wake-ups off
   * (workers then only poll; the bell too). (Default: 50)
   */
  wakeProbeInterval?: number;
}

/** Parsed, validated connection settings; the pool itself is only made on first use. */
export interface MysqlConnection {
  /** The pool, created at the first call (constructing a store never connects). */
  pool(): Pool;
  /** End the pool if the store created it. */
  close(): Promise<void>;
  /** False for a pool passed in by the caller (never ended by the store). */
  readonly ownsPool: boolean;
  readonly migrationLockTimeout: number;
  readonly deadlockRetries: number;
  /** ms between wake-up probes; 0 for no wake-ups at all. */
  readonly wakeProbeInterval: number;
  /**
   * Open the bell's own connection (bell.ts), outside the pool; null where the store cannot (a
   * pool passed in), the bell is off (`wakeBell: false`) or wake-ups are (`wakeProbeInterval: 0`).
   */
  readonly openBell: (() => Promise<Connection>) | null;
  /** ms one bell statement waits at most. */
  readonly wakeBellWait: number;
  /** A task became claimable and its transaction committed: wake the bells of other processes (fire and forget). */
  ring(): void;
  /** The pool may send several statements in one query (plain.ts packets): the store's own always, a pool passed in when made so. */
  readonly multipleStatements: boolean;
}

function positiveInt(value: unknown, name: string, fallback: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) {
    throw new ConfigurationError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return n;
}

/** Parse a `mysql://` URL into mysql2 pool options (throws ConfigurationError, never connects). */
export function parseMysqlUrl(url: string): PoolOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new ConfigurationError(`Invalid MySQL connection URL: ${redactUrl(url)}`, { cause });
  }
  if (!protocolsOf('mysql').includes(parsed.protocol)) {
    throw new ConfigurationError(`A MySQL connection URL must start with mysql:// or mariadb://, got ${parsed.protocol}//`);
  }
  if (!parsed.hostname) throw new ConfigurationError('The MySQL connection URL has no host');
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (!database || database.includes('/')) {
    throw new ConfigurationError('The MySQL connection URL must name one database: mysql://user@host:3306/<database>');
  }
  const port = parsed.port ? positiveInt(parsed.port, 'port', 3306) : 3306;
  const options: PoolOptions = {
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port,
    user: decodeURIComponent(parsed.username) || 'root',
    password: decodeURIComponent(parsed.password),
    database,
  };
  const limit = parsed.searchParams.get('connectionLimit');
  if (limit !== null) options.connectionLimit = positiveInt(limit, 'connectionLimit', 10);
  const connectTimeout = parsed.searchParams.get('connectTimeout');
  if (connectTimeout !== null) options.connectTimeout = positiveInt(connectTimeout, 'connectTimeout', 10_000);
  const ssl = parsed.searchParams.get('ssl');
  if (ssl === 'true' || ssl === '1') options.ssl = {};
  return options;
}

/**
 * A new pooled connection as the `connection` event gives it: mysql2's promise pool passes on its
 * core pool's event, whose connection takes a callback (the typings name the promise connection).
 */
interface SessionConnection {
  query(sql: string, callback: (error: unknown) => void): unknown;
}

/**
 * Set the store's session limits on a new pooled connection (see session-limits in
 * @taskmill/contracts). mysql2 runs a connection's commands in order and emits `connection` before
 * handing it out, so these statements precede every statement of the store on it. MySQL 8 has no
 * `idle_transaction_timeout` (MariaDB 10.3+ does): its "unknown system variable" (1193) is
 * expected there and ignored; any other failure surfaces on the connection's next statement.
 */
function applySessionLimits(conn: SessionConnection, limits: Required<SessionLimits>): void {
  const ignore = () => {};
  conn.query(`SET SESSION innodb_lock_wait_timeout = ${wholeSeconds(limits.lock_timeout_ms) || 31_536_000}`, ignore);
  conn.query(`SET SESSION idle_transaction_timeout = ${wholeSeconds(limits.idle_transaction_timeout_ms)}`, ignore);
}

/** Validate options now and return the connection; the pool itself is created on first use (constructing never connects). */
export function openConnection(options: string | MysqlStoreOptions): MysqlConnection {
  const opts: MysqlStoreOptions = typeof options === 'string' ? { url: options } : (options ?? {});
  if (typeof opts !== 'object') throw new ConfigurationError('createMysqlStore needs a mysql:// URL or an options object');
  const migrationLockTimeout = positiveInt(opts.migrationLockTimeout, 'migrationLockTimeout', 60);
  const deadlockRetries = positiveInt(opts.deadlockRetries, 'deadlockRetries', 5);
  const wakeProbeInterval = opts.wakeProbeInterval === 0 ? 0 : positiveInt(opts.wakeProbeInterval, 'wakeProbeInterval', 50);
  const wakeBellWait = positiveInt(opts.wakeBellWait, 'wakeBellWait', 1000);
  if (opts.wakeBell !== undefined && typeof opts.wakeBell !== 'boolean') throw new ConfigurationError(`wakeBell must be true or false, got ${String(opts.wakeBell)}`);
  const bell = opts.wakeBell !== false;
  const noRing = () => {};
  if (opts.pool) {
    const pool = opts.pool;
    if (typeof pool.getConnection !== 'function' || typeof pool.query !== 'function') {
      throw new ConfigurationError('options.pool must be a mysql2 promise pool (mysql2/promise createPool())');
    }
    return {
      pool: () => pool,
      close: async () => {},
      ownsPool: false,
      migrationLockTimeout,
      deadlockRetries,
      wakeProbeInterval,
      openBell: null,
      wakeBellWait,
      ring: bell ? ringer(() => pool) : noRing,
      multipleStatements: allowsMultipleStatements(pool),
    };
  }
  if (typeof opts.url !== 'string' || opts.url.trim() === '') {
    throw new ConfigurationError('createMysqlStore needs a mysql:// URL or an existing mysql2 pool');
  }
  const fromUrl = parseMysqlUrl(opts.url.trim());
  const poolOptions: PoolOptions = {
    connectionLimit: positiveInt(opts.connectionLimit, 'connectionLimit', 10),
    connectTimeout: positiveInt(opts.connectTimeout, 'connectTimeout', 10_000),
    ...fromUrl,
    // every persisted time is a BIGINT of ms passed by the caller; no DATETIME is ever read,
    // but keep the driver from applying the host's zone should one appear
    timezone: 'Z',
    supportBigNumbers: true,
    bigNumberStrings: false,
    charset: 'utf8mb4',
    enableKeepAlive: true,
    waitForConnections: true,
    // the one-round-trip packets (plain.ts); every value still goes through a `?` placeholder
    multipleStatements: true,
  };
  const limits = resolveSessionLimits(opts, 'MySQL');
  let pool: Pool | null = null;
  let closed = false;
  const ownPool = () => {
    if (!pool) {
      if (closed) throw new LifecycleError('The MySQL store is closed');
      pool = createPool(poolOptions);
      pool.on('connection', (conn) => applySessionLimits(conn as unknown as SessionConnection, limits));
    }
    return pool;
  };
  // the bell's connection: the pool's settings without the pool's own, and one statement at a time
  const { connectionLimit: _limit, waitForConnections: _wait, multipleStatements: _multiple, ...bellOptions } = poolOptions;
  return {
    pool: ownPool,
    async close() {
      closed = true;
      const p = pool;
      pool = null;
      if (p) await p.end();
    },
    ownsPool: true,
    migrationLockTimeout,
    deadlockRetries,
    wakeProbeInterval,
    openBell:
      bell && wakeProbeInterval > 0
        ? () => {
            if (closed) return Promise.reject(new LifecycleError('The MySQL store is closed'));
            return createConnection(bellOptions as ConnectionOptions);
          }
        : null,
    wakeBellWait,
    ring: bell ? ringer(ownPool) : noRing,
    multipleStatements: true,
  };
}

/** Whether a mysql2 promise pool was created with `multipleStatements: true` (its core pool's connection settings). */
function allowsMultipleStatements(pool: Pool): boolean {
  const core = (pool as unknown as { pool?: { config?: { connectionConfig?: { multipleStatements?: unknown } } } }).pool;
  return core?.config?.connectionConfig?.multipleStatements === true;
}
