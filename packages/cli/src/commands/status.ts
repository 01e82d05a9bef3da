import {
  countDue,
  countTasksByNameAndStatus,
  describeFlowLimits,
  flowStatus,
  queryTasks,
  type LimitedNameStatus,
  type NameStatusCount,
  type PausedNameStatus,
} from '@taskmill/audit';
import { TASK_STATUSES, WORKER_STATUSES, type Store, type TaskStatus, type WorkerStatus } from '@taskmill/contracts';
import type { Clock } from '@taskmill/core';
import { cell, duration, table, time } from '../format.js';
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
  /** Names paused cluster-wide, with how many of their tasks are due and wait. */
  paused_names: PausedNameStatus[];
  /**
   * Names with a cluster-wide limit, as the active workers registered them (their registry rows'
   * `meta.flow_limits`; the first worker's where they differ), with how many of their tasks are
   * due now: waiting for room under the limit when workers are running.
   */
  limited_names: LimitedNameStatus[];
}

/**
 * Gather the report: stats, three counted due queries, one oldest-pending row, the worker registry.
 * `now` is the database's time: due times and creation times were written on its clock.
 */
export async function statusReport(store: Store, now: number): Promise<StatusReport> {
  const counts = countTasksByNameAndStatus(await store.getTaskStatsByTag());
  const due = await countDue(store, now);
  const [oldest] = (await queryTasks(store, { status: 'pending', limit: 1 })).items;
  const workers = Object.fromEntries(WORKER_STATUSES.map((s) => [s, 0])) as Record<WorkerStatus, number>;
  const registered = await store.listWorkers();
  for (const worker of registered) workers[worker.status] += 1;
  const { paused_names, limited_names } = await flowStatus(store, now, registered);
  return {
    now,
    tasks: counts.by_name_status,
    by_status: counts.by_status,
    due_now: due,
    oldest_pending: oldest
      ? { task_id: oldest.id, name: oldest.name, created_at: oldest.created_at, age_seconds: Math.max(0, now - oldest.created_at) / 1000 }
      : null,
    workers,
    paused_names,
    limited_names,
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
    ...report.paused_names.map(
      (p) =>
        `Paused name: ${cell(p.name)} since ${time(p.paused_at)}${p.paused_by ? ` by ${cell(p.paused_by)}` : ''}${p.reason ? ` (${cell(p.reason)})` : ''}, ${p.due_waiting} due waiting`,
    ),
    ...report.limited_names.map((l) => `Limited name: ${cell(l.name)}: ${describeFlowLimits(l.limits)}, ${l.due_waiting} due waiting`),
    '',
  ];
  const body = report.tasks.length > 0 ? table(['NAME', 'STATUS', 'COUNT'], report.tasks.map((t) => [t.name, t.status, t.count])) : 'No tasks.\n';
  return lines.join('\n') + '\n' + body;
}
