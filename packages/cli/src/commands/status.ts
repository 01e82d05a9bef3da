import { countTasksByNameAndStatus, queryTasks, type NameStatusCount } from '@taskmill/audit';
import {
  CLAIMABLE_STATUSES,
  TASK_STATUSES,
  WORKER_STATUSES,
  type NamePause,
  type Store,
  type TaskStatus,
  type WorkerRecord,
  type WorkerStatus,
} from '@taskmill/contracts';
import type { Clock, FlowLimits } from '@taskmill/core';
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
  paused_names: Array<NamePause & { due_waiting: number }>;
  /**
   * Names with a cluster-wide limit, as the active workers registered them (their registry rows'
   * `meta.flow_limits`; the first worker's where they differ), with how many of their tasks are
   * due now: waiting for room under the limit when workers are running.
   */
  limited_names: Array<{ name: string; limits: FlowLimits; due_waiting: number }>;
}

/** Tasks of the name (or of every name) a claim would take now, but for limits. */
async function dueNow(store: Store, now: number, name?: string): Promise<number> {
  let due = 0;
  for (const status of CLAIMABLE_STATUSES) due += (await queryTasks(store, { status, next_run_before: now, limit: 1, ...(name === undefined ? {} : { name }) })).total;
  return due;
}

/** The flow limits active workers published, by name (the first worker's where they differ). */
function publishedLimits(workers: WorkerRecord[]): Map<string, FlowLimits> {
  const out = new Map<string, FlowLimits>();
  for (const worker of workers) {
    const meta = worker.meta as { flow_limits?: unknown } | null;
    const limits = meta && typeof meta === 'object' ? meta.flow_limits : undefined;
    if (!limits || typeof limits !== 'object') continue;
    for (const [name, value] of Object.entries(limits as Record<string, FlowLimits>)) if (!out.has(name) && value && typeof value === 'object') out.set(name, value);
  }
  return out;
}

/**
 * Gather the report: stats, three counted due queries, one oldest-pending row, the worker registry.
 * `now` is the database's time: due times and creation times were written on its clock.
 */
export async function statusReport(store: Store, now: number): Promise<StatusReport> {
  const counts = countTasksByNameAndStatus(await store.getTaskStatsByTag());
  const due = await dueNow(store, now);
  const [oldest] = (await queryTasks(store, { status: 'pending', limit: 1 })).items;
  const workers = Object.fromEntries(WORKER_STATUSES.map((s) => [s, 0])) as Record<WorkerStatus, number>;
  const registered = await store.listWorkers();
  for (const worker of registered) workers[worker.status] += 1;
  const paused_names = [];
  for (const pause of await store.listPausedNames()) paused_names.push({ ...pause, due_waiting: await dueNow(store, now, pause.name) });
  const limited_names = [];
  for (const [name, limits] of [...publishedLimits(registered.filter((w) => w.status === 'active'))].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    limited_names.push({ name, limits, due_waiting: await dueNow(store, now, name) });
  }
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

/** `rate 14/1s, 1 per key, 4 in the cluster`. */
function describeLimits(limits: FlowLimits): string {
  const parts: string[] = [];
  if (limits.rate_limit) parts.push(`rate ${limits.rate_limit.max}/${limits.rate_limit.per}s`);
  if (limits.max_concurrent_per_key !== undefined) parts.push(`${limits.max_concurrent_per_key} per key`);
  if (limits.cluster_max_concurrent_tasks !== undefined) parts.push(`${limits.cluster_max_concurrent_tasks} in the cluster`);
  return parts.join(', ');
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
    ...report.limited_names.map((l) => `Limited name: ${cell(l.name)}: ${describeLimits(l.limits)}, ${l.due_waiting} due waiting`),
    '',
  ];
  const body = report.tasks.length > 0 ? table(['NAME', 'STATUS', 'COUNT'], report.tasks.map((t) => [t.name, t.status, t.count])) : 'No tasks.\n';
  return lines.join('\n') + '\n' + body;
}
