/** Stable error codes; match on `error.code`, never on the message. */
export const ERROR_CODES = {
  CONFIG: 'TASKMILL_CONFIG',
  STORE_NOT_INSTALLED: 'TASKMILL_STORE_NOT_INSTALLED',
  VALIDATION: 'TASKMILL_VALIDATION',
  INVALID_HANDLER: 'TASKMILL_INVALID_HANDLER',
  HANDLER_NOT_FOUND: 'TASKMILL_HANDLER_NOT_FOUND',
  INVALID_CRON: 'TASKMILL_INVALID_CRON',
  NOT_SERIALIZABLE: 'TASKMILL_NOT_SERIALIZABLE',
  TASK_NOT_FOUND: 'TASKMILL_TASK_NOT_FOUND',
  INVALID_TRANSITION: 'TASKMILL_INVALID_TRANSITION',
  NOT_OWNER: 'TASKMILL_NOT_OWNER',
  LIFECYCLE: 'TASKMILL_LIFECYCLE',
  TIMEOUT: 'TASKMILL_TIMEOUT',
  STORE_UNAVAILABLE: 'TASKMILL_STORE_UNAVAILABLE',
  STORE: 'TASKMILL_STORE',
  DUPLICATE_TASK: 'TASKMILL_DUPLICATE_TASK',
  LIMIT_EXCEEDED: 'TASKMILL_LIMIT_EXCEEDED',
  SCHEMA_NOT_READY: 'TASKMILL_SCHEMA_NOT_READY',
  PERMANENT: 'TASKMILL_PERMANENT',
  TASK_FAILED: 'TASKMILL_TASK_FAILED',
  TASK_CANCELLED: 'TASKMILL_TASK_CANCELLED',
  RESULT_TIMEOUT: 'TASKMILL_RESULT_TIMEOUT',
  NOT_AWAITABLE: 'TASKMILL_NOT_AWAITABLE',
  TASK_FINISHED: 'TASKMILL_TASK_FINISHED',
} as const;

/** One of {@link ERROR_CODES}. */
export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

/** Base class of every error taskmill throws on purpose. `cause` keeps the underlying error. */
export class TaskmillError extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Bad or missing configuration: no `dbConnection`, an unknown connection scheme, bad options. */
export class ConfigurationError extends TaskmillError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ERROR_CODES.CONFIG, message, options);
  }
}

/** A connection string names a store package that is not installed. */
export class StoreNotInstalledError extends TaskmillError {
  /** The npm package to install. */
  readonly packageName: string;
  constructor(packageName: string, options?: { cause?: unknown }) {
    super(
      ERROR_CODES.STORE_NOT_INSTALLED,
      `The store package ${packageName} is not installed; install it with: pnpm add ${packageName}`,
      options,
    );
    this.packageName = packageName;
  }
}

/** An argument of a public method is invalid. Nothing was written. */
export class ValidationError extends TaskmillError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ERROR_CODES.VALIDATION, message, options);
  }
}

/** A handler passed to `use()` is neither a function nor `{handler}`, or uses removed features. */
export class InvalidHandlerError extends TaskmillError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ERROR_CODES.INVALID_HANDLER, message, options);
  }
}

/** No handler is registered under that task name. */
export class HandlerNotFoundError extends TaskmillError {
  readonly taskName: string;
  constructor(taskName: string, message = `No handler registered for task: ${taskName}`) {
    super(ERROR_CODES.HANDLER_NOT_FOUND, message);
    this.taskName = taskName;
  }
}

/** A cron expression (or its time zone) cannot be parsed. */
export class InvalidCronError extends TaskmillError {
  readonly expression: string;
  constructor(expression: string, options?: { cause?: unknown; detail?: string }) {
    super(
      ERROR_CODES.INVALID_CRON,
      `Invalid cron expression: ${expression}${options?.detail ? ` (${options.detail})` : ''}`,
      options,
    );
    this.expression = expression;
  }
}

/** A payload, result or metadata value cannot be stored as JSON. */
export class SerializationError extends TaskmillError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ERROR_CODES.NOT_SERIALIZABLE, message, options);
  }
}

/**
 * A value is larger than a documented limit (`LIMITS`): a payload, result or metadata too many
 * bytes long, or nested too deep. Nothing was written.
 */
