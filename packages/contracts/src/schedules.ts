import type { PageOptions, Task, TaskId } from './records.js';
import type { TaskStatus } from './statuses.js';

/*
 * Managed schedules (docs/behaviour.md#schedules): a schedule is a `cron` task row whose unique key
 * (scope `unfinished`) is the schedule's key, so the UNIQUE index over `(name, unique_slot)` keeps
 * one row per `(name, key)` across processes. An interval schedule keeps its interval in
 * `cron_expr` as `@every <seconds>s`, a form `cron()` never accepts.
 */

/** How an interval is written in `cron_expr`: `@every 30s`. */
const EVERY_EXPR = /^@every ([1-9][0-9]{0,9})s$/;

/** The `cron_expr` text of an interval of `seconds`. */
export function everyExpr(seconds: number): string {
  return `@every ${seconds}s`;
}

/** The interval in seconds of an `@every Ns` expression, or null for any other text. */
export function parseEvery(expr: string | null): number | null {
  if (expr === null) return null;
  const match = EVERY_EXPR.exec(expr);
  return match ? Number(match[1]) : null;
}

/** One managed schedule, as `getSchedules()` lists it. Times in ms (database clock). */
export interface Schedule {
  /** The schedule's key (unique per task name). */
  key: string;
  /** The task name its runs have. */
  name: string;
  /** The id of the task row that carries the schedule. */
  task_id: TaskId;
  /** The cron expression, or null for an interval schedule. */
  cron: string | null;
  /** The interval in seconds, or null for a cron schedule. */
  every: number | null;
  /** The IANA time zone of a cron expression (`UTC` unless given); null for an interval. */
  tz: string | null;
  payload: unknown;
  /** When the next run is due (a retry's time while one is waiting). */
  next_run_time: number;
  /** When the latest run started, or null before the first. */
  last_run_at: number | null;
  /** The status of the schedule's task: `pending` between runs, `running`, `failed`/`timeout` waiting for a retry, `paused`, `suspended`. */
  status: TaskStatus;
  priority: number;
  tag: string | null;
  /** The latest run's result (a cron task keeps its last return value). */
  last_result: unknown;
  /** The latest failure's error text, or null. */
  error: string | null;
  created_at: number;
}

/** What `schedule()` did: the schedule as it now stands, and whether its row was created by this call. */
export interface ScheduleUpsert extends Schedule {
  created: boolean;
}

/** Filters of `getSchedules` (docs/behaviour.md#schedules): by name, paged like the task queries (order: creation). */
export interface ScheduleQuery extends PageOptions {
  name?: string;
}

/** True when a task row carries a managed schedule: a `cron` task holding a key of scope `unfinished`. */
export function isScheduleTask(task: Task): boolean {
  return task.type === 'cron' && task.unique_key !== null && task.unique_scope === 'unfinished';
}

/** The schedule a task row carries (see {@link isScheduleTask}). */
export function scheduleOf(task: Task): Schedule {
  const every = parseEvery(task.cron_expr);
  return {
    key: task.unique_key ?? '',
    name: task.name,
    task_id: task.id,
    cron: every === null ? task.cron_expr : null,
    every,
    tz: every === null ? task.cron_tz : null,
    payload: task.payload,
    next_run_time: task.next_run_time,
    last_run_at: task.start_time,
    status: task.status,
    priority: task.priority,
    tag: task.tag,
    last_result: task.result,
    error: task.error,
    created_at: task.created_at,
  };
}
