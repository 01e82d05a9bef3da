import {
  decodeTask,
  decodeWorker,
  events,
  SWEEP_ERRORS,
  type RecoveredTask,
  type RecoverTasksInput,
  type RegisterWorkerInput,
  type WorkerRecord,
  type WorkerStatus,
} from '@taskmill/contracts';
import { jsonList, type Param, type Sql } from './sql.js';
import { closeAttempt, writeEvent } from './task-writes.js';

/*
 * Worker registry and recovery (SPEC B7, A13). Writers run inside the caller's IMMEDIATE
 * transaction, so a read-then-update here is never interleaved with another worker's.
 */

/** The worker row, or null. */
export function getWorker(sql: Sql, workerId: string): WorkerRecord | null {
  const row = sql.get('SELECT * FROM taskmill_workers WHERE worker_id = ?', String(workerId));
  return row ? decodeWorker(row) : null;
}

/** Replace this worker's row with a fresh `active` lease. */
export function registerWorker(sql: Sql, input: RegisterWorkerInput): WorkerRecord {
  sql.run('DELETE FROM taskmill_workers WHERE worker_id = ?', input.worker_id);
  sql.run(
    `INSERT INTO taskmill_workers (worker_id, pod_id, status, host, pid, registered_at, last_seen_at, expires_at, meta)
     VALUES (?, ?, 'active', ?, ?, ?, ?, ?, ?)`,
    input.worker_id,
    input.pod_id,
    input.host,
    input.pid,
    input.now,
    input.now,
    input.now + input.ttl_ms,
    input.meta === null || input.meta === undefined ? null : JSON.stringify(input.meta),
  );
  return getWorker(sql, input.worker_id)!;
}

/** Extend an active worker's lease; the row as it is now, or null. */
export function heartbeatWorker(sql: Sql, workerId: string, now: number, ttlMs: number): WorkerRecord | null {
  sql.run(
    `UPDATE taskmill_workers SET last_seen_at = ?, expires_at = ? WHERE worker_id = ? AND status = 'active'`,
    now,
    now + ttlMs,
    workerId,
  );
  return getWorker(sql, workerId);
}

/** Every other active worker of the pod → `superseded`. */
export function supersedeWorkers(sql: Sql, podId: string, exceptWorkerId: string, now: number): string[] {
  const ids = sql
    .all(
      `SELECT worker_id FROM taskmill_workers WHERE pod_id = ? AND worker_id <> ? AND status = 'active'
       ORDER BY registered_at, worker_id`,
      podId,
      exceptWorkerId,
    )
    .map((row) => String(row.worker_id));
  return retire(sql, ids, 'superseded', now);
}

/** Active workers whose lease ended before `now` → `dead`. */
export function reapExpiredWorkers(sql: Sql, now: number, limit: number): string[] {
  const ids = sql
    .all(
      `SELECT worker_id FROM taskmill_workers WHERE status = 'active' AND expires_at < ?
       ORDER BY expires_at, worker_id LIMIT ?`,
      now,
      Math.max(0, limit),
    )
    .map((row) => String(row.worker_id));
  return retire(sql, ids, 'dead', now);
}

/** Move these still-active workers to `superseded` or `dead`, stamping the matching time column. */
function retire(sql: Sql, ids: string[], status: 'superseded' | 'dead', now: number): string[] {
  const column = status === 'dead' ? 'dead_at' : 'superseded_at';
  sql.run(
    `UPDATE taskmill_workers SET status = ?, ${column} = ?
     WHERE status = 'active' AND worker_id IN (SELECT value FROM json_each(?))`,
    status,
    now,
    jsonList(ids),
  );
  return ids;
}

/** Mark a worker dead; false when absent or already dead. */
export function markWorkerDead(sql: Sql, workerId: string, now: number): boolean {
  return sql.run(`UPDATE taskmill_workers SET status = 'dead', dead_at = ? WHERE worker_id = ? AND status <> 'dead'`, now, workerId)
    .changes > 0;
}

/** Ordered by `registered_at, worker_id`. */
export function listWorkers(sql: Sql, filter: { pod_id?: string; status?: WorkerStatus } = {}): WorkerRecord[] {
  const where: string[] = [];
  const params: Param[] = [];
  if (typeof filter.pod_id === 'string') {
    where.push('pod_id = ?');
    params.push(filter.pod_id);
  }
  if (typeof filter.status === 'string') {
    where.push('status = ?');
    params.push(filter.status);
  }
  const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
  return sql.all(`SELECT * FROM taskmill_workers ${clause} ORDER BY registered_at, worker_id`, ...params).map(decodeWorker);
}

/**
 * Running tasks of dead/superseded workers go back to `pending` (no retry consumed). Each row is
 * changed by an UPDATE guarded on status, worker and attempt, so recovering twice is harmless.
 */
export function recoverWorkerTasks(sql: Sql, input: RecoverTasksInput): RecoveredTask[] {
  if (input.worker_ids.length === 0 || input.limit <= 0) return [];
  const rows = sql.all(
    `SELECT * FROM taskmill_tasks
     WHERE status = 'running' AND worker_id IN (SELECT value FROM json_each(?))
     ORDER BY id LIMIT ?`,
    jsonList(input.worker_ids.map(String)),
    input.limit,
  );
  const recovered: RecoveredTask[] = [];
  for (const row of rows) {
    const task = decodeTask(row);
    const info = sql.run(
      `UPDATE taskmill_tasks
       SET status = 'pending', stage = 0, last_active_time = ?, next_run_time = ?, worker_id = NULL,
           start_time = NULL, result = NULL
       WHERE id = ? AND status = 'running' AND worker_id = ? AND attempt = ?`,
      input.now,
      input.now,
      task.id,
      task.worker_id,
      task.attempt,
    );
    if (info.changes === 0) continue;
    closeAttempt(sql, task.id, input.now, 'interrupted', SWEEP_ERRORS.recovered);
    writeEvent(sql, events.recovered(task, task.worker_id, input.by_worker_id, input.by_pod_id, 'worker_unavailable', input.now));
    recovered.push({ task_id: task.id, worker_id: task.worker_id!, attempt: task.attempt });
  }
  return recovered;
}
