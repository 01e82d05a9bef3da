import type { AttemptQuery, EventQuery, Page, TaskAttempt, TaskEvent, TaskId } from './records.js';

/* The audit-read part of the Store contract: paged events and attempts of a task or a workflow. */

/** Read side of the audit trail (docs/behaviour.md#queries). Ordered by `event_time, id` / `attempt, id`. */
export interface AuditReadStore {
  queryTaskEvents(taskId: TaskId, query: EventQuery): Promise<Page<TaskEvent>>;
  /** Events whose `root_id` is the root (a root's own events carry its id as `root_id`). */
  queryWorkflowEvents(rootId: TaskId, query: EventQuery): Promise<Page<TaskEvent>>;
  queryTaskAttempts(taskId: TaskId, query: AttemptQuery): Promise<Page<TaskAttempt>>;
  /** Attempts of tasks with `id = root OR root_id = root`. */
  queryWorkflowAttempts(rootId: TaskId, query: AttemptQuery): Promise<Page<TaskAttempt>>;
  /**
   * Events that belong to no task (`task_id` 0): the pauses and resumes of task names
   * (`name_paused` / `name_resumed`, the name in `metadata.name`), of every name.
   */
  queryNameEvents(query: EventQuery): Promise<Page<TaskEvent>>;
}
