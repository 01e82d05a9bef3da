import type { RecoveredTask, RecoverTasksInput, RegisterWorkerInput, WorkerRecord, WorkerStatus } from '@taskmill/contracts';
import { decodeTask, decodeWorker, events, SWEEP_ERRORS } from '@taskmill/contracts';
import { A, exec, insertEvents, rows, T, W } from './queries.js';
import type { Conn } from './transaction.js';

/*
 * Worker registry, leases and recovery (SPEC B7, A13). Every change is a compare-and-set on the
 * status, and the batch operations lock their rows with FOR UPDATE SKIP LOCKED, so every
 * manager may reap and recover at once: each worker and each task is handled exactly once.
 */

async function selectWorker(conn: Conn, workerId: string): Promise<WorkerRecord | null> {
  const found = await rows(conn, `SELECT * FROM ${W} WHERE worker_id = ?`, [workerId]);
  return found[0] ? decodeWorker(found[0]) : null;
}

/** `registerWorker` (caller's transaction). */
export async function registerWorker(conn: Conn, input: RegisterWorkerInput): Promise<WorkerRecord> {
  const meta = input.meta === null || input.meta === undefined ? null : JSON.stringify(input.meta);
  const expires = input.now + input.ttl_ms;
  await exec(
    conn,
    `INSERT INTO ${W} (worker_id, pod_id, status, host, pid, registered_at, last_seen_at, expires_at, superseded_at, dead_at, meta)
     VALUES (?, ?, 'active', ?, ?, ?, ?, ?, NULL, NULL, ?)
     ON DUPLICATE KEY UPDATE pod_id = ?, status = 'active', host = ?, pid = ?, registered_at = ?, last_seen_at = ?,
       expires_at = ?, superseded_at = NULL, dead_at = NULL, meta = ?`,
    // parameters repeated rather than VALUES(col): deprecated in MySQL 8, and MySQL's row alias
    // syntax does not exist in MariaDB
    [
      ...[input.worker_id, input.pod_id, input.host, input.pid, input.now, input.now, expires, meta],
      ...[input.pod_id, input.host, input.pid, input.now, input.now, expires, meta],
    ],
  );
  const row = await selectWorker(conn, input.worker_id);
  if (!row) throw new Error(`worker ${input.worker_id} vanished after registration`);
  return row;
}

/** `heartbeatWorker`. */
export async function heartbeatWorker(conn: Conn, workerId: string, now: number, ttlMs: number): Promise<WorkerRecord | null> {
  await exec(conn, `UPDATE ${W} SET last_seen_at = ?, expires_at = ? WHERE worker_id = ? AND status = 'active'`, [now, now + ttlMs, workerId]);
  return selectWorker(conn, workerId);
}

/** `supersedeWorkers` (caller's transaction). */
export async function supersedeWorkers(conn: Conn, podId: string, exceptWorkerId: string, now: number): Promise<string[]> {
  const found = await rows(
    conn,
    `SELECT worker_id FROM ${W} WHERE pod_id = ? AND status = 'active' AND worker_id <> ? ORDER BY registered_at, worker_id FOR UPDATE`,
    [podId, exceptWorkerId],
  );
  const ids = found.map((r) => String(r.worker_id));
  if (ids.length > 0) {
    await exec(conn, `UPDATE ${W} SET status = 'superseded', superseded_at = ? WHERE worker_id IN (?) AND status = 'active'`, [now, ids]);
  }
  return ids;
}

/** `reapExpiredWorkers` (caller's transaction). */
export async function reapExpiredWorkers(conn: Conn, now: number, limit: number): Promise<string[]> {
  if (!(limit > 0)) return [];
  const found = await rows(
    conn,
    `SELECT worker_id FROM ${W} WHERE status = 'active' AND expires_at < ? ORDER BY expires_at, worker_id LIMIT ? FOR UPDATE SKIP LOCKED`,
    [now, Math.floor(limit)],
  );
  const ids = found.map((r) => String(r.worker_id));
  if (ids.length > 0) {
    await exec(conn, `UPDATE ${W} SET status = 'dead', dead_at = ? WHERE worker_id IN (?) AND status = 'active'`, [now, ids]);
  }
  return ids;
}

/** `markWorkerDead`. */
export async function markWorkerDead(conn: Conn, workerId: string, now: number): Promise<boolean> {
  const { affectedRows } = await exec(conn, `UPDATE ${W} SET status = 'dead', dead_at = ? WHERE worker_id = ? AND status <> 'dead'`, [now, workerId]);
  return affectedRows > 0;
}

/** `recoverWorkerTasks` (caller's transaction). */
export async function recoverWorkerTasks(conn: Conn, input: RecoverTasksInput): Promise<RecoveredTask[]> {
  const workerIds = [...new Set(input.worker_ids)];
  if (workerIds.length === 0 || !(input.limit > 0)) return [];
  const found = await rows(
    conn,
    `SELECT * FROM ${T} WHERE worker_id IN (?) AND status = 'running' ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED`,
    [workerIds, Math.floor(input.limit)],
  );
  if (found.length === 0) return [];
  const tasks = found.map(decodeTask);
  const ids = tasks.map((t) => t.id);
  const { now } = input;
  await exec(
    conn,
    `UPDATE ${T} SET stage = 0, last_active_time = ?, next_run_time = ?, worker_id = NULL, start_time = NULL, result = NULL, status = 'pending'
      WHERE id IN (?) AND status = 'running'`,
    [now, now, ids],
  );
  for (const task of tasks) {
    await exec(
      conn,
      `UPDATE ${A} SET ended_at = ?, outcome = 'interrupted', error = ?, timeout_flag = FALSE WHERE task_id = ? AND attempt = ? AND ended_at IS NULL`,
      [now, SWEEP_ERRORS.recovered, task.id, task.attempt],
    );
  }
  await insertEvents(
    conn,
    tasks.map((t) => events.recovered(t, t.worker_id, input.by_worker_id, input.by_pod_id, 'worker_unavailable', now)),
  );
  return tasks.map((t) => ({ task_id: t.id, worker_id: t.worker_id ?? '', attempt: t.attempt }));
}

/** `getWorker`. */
export function getWorker(conn: Conn, workerId: string): Promise<WorkerRecord | null> {
  return selectWorker(conn, workerId);
}

/** `listWorkers`, ordered by `registered_at, worker_id`. */
export async function listWorkers(conn: Conn, filter: { pod_id?: string; status?: WorkerStatus } = {}): Promise<WorkerRecord[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.pod_id !== undefined && filter.pod_id !== null) {
    where.push('pod_id = ?');
    params.push(filter.pod_id);
  }
  if (filter.status !== undefined && filter.status !== null) {
    where.push('status = ?');
    params.push(filter.status);
  }
  const found = await rows(
    conn,
    `SELECT * FROM ${W}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY registered_at, worker_id`,
    params,
  );
  return found.map(decodeWorker);
}
