import type { WorkerRecord } from './records.js';
import type { WorkerStatus } from './statuses.js';
import type { Fence } from './task-store.js';

/* The worker-registry part of the Store contract (docs/behaviour.md#worker-registry): leases, supersession, recovery. */

/** A running task handed back to `pending` by worker recovery. */
export type RecoveredTask = Fence;

/** Input of {@link WorkerRegistryStore.registerWorker}. */
export interface RegisterWorkerInput {
  worker_id: string;
  pod_id: string | null;
  host: string | null;
  pid: number | null;
  meta: Record<string, unknown> | null;
  now: number;
  /** Lease length in ms: `expires_at = now + ttl_ms`. */
  ttl_ms: number;
}

/** Input of {@link WorkerRegistryStore.recoverWorkerTasks}. */
export interface RecoverTasksInput {
  /** Dead or superseded workers whose running tasks go back to `pending`. */
  worker_ids: string[];
  by_worker_id: string;
  by_pod_id: string | null;
  now: number;
  /** Bounded batch. */
  limit: number;
}

/** Worker registry, liveness and recovery (docs/behaviour.md#worker-registry). */
export interface WorkerRegistryStore {
  /** Insert or replace this worker's row as `active` with a fresh lease. */
  registerWorker(input: RegisterWorkerInput): Promise<WorkerRecord>;
  /**
   * Extend the lease of an `active` worker; returns the row (any status) or null if absent. When
   * `meta` is given it replaces the row's `meta` (core reports handlers that outlived their
   * attempt there).
   */
  heartbeatWorker(workerId: string, now: number, ttlMs: number, meta?: Record<string, unknown> | null): Promise<WorkerRecord | null>;
  /** Mark every other `active` worker of the pod `superseded`; returns their ids. */
  supersedeWorkers(podId: string, exceptWorkerId: string, now: number): Promise<string[]>;
  /** Mark `active` workers with `expires_at < now` as `dead`; returns their ids. */
  reapExpiredWorkers(now: number, limit: number): Promise<string[]>;
  /** Mark a worker `dead` (from any other status); false if absent or already dead. */
  markWorkerDead(workerId: string, now: number): Promise<boolean>;
  /**
   * Running tasks of these workers → `pending` (stage 0, due now, worker cleared, no retry
   * consumed), attempt `interrupted` with error `Task ownership recovered after worker became
   * unavailable`, event `task_recovered` (metadata: docs/behaviour.md#events). Guarded per task.
   */
  recoverWorkerTasks(input: RecoverTasksInput): Promise<RecoveredTask[]>;
  getWorker(workerId: string): Promise<WorkerRecord | null>;
  /** Ordered by `registered_at, worker_id`. */
  listWorkers(filter?: { pod_id?: string; status?: WorkerStatus }): Promise<WorkerRecord[]>;
}
