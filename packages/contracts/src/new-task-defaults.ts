import type { NewTask } from './task-store.js';

/**
 * The backoff, unique and trace fields of a {@link NewTask} (and of its `Task` row) when none is
 * given: a fixed backoff, no key, no trace. For callers that build new tasks themselves.
 */
export const NEW_TASK_DEFAULTS = {
  retry_backoff: 'fixed',
  retry_max_interval: null,
  retry_jitter: 0,
  unique_key: null,
  unique_scope: null,
  unique_until: null,
  trace_context: null,
  concurrency_key: null,
  dead_letter: null,
} as const satisfies Partial<NewTask>;
