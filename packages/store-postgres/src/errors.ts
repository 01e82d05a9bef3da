import { StoreError, StoreUnavailableError, TaskmillError } from '@taskmill/contracts';

/*
 * Driver errors never leave the store (docs/behaviour.md#errors): connection trouble becomes
 * StoreUnavailableError (retry later), anything else StoreError, both keeping `cause`.
 */

/** Node socket errors and postgres-js connection states that mean "the server is not reachable". */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
]);

/**
 * SQLSTATEs of a server that is going away or not accepting us yet: class 08 (connection
 * exception), 57P01 admin_shutdown (pg_terminate_backend), 57P02 crash_shutdown, 57P03
 * cannot_connect_now (starting up), 53300 too_many_connections, 25P03
 * idle_in_transaction_session_timeout (the server ended a session its process left idle in a
 * transaction, see the store's session limits).
 */
function isUnavailableSqlState(code: string): boolean {
  return code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300' || code === '25P03';
}

/**
 * 40001 serialization_failure, 40P01 deadlock_detected and 55P03 lock_not_available (the
 * session's `lock_timeout` passed while it waited for a row lock, held by a process that may be
 * frozen until the server cuts its session): the transaction may simply be retried.
 */
export function isRetryableTransactionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '40001' || code === '40P01' || code === '55P03';
}

/** True when `error` means the database cannot be reached right now. */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  return CONNECTION_CODES.has(code) || isUnavailableSqlState(code);
}

/**
 * The message of the server's or the socket's own error when a wrapper (drizzle's "Failed query:
 * …") hides it in `cause`: `permission denied for database …` is what the reader needs, the
 * statement only where it failed.
 */
function describe(error: unknown): string {
  const outer = error instanceof Error ? error.message : String(error);
  let inner: unknown = (error as { cause?: unknown } | null)?.cause;
  let root: Error | null = null;
  for (let depth = 0; depth < 5 && inner instanceof Error; depth += 1) {
    root = inner;
    inner = (inner as { cause?: unknown }).cause;
  }
  if (!root || !root.message || outer.includes(root.message)) return outer;
  return `${root.message} (${outer.replace(/\s+/g, ' ').trim()})`;
}

/** Map anything thrown while talking to PostgreSQL to a taskmill error; typed errors pass through. */
export function toStoreError(error: unknown, operation: string): TaskmillError {
  if (error instanceof TaskmillError) return error;
  const detail = describe(error);
  if (isConnectionError(error)) {
    return new StoreUnavailableError(`PostgreSQL is unavailable (${operation}): ${detail}`, { cause: error });
  }
  return new StoreError(`PostgreSQL ${operation} failed: ${detail}`, { cause: error });
}