export class LimitExceededError extends TaskmillError {
  /** The key of `LIMITS` that was exceeded, e.g. `max_payload_bytes`. */
  readonly limit: string;
  /** The limit's value. */
  readonly max: number;
  /** The size found (bytes or depth; for depth, the first level beyond the limit). */
  readonly actual: number;
  constructor(what: string, limit: string, max: number, actual: number, unit: string) {
    super(ERROR_CODES.LIMIT_EXCEEDED, `${what} is ${actual} ${unit}, more than the limit of ${max} ${unit} (LIMITS.${limit})`);
    this.limit = limit;
    this.max = max;
    this.actual = actual;
  }
}

/**
 * In reader mode (`migrate: false`) the schema is missing, or behind the migrations this version
 * needs; nothing was created or changed. Run `setup()` (or `taskmill migrate`) once with a role
 * that may create and alter tables.
 */
export class SchemaNotReadyError extends TaskmillError {
  /** `missing`: no taskmill tables; `behind`: some migrations of this version are not applied. */
  readonly state: 'missing' | 'behind';
  constructor(where: string, state: 'missing' | 'behind', detail?: { applied: number; expected: number }) {
    const what =
      state === 'missing' ? `The taskmill tables do not exist in ${where}` : `The taskmill tables in ${where} are behind: ${detail?.applied} of ${detail?.expected} migrations applied`;
    super(
      ERROR_CODES.SCHEMA_NOT_READY,
      `${what}; nothing here creates or migrates them: run taskmill migrate (or setup() without migrate: false) with a role that may`,
    );
    this.state = state;
  }
}

/** No task has that id. */
export class TaskNotFoundError extends TaskmillError {
  readonly taskId: unknown;
  constructor(taskId: unknown) {
    super(ERROR_CODES.TASK_NOT_FOUND, `Task ${String(taskId)} not found`);
    this.taskId = taskId;
  }
}

/**
 * The task has finished (`completed` or `permanently_failed`): it can no longer take a signal
 * (docs/behaviour.md#signals). Nothing was written.
 */
export class TaskFinishedError extends TaskmillError {
  readonly taskId: number;
  readonly status: string;
  constructor(taskId: number, status: string) {
    super(ERROR_CODES.TASK_FINISHED, `Task ${taskId} has finished (${status}) and takes no signals`);
    this.taskId = taskId;
    this.status = status;
  }
}

/** The task's current status does not allow the requested transition (docs/behaviour.md#transitions). */
export class InvalidTransitionError extends TaskmillError {
  readonly taskId: number;
  readonly from: string;
  readonly to: string;
  constructor(taskId: number, from: string, to: string, workerId?: string | null) {
    super(
      ERROR_CODES.INVALID_TRANSITION,
      `Failed to update task ${taskId}. Current status: ${from}, worker_id: ${workerId ?? null}` +
        ` (cannot move from ${from} to ${to})`,
    );
    this.taskId = taskId;
    this.from = from;
    this.to = to;
  }
}

/** A write about a claimed task came from a worker that no longer owns it (fencing, docs/behaviour.md#fencing). */
export class NotOwnerError extends TaskmillError {
  readonly taskId: number;
  readonly workerId: string;
  constructor(taskId: number, workerId: string) {
    super(ERROR_CODES.NOT_OWNER, `Task ${taskId} is no longer owned by worker ${workerId}`);
    this.taskId = taskId;
    this.workerId = workerId;
  }
}

/** A lifecycle method was called in a state that does not allow it (e.g. `start()` after `stop()`). */
export class LifecycleError extends TaskmillError {
  constructor(message: string) {
    super(ERROR_CODES.LIFECYCLE, message);
  }
}

/** Thrown by `task.checkTimeout()` once the attempt has run for `timeout` seconds. */
export class TaskTimeoutError extends TaskmillError {
  constructor(message = 'Task execution timeout') {
    super(ERROR_CODES.TIMEOUT, message);
  }
}

/** The database cannot be reached (connection refused, killed, server restarting). Retry later. */
export class StoreUnavailableError extends TaskmillError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ERROR_CODES.STORE_UNAVAILABLE, message, options);
  }
}

/** Any other database failure, wrapped so callers never see a raw driver error. */
export class StoreError extends TaskmillError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ERROR_CODES.STORE, message, options);
  }
}

/**
 * An enqueue with `on_duplicate: 'error'` found a task of that name already holding its
 * `unique_key` (see `UniqueScope`). Nothing of its call was written (inside an application's
 * transaction: roll that transaction back, as after any error). `taskId` is the holder's id.
 */
