import type { RegisterWorkerInput, WorkerStatus } from '@taskmill/contracts';
import { TABLES, type Condition, type RawRow } from '@taskmill/store-kit';
import { where } from './conditions.js';
import { exec, rows, type Conn } from './transaction.js';

/*
 * The worker registry (docs/behaviour.md#worker-registry). Every change is a compare-and-set on the status, and the
 * batch reads lock their rows (the reap with SKIP LOCKED), so every manager may supersede and
 * reap at once: each worker is retired exactly once.
 */

const W = TABLES.workers;

/** When each retirement is recorded. */
const RETIRED_AT: Record<'superseded' | 'dead', string> = { superseded: 'superseded_at', dead: 'dead_at' };

/** The worker's row, or null. */
export async function selectWorker(conn: Conn, workerId: string): Promise<RawRow | null> {
  const [row] = await rows(conn, `SELECT * FROM ${W} WHERE worker_id = ?`, [workerId]);
  return row ?? null;
}

/**
 * The server's clock in ms since the epoch. `UNIX_TIMESTAMP(NOW(3))` is independent of the
 * session's time zone; `SYSDATE(3)` would be the statement's own time, but NOW(3) outside a
 * transaction's long run is the same within a millisecond and is what replication-safe SQL uses.
 */
export async function selectServerTime(conn: Conn): Promise<number> {
  const [row] = await rows(conn, 'SELECT UNIX_TIMESTAMP(NOW(3)) * 1000 AS now', []);
  return Math.round(Number(row.now));
}

/** Workers matching the conditions, by `registered_at, worker_id`. */
export async function selectWorkers(conn: Conn, conditions: readonly Condition[]): Promise<RawRow[]> {
  const filter = where(conditions);
  return rows(conn, `SELECT * FROM ${W}${filter.sql} ORDER BY registered_at, worker_id`, filter.params);
}

/** Replace the worker's row with a fresh `active` one. */
export async function replaceWorker(conn: Conn, input: RegisterWorkerInput): Promise<void> {
  const meta = input.meta === null || input.meta === undefined ? null : JSON.stringify(input.meta);
  const fresh = [input.pod_id, input.host, input.pid, input.now, input.now, input.now + input.ttl_ms, meta];
  await exec(
    conn,
    `INSERT INTO ${W} (worker_id, pod_id, host, pid, registered_at, last_seen_at, expires_at, meta, status, superseded_at, dead_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active', NULL, NULL)
     ON DUPLICATE KEY UPDATE pod_id = ?, host = ?, pid = ?, registered_at = ?, last_seen_at = ?, expires_at = ?, meta = ?,
       status = 'active', superseded_at = NULL, dead_at = NULL`,
    // parameters repeated rather than VALUES(col): deprecated in MySQL 8, and MySQL's row alias
    // syntax does not exist in MariaDB
    [input.worker_id, ...fresh, ...fresh],
  );
}

/** Extend an `active` worker's lease; `meta` replaced when given (undefined leaves it alone). */
export async function extendWorkerLease(conn: Conn, workerId: string, now: number, expiresAt: number, meta: string | null | undefined): Promise<void> {
  const setMeta = meta === undefined ? '' : ', meta = ?';
  const params = meta === undefined ? [now, expiresAt, workerId] : [now, expiresAt, meta, workerId];
  await exec(conn, `UPDATE ${W} SET last_seen_at = ?, expires_at = ?${setMeta} WHERE worker_id = ? AND status = 'active'`, params);
}

/** Ids of the pod's other `active` workers, locked. */
export async function selectPodWorkers(conn: Conn, podId: string, exceptWorkerId: string): Promise<string[]> {
  const found = await rows(
    conn,
    `SELECT worker_id FROM ${W} WHERE pod_id = ? AND status = 'active' AND worker_id <> ? ORDER BY registered_at, worker_id FOR UPDATE`,
    [podId, exceptWorkerId],
  );
  return found.map((row) => String(row.worker_id));
}

/** Ids of `active` workers whose lease ran out, at most `limit`, locked (skipping rows a claim holds). */
export async function selectExpiredWorkers(conn: Conn, now: number, limit: number): Promise<string[]> {
  const found = await rows(
    conn,
    `SELECT worker_id FROM ${W} WHERE status = 'active' AND expires_at < ? ORDER BY expires_at, worker_id LIMIT ? FOR UPDATE SKIP LOCKED`,
    [now, limit],
  );
  return found.map((row) => String(row.worker_id));
}

/** The still-active workers among `ids` → `status`, stamped `now`. */
export async function retireWorkers(conn: Conn, ids: readonly string[], status: Extract<WorkerStatus, 'superseded' | 'dead'>, now: number): Promise<void> {
  await exec(conn, `UPDATE ${W} SET status = ?, ${RETIRED_AT[status]} = ? WHERE worker_id IN (?) AND status = 'active'`, [status, now, ids]);
}

/** A worker → `dead` from any other status; true when a row changed. */
export async function markWorkerDead(conn: Conn, workerId: string, now: number): Promise<boolean> {
  const { affectedRows } = await exec(conn, `UPDATE ${W} SET status = 'dead', dead_at = ? WHERE worker_id = ? AND status <> 'dead'`, [now, workerId]);
  return affectedRows > 0;
}
