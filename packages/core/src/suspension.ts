import { LIMITS, ValidationError, assertStorableText, isPlainObject } from '@taskmill/contracts';

/** Options of an explicit suspension (docs/behaviour.md#suspension). */
export interface SuspensionOptions {
  /** Why the task waits; must be non-empty after trimming. */
  reason: string;
  /** Recorded on the `task_suspended` event. */
  metadata?: Record<string, unknown>;
  /** Binary snapshot stored on the task, readable as `task.context` when it resumes. */
  context?: Uint8Array;
}

/** Checks that a context is binary; returns it as a Uint8Array or undefined. */
export function checkContext(context: unknown): Uint8Array | undefined {
  if (context === undefined) return undefined;
  if (!(context instanceof Uint8Array)) throw new ValidationError('Context must be a Buffer or Uint8Array');
  return context;
}

/**
 * Returned by a handler to park its task as `suspended` until `resumeTask()` (human in the
 * loop). Build it with `task.suspend({...})` or `new Suspension({...})`.
 */
export class Suspension {
  readonly reason: string;
  readonly metadata: Record<string, unknown> | undefined;
  readonly context: Uint8Array | undefined;

  constructor(options: SuspensionOptions) {
    if (!isPlainObject(options) || typeof options.reason !== 'string' || options.reason.trim() === '') {
      throw new ValidationError('Suspension requires a non-empty reason');
    }
    if (options.metadata !== undefined && !isPlainObject(options.metadata)) {
      throw new ValidationError('Suspension metadata must be an object');
    }
    const reason = assertStorableText(options.reason.trim(), 'Suspension reason');
    // a VARCHAR(255) column on PostgreSQL
    if (reason.length > LIMITS.max_name_length) throw new ValidationError(`Suspension reason must be at most ${LIMITS.max_name_length} characters`);
    this.reason = reason;
    this.metadata = options.metadata;
    this.context = checkContext(options.context);
  }
}

/**
 * A child definition passed to `next()` (docs/behaviour.md#workflows). Options default to the child handler's, and
 * `priority` then to the parent's; bounds as for `async()` (`LIMITS`).
 */
export interface ChildTaskDefinition<Name extends string = string, Payload = unknown> {
  name: Name;
  /** Stored as given (docs/behaviour.md#workflows): none is `null`. */
  payload?: Payload;
  priority?: number;
  timeout?: number;
  max_retries?: number;
  retry_interval?: number;
  retry_backoff?: 'fixed' | 'exponential';
  retry_max_interval?: number | null;
  retry_jitter?: number;
  tag?: string;
  /** The key of its handler's `max_concurrent_per_key` (docs/behaviour.md#flow-control). */
  concurrency_key?: string;
  /** Where its dead letter goes if it fails for good; null: none (docs/behaviour.md#dead-letters). (Default: its handler's) */
  dead_letter?: string | null;
  /**
   * What its failure for good does to this parent (docs/behaviour.md#child-failure-rules): `fail`
   * the parent at once, `ignore` it, or `continue`. (Default: `continue`)
   */
  on_failure?: 'fail' | 'ignore' | 'continue';
}

/** The marker `next(children, context?)` returns: suspend until every child is final. */
export class SubTasks extends Suspension {
  readonly children: readonly unknown[];

  constructor(children: unknown, context?: unknown) {
    super({ reason: 'awaiting_subtasks', context: checkContext(context) });
    this.children = Array.isArray(children) ? [...children] : [children];
  }
}
