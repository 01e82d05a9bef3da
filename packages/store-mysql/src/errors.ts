import { StoreError, StoreUnavailableError, TaskmillError } from '@taskmill/contracts';

/*
 * Driver errors never escape the store (docs/behaviour.md#errors): connection failures become
 * StoreUnavailableError (the caller may retry later), everything else StoreError; the driver
 * error stays reachable as `cause`. taskmill's own errors pass through untouched.
 */

interface DriverError {
  code?: unknown;
  errno?: unknown;
  fatal?: unknown;
  message?: unknown;
  cause?: unknown;
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'PROTOCOL_PACKETS_OUT_OF_ORDER',
  'ER_CONNECTION_KILLED',
  'ER_CLIENT_INTERACTION_TIMEOUT',
  'ER_SERVER_SHUTDOWN',
  'ER_CON_COUNT_ERROR',
  'ER_TOO_MANY_USER_CONNECTIONS',
  'ER_NORMAL_SHUTDOWN',
  'ER_SHUTDOWN_COMPLETE',
  'CR_CONNECTION_ERROR',
  'CR_CONN_HOST_ERROR',
  'CR_SERVER_GONE_ERROR',
  'CR_SERVER_LOST',
]);

/** Server/client error numbers that mean "the connection or the server went away". */
// 1927 is MariaDB's ER_CONNECTION_KILLED, 4031 MySQL 8's ER_CLIENT_INTERACTION_TIMEOUT
const CONNECTION_ERRNOS = new Set([1040, 1053, 1077, 1079, 1927, 2002, 2003, 2006, 2013, 2055, 4031]);

const CONNECTION_MESSAGES = [
  'connection lost',
  'connection is in closed state',
  'connection was killed',
  'server has gone away',
  'lost connection',
  'connect etimedout',
];

/** The driver error itself, unwrapping drizzle's query wrapper when present. */
function driverError(error: unknown): DriverError | null {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current && typeof current === 'object'; depth += 1) {
    const e = current as DriverError;
    if (e.code !== undefined || e.errno !== undefined) return e;
    current = e.cause;
  }
  return error && typeof error === 'object' ? (error as DriverError) : null;
}

/** True when the error means the server or the connection is gone (retry later). */
export function isConnectionError(error: unknown): boolean {
  const e = driverError(error);
  if (!e) return false;
  if (typeof e.code === 'string' && CONNECTION_CODES.has(e.code)) return true;
  if (typeof e.errno === 'number' && CONNECTION_ERRNOS.has(e.errno)) return true;
  const message = typeof e.message === 'string' ? e.message.toLowerCase() : '';
  return CONNECTION_MESSAGES.some((m) => message.includes(m));
}

/** ER_LOCK_DEADLOCK (1213) or ER_LOCK_WAIT_TIMEOUT (1205): the transaction may simply be run again. */
export function isLockConflict(error: unknown): boolean {
  const e = driverError(error);
  if (!e) return false;
  return e.errno === 1213 || e.errno === 1205 || e.code === 'ER_LOCK_DEADLOCK' || e.code === 'ER_LOCK_WAIT_TIMEOUT';
}

/** Map any error thrown while talking to MySQL to a taskmill error. */
export function toStoreError(error: unknown, what = 'MySQL store operation failed'): TaskmillError {
  if (error instanceof TaskmillError) return error;
  const e = driverError(error);
  const detail = e && typeof e.message === 'string' && e.message ? e.message : String(error);
  if (isConnectionError(error)) {
    return new StoreUnavailableError(`MySQL is unavailable: ${detail}`, { cause: error });
  }
  return new StoreError(`${what}: ${detail}`, { cause: error });
}
