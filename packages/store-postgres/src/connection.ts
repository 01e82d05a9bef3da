import { createHash } from 'node:crypto';
import { ConfigurationError, protocolsOf, redactUrl, resolveSessionLimits, type SessionLimits } from '@taskmill/contracts';
import { TABLES } from '@taskmill/store-kit';
import postgres from 'postgres';

/*
 * The one file that imports the driver: every other file takes the types it needs from here. The
 * driver is the registry's postgres-js 4.x, a dependency of this package. Earlier versions shipped
 * a patched copy of 3.4.9, because 3.4.x can crash a process when a connection dies
 * (porsager/postgres#1154, #1208, #1192, #1223); 4.x's rewritten connection layer survives what
 * crashed 3.4.9, checked on the packed packages by packages/e2e/test/packed-app.test.ts.
 */

/** A postgres-js client (a pool). */
export type Sql = postgres.Sql;
/** The handle of one transaction. */
export type TransactionSql = postgres.TransactionSql;
/** One connection taken out of the pool (`sql.reserve()`). */
export type ReservedSql = postgres.ReservedSql;
/** Anything that runs a tagged-template query: the pool, a transaction or a reserved connection. */
export type Queryable = postgres.ISql;
/** A piece of SQL with its bound parameters, for interpolation into a tagged template. */
export type Fragment = postgres.Fragment;
/** Options of `sql.unsafe()`. */
export type UnsafeQueryOptions = postgres.UnsafeQueryOptions;
/** A query not yet awaited. */
export type PendingRows = postgres.PendingQuery<postgres.Row[]>;

/**
 * A postgres-js `Sql` client, typed by shape: the application's client comes from its own
 * `postgres` package, whose version (and so whose types) may differ from the store's.
 */
export interface PostgresClient {
  (...args: never[]): unknown;
  begin(...args: never[]): unknown;
  reserve(...args: never[]): unknown;
  unsafe(...args: never[]): unknown;
  listen(...args: never[]): unknown;
  end(...args: never[]): unknown;
}

/** Options of {@link createPostgresStore}. */
export interface PostgresStoreOptions extends SessionLimits {
  /** `postgres://`, `postgresql://` or `psql://` (alias of `postgres://`) URL. Required unless `client` is given. */
  url?: string;
  /**
   * An existing postgres-js client to use instead of opening one. The store never ends it:
   * `close()` leaves it to its owner. It runs on the caller's copy of postgres-js, not the
   * store's, so it has that copy's bugs and fixes: 3.4.x can crash the process when a
   * connection dies (see above).
   */
  client?: PostgresClient;
  /** Schema holding the tables; created by `setup()`. (Default: `public`) */
  schema?: string;
  /** Pool size of a client the store opens. (Default: 10) */
  max?: number;
  /** Seconds an idle pooled connection stays open. (Default: 30) */
  idle_timeout?: number;
  /** Seconds to wait for a new connection before failing with StoreUnavailableError. (Default: 10) */
  connect_timeout?: number;
}

/** Schema-qualified table identifiers, for interpolation into tagged templates. */
export interface Tables {
  tasks: Fragment;
  events: Fragment;
  attempts: Fragment;
  workers: Fragment;
  pausedNames: Fragment;
  signals: Fragment;
  healthMinutes: Fragment;
}

/** The resolved connection of a store: its client, whether it owns it, its schema and tables. */
export interface Connection {
  sql: Sql;
  /** False for a caller's client: `close()` must leave it open. */
  owned: boolean;
  schema: string;
  t: Tables;
  /** LISTEN/NOTIFY channel of this schema (docs/behaviour.md#wake-ups). */
  channel: string;
  /** Unsubscribe functions of the live `listen()` calls, ended by `close()`. */
  listeners: Set<() => Promise<void>>;
}

const SCHEMES = protocolsOf('postgres');
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * Normalise a connection URL: accept the three schemes, rewrite the fib-flow alias `psql://`
 * to `postgres://`, and reject anything else with a ConfigurationError.
 */
export function normalizeUrl(url: unknown): string {
  if (typeof url !== 'string' || url.trim() === '') {
    throw new ConfigurationError('PostgreSQL store requires a connection URL (postgres://…) or a client');
  }
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch (cause) {
    throw new ConfigurationError(`Invalid PostgreSQL connection URL: ${redactUrl(url)}`, { cause });
  }
  if (!SCHEMES.includes(parsed.protocol)) {
    throw new ConfigurationError(
      `Unsupported PostgreSQL URL scheme "${parsed.protocol}" (expected postgres://, postgresql:// or psql://)`,
    );
  }
  if (!parsed.hostname && !parsed.searchParams.get('host')) {
    throw new ConfigurationError(`PostgreSQL connection URL has no host: ${redactUrl(url)}`);
  }
  const text = url.trim();
  return parsed.protocol === 'psql:' ? `postgres:${text.slice('psql:'.length)}` : text;
}

/**
 * A `schema` query parameter of the URL (`postgres://…/db?schema=app`) names the schema, so that a
 * connection string alone (a `dbConnection`, an operator's `--db`) can reach any schema. It is taken
 * out of the URL: postgres-js would send it to the server as a run-time parameter, which fails.
 */
