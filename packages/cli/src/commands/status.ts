import { countTasksByNameAndStatus, queryTasks, type NameStatusCount } from '@taskmill/audit';
import { CLAIMABLE_STATUSES, TASK_STATUSES, WORKER_STATUSES, type Store, type TaskStatus, type WorkerStatus } from '@taskmill/contracts';
import type { Clock } from '@taskmill/core';
import { duration, table, time } from '../format.js';
import { json } from '../output.js';

/** What `taskmill status` reports. */
export interface StatusReport {
  /** When the report was taken (ms, on the database's clock). */
  now: number;
  /** Task counts per name and status, ordered by name then status. */
  tasks: NameStatusCount[];
  /** Task counts per status (every status, zeros included). */
  by_status: Record<TaskStatus, number>;
  /** Tasks a claim would take now: pending, failed or timeout with `next_run_time <= now`. */
  due_now: number;
  /** The oldest pending task by creation, or null. */
  oldest_pending: { task_id: number; name: string; created_at: number; age_seconds: number } | null;
  /** Registered workers per status (every status, zeros included). */
  workers: Record<WorkerStatus, number>;
}

/**
 * Gather the report: stats, three counted due queries, one oldest-pending row, the worker registry.
 * `now` is the database's time: due times and creation times were written on its clock.
 */
export async function statusReport(store: Store, now: number): Promise<StatusReport> {
  const counts = countTasksByNameAndStatus(await store.getTaskStatsByTag());
  let dueNow = 0;
  for (const status of CLAIMABLE_STATUSES) {
    dueNow += (await queryTasks(store, { status, next_run_before: now, limit: 1 })).total;
  }
  const [oldest] = (await queryTasks(store, { status: 'pending', limit: 1 })).items;
  const workers = Object.fromEntries(WORKER_STATUSES.map((s) => [s, 0])) as Record<WorkerStatus, number>;
  for (const worker of await store.listWorkers()) workers[worker.status] += 1;
  return {
    now,
    tasks: counts.by_name_status,
    by_status: counts.by_status,
    due_now: dueNow,
    oldest_pending: oldest
      ? { task_id: oldest.id, name: oldest.name, created_at: oldest.created_at, age_seconds: Math.max(0, now - oldest.created_at) / 1000 }
      : null,
    workers,
  };
}

/** `taskmill status`. */
export async function status(store: Store, options: { json?: boolean }, clock: Clock): Promise<string> {
  const report = await statusReport(store, clock.now());
  if (options.json) return json(report);
  const total = Object.values(report.by_status).reduce((a, b) => a + b, 0);
  const lines = [
    [`Tasks: ${total}`, ...TASK_STATUSES.filter((s) => report.by_status[s] > 0).map((s) => `${s} ${report.by_status[s]}`)].join('  '),
    `Due now: ${report.due_now}`,
    `Oldest pending: ${
      report.oldest_pending
        ? `task ${report.oldest_pending.task_id} (${report.oldest_pending.name}), created ${time(report.oldest_pending.created_at)}, ${duration(report.oldest_pending.age_seconds)} ago`
        : 'none'
    }`,
    `Workers: ` + WORKER_STATUSES.map((s) => `${s} ${report.workers[s]}`).join('  '),
    '',
  ];
  const body = report.tasks.length > 0 ? table(['NAME', 'STATUS', 'COUNT'], report.tasks.map((t) => [t.name, t.status, t.count])) : 'No tasks.\n';
  return lines.join('\n') + '\n' + body;
}
