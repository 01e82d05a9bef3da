/** Every status a task can be in (docs/behaviour.md#statuses). */
export const TASK_STATUSES = [
  'pending',
  'running',
  'completed',
  'failed',
  'timeout',
  'permanently_failed',
  'paused',
  'suspended',
] as const;

/** A task's status. */
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** Task types: one-off (`async`) or recurring (`cron`). */
export const TASK_TYPES = ['async', 'cron'] as const;
/** A task's type. */
export type TaskType = (typeof TASK_TYPES)[number];

/** Statuses a task never leaves by itself (`paused` is terminal-like: only a manual resume leaves it). */
export const FINAL_STATUSES: readonly TaskStatus[] = ['completed', 'permanently_failed'];

/** Statuses a claim may pick once due: `pending`, or `failed`/`timeout` waiting for their retry. */
export const CLAIMABLE_STATUSES = ['pending', 'failed', 'timeout'] as const satisfies readonly TaskStatus[];

/** Statuses a child may reach that count as "finished" for its parent (docs/behaviour.md#workflows). */
export const CHILD_FINAL_STATUSES: readonly TaskStatus[] = ['completed', 'permanently_failed'];

/** Statuses retention may delete (docs/behaviour.md#retention); `paused` is opt-in. */
export const RETENTION_STATUSES = ['completed', 'permanently_failed', 'paused'] as const satisfies readonly TaskStatus[];
/** A status retention may delete. */
export type RetentionStatus = (typeof RETENTION_STATUSES)[number];

/** True when `value` is one of {@link RETENTION_STATUSES}. */
export function isRetentionStatus(value: unknown): value is RetentionStatus {
  return typeof value === 'string' && (RETENTION_STATUSES as readonly string[]).includes(value);
}

/** Outcomes an attempt row can close with (docs/behaviour.md#attempts). */
export const ATTEMPT_OUTCOMES = [
  'completed',
  'failed',
  'timeout',
  'suspended',
  'paused',
  'interrupted',
  'pending',
  'cancelled',
] as const;
/** An attempt's outcome; `null` while the attempt is open. */
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

/** Worker registry statuses (docs/behaviour.md#worker-registry). */
export const WORKER_STATUSES = ['active', 'superseded', 'dead'] as const;
/** A worker's registry status. */
export type WorkerStatus = (typeof WORKER_STATUSES)[number];

/** True when `value` is one of {@link TASK_STATUSES}. */
export function isTaskStatus(value: unknown): value is TaskStatus {
  return typeof value === 'string' && (TASK_STATUSES as readonly string[]).includes(value);
}

/** True when `value` is one of {@link TASK_TYPES}. */
export function isTaskType(value: unknown): value is TaskType {
  return typeof value === 'string' && (TASK_TYPES as readonly string[]).includes(value);
}
