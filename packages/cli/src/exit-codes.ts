import { ERROR_CODES, isTaskmillError } from '@taskmill/contracts';

/**
 * Exit codes of the `taskmill` command, for scripts. Stable: a code keeps its meaning across
 * releases.
 */
export const EXIT_CODES = {
  /** The command did what it was asked. */
  OK: 0,
  /** The task's state does not allow the action (e.g. `resume` of a completed task), or an unexpected error. */
  REFUSED: 1,
  /** Bad usage: unknown command or option, a missing or malformed argument (id, `--limit`, `--status`, `--db` URL, a schedule's `--cron`, `--every` or `--payload`). */
  USAGE: 2,
  /** The database cannot be reached or failed (server down, store package missing, schema not migrated). */
  UNAVAILABLE: 3,
  /** No task has that id. */
  NOT_FOUND: 4,
} as const;

/** One of {@link EXIT_CODES}. */
export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** The exit code for an error a command threw. */
export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof UsageError) return EXIT_CODES.USAGE;
  if (!isTaskmillError(error)) return EXIT_CODES.REFUSED;
  switch (error.code) {
    case ERROR_CODES.TASK_NOT_FOUND:
      return EXIT_CODES.NOT_FOUND;
    case ERROR_CODES.CONFIG:
    case ERROR_CODES.VALIDATION:
    case ERROR_CODES.INVALID_CRON:
    case ERROR_CODES.NOT_SERIALIZABLE:
    case ERROR_CODES.LIMIT_EXCEEDED:
      return EXIT_CODES.USAGE;
    case ERROR_CODES.STORE_UNAVAILABLE:
    case ERROR_CODES.STORE:
    case ERROR_CODES.STORE_NOT_INSTALLED:
    case ERROR_CODES.SCHEMA_NOT_READY:
      return EXIT_CODES.UNAVAILABLE;
    default:
      return EXIT_CODES.REFUSED;
  }
}

/** A command line the CLI itself rejects (as opposed to an error of the store). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * The one line printed for an error: its message only (never a stack), with control characters
 * escaped and newlines folded, so a hostile or multi-line driver message stays one line.
 */
export function errorLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const known = error instanceof UsageError || isTaskmillError(error);
  const hint = known && NOT_MIGRATED.test(message) ? ' (the schema is not migrated here: run taskmill migrate)' : '';
  return oneLine(known ? message + hint : `unexpected error: ${message}`);
}

/** A store's error for a missing taskmill table: PostgreSQL, MySQL/MariaDB and SQLite wording. */
const NOT_MIGRATED = /relation "[^"]*taskmill_\w+" does not exist|Table '[^']*taskmill_\w+' doesn't exist|no such table: taskmill_\w+/;

/** Fold a text to one printable line: newlines become spaces, other control characters are escaped. */
export function oneLine(text: string): string {
  return text
    .replace(/\r?\n\s*/g, ' ')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .trim();
}
