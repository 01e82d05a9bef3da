import type { QueueHealth, QueueHealthQuery } from './queue-health.js';
import type { EventFeedPage, EventFeedRead, TaskOutcome } from './event-feed.js';
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
  /**
   * Queue health per name and the window's activity in buckets (docs/behaviour.md#queue-health):
   * counts of the tasks now, and figures of the latest attempts that started in the window (or in
   * the last hour, if longer), read with bounded, indexed statements. A bad query is a
   * `ValidationError`.
   */
  getQueueHealth(query: QueueHealthQuery): Promise<QueueHealth>;
  /**
   * One read of the event feed (docs/behaviour.md#event-subscriptions): events after the cursor in
   * commit order, at least once, with the cursor after them. A bad cursor or filter is a
   * `ValidationError`.
   */
  readEventFeed(read: EventFeedRead): Promise<EventFeedPage>;
  /** The highest event id, 0 when there is none: one primary-key probe, what result waiters poll (docs/behaviour.md#results). */
  latestEventId(): Promise<number>;
  /**
   * The outcome of each of these tasks that exists, any order, in one statement per 1,000 ids
   * (docs/behaviour.md#results). Ids that cannot exist find nothing.
   */
  getTaskOutcomes(ids: readonly TaskId[]): Promise<TaskOutcome[]>;
}