export class DuplicateTaskError extends TaskmillError {
  /** The id of the task that holds the key. */
  readonly taskId: number;
  readonly taskName: string;
  readonly uniqueKey: string;
  constructor(taskName: string, uniqueKey: string, taskId: number) {
    super(ERROR_CODES.DUPLICATE_TASK, `A task ${taskName} with unique_key ${JSON.stringify(uniqueKey)} already exists: ${taskId}`);
    this.taskId = taskId;
    this.taskName = taskName;
    this.uniqueKey = uniqueKey;
  }
}

/**
 * Thrown by a handler to fail its task for good: no retry, whatever `max_retries` allows
 * (docs/behaviour.md#non-retryable-failures). An `async` task becomes `permanently_failed` at once (and
 * is dead-lettered when it has a target), a `cron` task `paused`. Give a message, or the error
 * that made retrying pointless (kept as `cause`, its message reused). The stored error text starts
 * with `PermanentError: `.
 */
export class PermanentError extends TaskmillError {
  constructor(reason: string | Error, options?: { cause?: unknown }) {
    const message = reason instanceof Error ? reason.message : String(reason);
    super(ERROR_CODES.PERMANENT, message, { cause: reason instanceof Error ? reason : options?.cause });
    // fixed, not the subclass's name: the stored error text starts with it (docs/behaviour.md#non-retryable-failures)
    this.name = 'PermanentError';
  }
}

/**
 * True when a handler's error asks not to be retried: a {@link PermanentError}, or any error with
 * its code (a copy of the class from another install of this package, an error that crossed a
 * thread or process boundary).
 */
export function isPermanentError(error: unknown): boolean {
  return error instanceof PermanentError || (typeof error === 'object' && error !== null && (error as { code?: unknown }).code === ERROR_CODES.PERMANENT);
}

/** True when `error` is a {@link TaskmillError} (optionally with the given code). */
export function isTaskmillError(error: unknown, code?: ErrorCode): error is TaskmillError {
  return error instanceof TaskmillError && (code === undefined || error.code === code);
}

/** The first line of a stored error text (a handler's error is stored with its stack), without an `Error: ` prefix. */
function firstLine(text: string | null): string | null {
  if (text === null) return null;
  return text.split('\n', 1)[0].replace(/^Error: /, '');
}

/** `result()`: the task failed for good (retries exhausted or a non-retryable failure); `error` is its error text (docs/behaviour.md#results). */
export class TaskFailedError extends TaskmillError {
  readonly taskId: number;
  /** The task's stored error text. */
  readonly error: string | null;
  constructor(taskId: number, error: string | null) {
    super(ERROR_CODES.TASK_FAILED, `Task ${taskId} failed: ${firstLine(error) ?? 'unknown error'}`);
    this.taskId = taskId;
    this.error = error;
  }
}

/** `result()`: the task was cancelled (`cancelTask`, a bulk cancel); `reason` is the cancel reason (docs/behaviour.md#results). */
export class TaskCancelledError extends TaskmillError {
  readonly taskId: number;
  readonly reason: string | null;
  constructor(taskId: number, reason: string | null) {
    super(ERROR_CODES.TASK_CANCELLED, `Task ${taskId} was cancelled: ${firstLine(reason) ?? 'Task cancelled'}`);
    this.taskId = taskId;
    this.reason = reason;
  }
}

/** `result()`: the wait's own `timeout` expired before the task finished; the task itself is untouched (docs/behaviour.md#results). */
export class ResultTimeoutError extends TaskmillError {
  readonly taskId: number;
  /** The wait's timeout in seconds. */
  readonly timeout: number;
  constructor(taskId: number, timeout: number) {
    super(ERROR_CODES.RESULT_TIMEOUT, `Timed out after ${timeout} s waiting for the result of task ${taskId}`);
    this.taskId = taskId;
    this.timeout = timeout;
  }
}

/** `result()` of a task that never finishes by itself: a `cron` task (docs/behaviour.md#results). */
export class TaskNotAwaitableError extends TaskmillError {
  readonly taskId: number;
  constructor(taskId: number, why: string) {
    super(ERROR_CODES.NOT_AWAITABLE, `Task ${taskId} has no result to wait for: ${why}`);
    this.taskId = taskId;
  }
}