function withUrlSchema(opts: PostgresStoreOptions): PostgresStoreOptions {
  if (typeof opts.url !== 'string') return opts;
  const url = normalizeUrl(opts.url);
  const parsed = new URL(url);
  if (!parsed.searchParams.has('schema')) return opts;
  const fromUrl = parsed.searchParams.get('schema') ?? '';
  if (opts.schema !== undefined && opts.schema !== fromUrl) {
    throw new ConfigurationError(`PostgreSQL schema given twice: ${String(opts.schema)} (option) and ${fromUrl} (URL)`);
  }
  parsed.searchParams.delete('schema');
  return { ...opts, url: parsed.toString(), schema: fromUrl };
}

function positive(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ConfigurationError(`PostgreSQL store option ${name} must be a positive number`);
  }
  return value;
}

/**
 * The schema's table identifiers, made by `sql` itself: an identifier is only recognised by the
 * postgres-js copy that made it, so an application's transaction (its own copy) needs its own.
 */
export function tablesFor(sql: Queryable, schema: string): Tables {
  // postgres-js escapes each dot-separated part as its own identifier: "schema"."table". The
  // schema name was validated, so no quoting issue arises.
  const table = (name: string) => (sql as unknown as (name: string) => Fragment)(`${schema}.${name}`);
  return {
    tasks: table(TABLES.tasks),
    events: table(TABLES.events),
    attempts: table(TABLES.attempts),
    workers: table(TABLES.workers),
    pausedNames: table(TABLES.pausedNames),
    signals: table(TABLES.signals),
    healthMinutes: table(TABLES.healthMinutes),
  };
}

/** The longest channel name PostgreSQL takes (NAMEDATALEN − 1 bytes); a longer one fails `pg_notify` with "channel name too long". */
const MAX_CHANNEL_LENGTH = 63;

/**
 * The LISTEN/NOTIFY channel of a schema: `taskmill_<schema>`, or, where that would pass 63 bytes
 * (schemas of 55 to 63 characters), the schema's first characters and a digest of the whole name,
 * so every process on the schema still agrees on it and two long schemas do not share one.
 * Schema names are ASCII (SCHEMA_NAME), so characters are bytes.
 */
export function channelFor(schema: string): string {
  const plain = `taskmill_${schema}`;
  if (plain.length <= MAX_CHANNEL_LENGTH) return plain;
  const digest = createHash('sha256').update(schema).digest('hex').slice(0, 16);
  return `taskmill_${schema.slice(0, MAX_CHANNEL_LENGTH - 'taskmill_'.length - digest.length - 1)}_${digest}`;
}

function connection(sql: Sql, owned: boolean, schema: string): Connection {
  return { sql, owned, schema, t: tablesFor(sql, schema), channel: channelFor(schema), listeners: new Set() };
}

/**
 * Resolve the factory's options to a {@link Connection}. postgres-js connects lazily, so this
 * never touches the network.
 */
export function openConnection(options: string | PostgresStoreOptions): Connection {
  const given: PostgresStoreOptions = typeof options === 'string' ? { url: options } : (options ?? {});
  if (typeof given !== 'object') throw new ConfigurationError('PostgreSQL store options must be a URL or an object');
  const opts = given.client ? given : withUrlSchema(given);
  const schema = opts.schema ?? 'public';
  if (typeof schema !== 'string' || !SCHEMA_NAME.test(schema)) {
    throw new ConfigurationError(`Invalid PostgreSQL schema name: ${String(schema)}`);
  }
  if (opts.client) {
    if (typeof opts.client !== 'function' || typeof opts.client.begin !== 'function') {
      throw new ConfigurationError('PostgreSQL store option client must be a postgres-js Sql client');
    }
    return connection(opts.client as unknown as Sql, false, schema);
  }
  const url = normalizeUrl(opts.url);
  const limits = resolveSessionLimits(opts, 'PostgreSQL');
  const sql = postgres(url, {
    max: positive(opts.max, 'max', 10),
    idle_timeout: positive(opts.idle_timeout, 'idle_timeout', 30),
    connect_timeout: positive(opts.connect_timeout, 'connect_timeout', 10),
    onnotice: () => {},
    // postgres-js waits longer before each reconnection, up to 20 s once a few have failed (one
    // retry count for the whole pool), and queries wait for it: after a server restart the store
    // stayed cut off for 5-20 s while the server was back, longer than a worker lease, so peers
    // reaped live workers. Retry at most every half second instead (a connection attempt to a
    // down server is cheap), with jitter so a pool does not reconnect in lockstep.
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 0.5) * (0.5 + Math.random() / 2),
    // sent with each new session's startup packet, so they cost no statement (see session-limits
    // in @taskmill/contracts): the server ends a session left idle in a transaction by a frozen
    // process, and a lock wait fails instead of queueing behind one for ever
    connection: {
      idle_in_transaction_session_timeout: limits.idle_transaction_timeout_ms,
      lock_timeout: limits.lock_timeout_ms,
    },
  });
  return connection(sql, true, schema);
}

/** End the live listeners, then the client when the store opened it. */
export async function closeConnection(connection: Connection): Promise<void> {
  await Promise.all([...connection.listeners].map((unsubscribe) => unsubscribe().catch(() => {})));
  // Nothing of ours is in flight when close() is called, so the grace period is short: after a
  // server-side kill postgres-js can wait on a dead connection until the timeout forces it.
  if (connection.owned) await connection.sql.end({ timeout: 1 });
}
