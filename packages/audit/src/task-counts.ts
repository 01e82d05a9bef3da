import { TASK_STATUSES, type TagStat, type TaskStatus } from '@taskmill/contracts';

/** One count of {@link TaskCounts}: the tasks with this name in this status. */
export interface NameStatusCount {
  name: string;
  status: TaskStatus;
  count: number;
}

/** Task counts by name and status, and by status alone. */
export interface TaskCounts {
  /** Per name and status, tags summed; ordered by name (code units), then status (TASK_STATUSES order). */
  by_name_status: NameStatusCount[];
  /** Per status, tags and names summed; every status, zeros included. */
  by_status: Record<TaskStatus, number>;
}

/**
 * Fold `getTaskStatsByTag()` rows (one per tag, name and status) into counts by name and status:
 * what the telemetry gauge `taskmill.queue.depth`, the CLI's `status` report and the dashboard's
 * overview show, folded here once so that the three cannot disagree.
 */
export function countTasksByNameAndStatus(stats: readonly TagStat[]): TaskCounts {
  const byNameStatus = new Map<string, NameStatusCount>();
  const byStatus = Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Record<TaskStatus, number>;
  for (const { name, status, count } of stats) {
    const key = JSON.stringify([name, status]);
    const entry = byNameStatus.get(key);
    if (entry) entry.count += count;
    else byNameStatus.set(key, { name, status, count });
    byStatus[status] += count;
  }
  const by_name_status = [...byNameStatus.values()].sort((a, b) =>
    a.name === b.name ? TASK_STATUSES.indexOf(a.status) - TASK_STATUSES.indexOf(b.status) : a.name < b.name ? -1 : 1,
  );
  return { by_name_status, by_status: byStatus };
}
