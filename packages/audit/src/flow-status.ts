import { CLAIMABLE_STATUSES, type FlowLimits, type NamePause, type Store, type WorkerRecord } from '@taskmill/contracts';
import { queryTasks } from './queries.js';

/*
 * What operators see of flow control (docs/behaviour.md#flow-control): the names paused
 * cluster-wide and the names with cluster-wide limits, each with the tasks that are due and wait.
 * The CLI's `status` and the dashboard's overview show it, gathered here once.
 */

/** A paused name with how many of its tasks are due and wait for the resume. */
export type PausedNameStatus = NamePause & { due_waiting: number };

/** A limited name as active workers registered it, with how many of its tasks are due now. */
export interface LimitedNameStatus {
  name: string;
  limits: FlowLimits;
  /** Due tasks of the name: with workers running, those the limits hold back. */
  due_waiting: number;
}

/** See {@link flowStatus}. */
export interface FlowStatus {
  paused_names: PausedNameStatus[];
  limited_names: LimitedNameStatus[];
}

/** Tasks of the name (or of every name) a claim would take at `now`, but for limits and pauses. */
export async function countDue(store: Store, now: number, name?: string): Promise<number> {
  let due = 0;
  for (const status of CLAIMABLE_STATUSES) {
    due += (await queryTasks(store, { status, next_run_before: now, limit: 1, ...(name === undefined ? {} : { name }) })).total;
  }
  return due;
}

/**
 * The limits active workers published in their registry rows (`meta.flow_limits`), by name; where
 * workers differ, the one registered first wins (each enforces its own: register the same ones).
 */
export function publishedFlowLimits(workers: readonly WorkerRecord[]): Map<string, FlowLimits> {
  const out = new Map<string, FlowLimits>();
  for (const worker of workers) {
    if (worker.status !== 'active') continue;
    const meta = worker.meta as { flow_limits?: unknown } | null;
    const limits = meta && typeof meta === 'object' ? meta.flow_limits : undefined;
    if (!limits || typeof limits !== 'object') continue;
    for (const [name, value] of Object.entries(limits as Record<string, FlowLimits>)) {
      if (!out.has(name) && value && typeof value === 'object') out.set(name, value);
    }
  }
  return out;
}

/** Paused and limited names with their due tasks, at `now` (the database's clock), each by name. */
export async function flowStatus(store: Store, now: number, workers?: readonly WorkerRecord[]): Promise<FlowStatus> {
  const registered = workers ?? (await store.listWorkers({ status: 'active' }));
  const paused_names: PausedNameStatus[] = [];
  for (const pause of await store.listPausedNames()) paused_names.push({ ...pause, due_waiting: await countDue(store, now, pause.name) });
  const limited_names: LimitedNameStatus[] = [];
  const limits = [...publishedFlowLimits(registered)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, value] of limits) limited_names.push({ name, limits: value, due_waiting: await countDue(store, now, name) });
  return { paused_names, limited_names };
}

/** `rate 14/1s, 1 per key, 4 in the cluster`. */
export function describeFlowLimits(limits: FlowLimits): string {
  const parts: string[] = [];
  if (limits.rate_limit) parts.push(`rate ${limits.rate_limit.max}/${limits.rate_limit.per}s`);
  if (limits.max_concurrent_per_key !== undefined) parts.push(`${limits.max_concurrent_per_key} per key`);
  if (limits.cluster_max_concurrent_tasks !== undefined) parts.push(`${limits.cluster_max_concurrent_tasks} in the cluster`);
  return parts.join(', ');
}
