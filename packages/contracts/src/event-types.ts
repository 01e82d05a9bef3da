/** Every audit event type taskmill writes (docs/behaviour.md#events). */
export const EVENT_TYPES = [
  'task_created',
  'task_claimed',
  'task_started',
  'task_retry_started',
  'task_completed',
  'task_failed',
  'task_timed_out',
  'task_retry_scheduled',
  'task_permanently_failed',
  'task_paused',
  'task_resumed',
  'task_suspended',
  'task_subtasks_created',
  'task_status_changed',
  'task_recovered',
  'task_progress',
  'task_checkpoint',
  'task_replaced',
  'task_signal_received',
  'name_paused',
  'name_resumed',
  'schedule_updated',
  'schedule_removed',
] as const;

/** An audit event type. */
export type EventType = (typeof EVENT_TYPES)[number];

/** True when `value` is one of {@link EVENT_TYPES}. */
export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && (EVENT_TYPES as readonly string[]).includes(value);
}
