import { ConfigurationError } from '@taskmill/contracts';
import postgres from '#postgres';

/** Options of {@link createPostgresStore}. */
export interface PostgresStoreOptions {
  /** `postgres://`, `postgresql://` or `psql://` (alias of `postgres://`) URL. Required unless `client` is given. */
  url?: string;
  /**
   * An existing postgres-js client to use instead of opening one. The store never ends it:
   * `close()` leaves it to its owner. It runs on the caller's copy of postgres-js, not the
   * store's vendored one, so it carries whatever fixes that copy has.
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

/**
 * A postgres-js `Sql` client, typed by shape: the application's client comes from its own
 * `postgres` package, whose types are not the store's vendored ones.
 */
export interface PostgresClient {
  (...args: never[]): unknown;
  begin(...args: never[]): unknown;
  reserve(...args: never[]): unknown;
  unsafe(...args: never[]): unknown;
  listen(...args: never[]): unknown;
  end(...args: never[]): unknown;
}

/** The resolved connection of a store: its client, whether it owns it, and its schema. */
export interface Connection {
  sql: postgres.Sql;
  /** False for a caller's client: `close()` must leave it open. */
  owned: boolean;
  schema: string;
}

const SCHEMES = ['postgres:', 'postgresql:', 'psql:'];
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
    throw new ConfigurationError(`Invalid PostgreSQL connection URL: ${redact(url)}`, { cause });
  }
  if (!SCHEMES.includes(parsed.protocol)) {
    throw new ConfigurationError(
      `Unsupported PostgreSQL URL scheme "${parsed.protocol}" (expected postgres://, postgresql:// or psql://)`,
    );
  }
  if (!parsed.hostname && !parsed.searchParams.get('host')) {
    throw new ConfigurationError(`PostgreSQL connection URL has no host: ${redact(url)}`);
  }
  const text = url.trim();
  return parsed.protocol === 'psql:' ? `postgres:${text.slice('psql:'.length)}` : text;
}

function redact(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}

function positive(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ConfigurationError(`PostgreSQL store option ${name} must be a positive number`);
  }
  return value;
}

/**
 * Resolve the factory's options to a {@link Connection}. postgres-js connects lazily, so this
 * never touches the network.
 */
export function openConnection(options: string | PostgresStoreOptions): Connection {
  const opts: PostgresStoreOptions = typeof options === 'string' ? { url: options } : (options ?? {});
  if (typeof opts !== 'object') throw new ConfigurationError('PostgreSQL store options must be a URL or an object');
  const schema = opts.schema ?? 'public';
  if (typeof schema !== 'string' || !SCHEMA_NAME.test(schema)) {
    throw new ConfigurationError(`Invalid PostgreSQL schema name: ${String(schema)}`);
  }
  if (opts.client) {
    if (typeof opts.client !== 'function' || typeof opts.client.begin !== 'function') {
      throw new ConfigurationError('PostgreSQL store option client must be a postgres-js Sql client');
    }
    return { sql: opts.client as unknown as postgres.Sql, owned: false, schema };
  }
  const url = normalizeUrl(opts.url);
  const sql = postgres(url, {
    max: positive(opts.max, 'max', 10),
    idle_timeout: positive(opts.idle_timeout, 'idle_timeout', 30),
    connect_timeout: positive(opts.connect_timeout, 'connect_timeout', 10),
    onnotice: () => {},
  });
  return { sql, owned: true, schema };
}
