import { StoreError, StoreUnavailableError, TaskmillError } from '@taskmill/contracts';

/*
 * better-sqlite3 errors never leave the store (contract rule): lock waits that ran out and a
 * closed or unopenable database mean "try again later"; anything else is a plain StoreError.
 */

const UNAVAILABLE_CODES = new Set(['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_CANTOPEN', 'SQLITE_IOERR', 'SQLITE_NOTADB']);

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/** A database file that cannot be opened: the driver's message and code, plus the path it does not name. */
export class OpenError extends Error {
  readonly code: unknown;
  constructor(path: string, cause: unknown) {
    super(`${cause instanceof Error ? cause.message : String(cause)} (${path})`, { cause });
    this.name = 'OpenError';
    this.code = (cause as { code?: unknown } | null)?.code;
  }
}

/** SQLITE_BUSY (another connection holds the lock), not any other failure. */
export function isBusy(error: unknown): boolean {
  return codeOf(error).startsWith('SQLITE_BUSY');
}

/** Convert any error thrown while talking to SQLite into a taskmill error (typed ones pass through). */
export function toStoreError(error: unknown, operation: string): TaskmillError {
  if (error instanceof TaskmillError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const base = codeOf(error).split('_').slice(0, 2).join('_');
  if (UNAVAILABLE_CODES.has(base) || /database connection is not open|directory does not exist|unable to open/i.test(message)) {
    return new StoreUnavailableError(`SQLite store unavailable during ${operation}: ${message}`, { cause: error });
  }
  return new StoreError(`SQLite store failed during ${operation}: ${message}`, { cause: error });
}
