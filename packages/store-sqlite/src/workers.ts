import type { RegisterWorkerInput, WorkerStatus } from '@taskmill/contracts';
import { TABLES, type Condition, type RawRow } from '@taskmill/store-kit';
import { where } from './conditions.js';
import { jsonList, type SqliteConnection } from './connection.js';

/*
 * The worker registry (docs/behaviour.md#worker-registry). Writers run inside the caller's IMMEDIATE transaction, so a
 * read-then-update here is never interleaved with another worker's: SQLite needs no row locks for
 * the "locked" reads the kit asks for.
 */

/** The worker row, or null. */
export async function selectWorker(sql: SqliteConnection, workerId: string): Promise<RawRow | null> {
  return sql.get(`SELECT * FROM ${TABLES.workers} WHERE worker_id = ?`, workerId) ?? null;
}

/**
 * The operating system's clock in ms since the epoch, read by SQLite itself: the one clock every
 * process on this file shares, whatever a process's own `Date.now()` says.
 */
export async function selectServerTime(sql: SqliteConnection): Promise<number> {
  return Number(sql.get("SELECT CAST(round((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) AS now")?.now);
}

/** Workers matching the conditions, by `registered_at, worker_id`. */
export async function selectWorkers(sql: SqliteConnection, conditions: readonly Condition[]): Promise<RawRow[]> {
  const filter = where(conditions);
  return sql.all(`SELECT * FROM ${TABLES.workers} ${filter.sql} ORDER BY registered_at, worker_id`, ...filter.params);
}

/** Replace the worker's row with a fresh `active` lease. */
export async function replaceWorker(sql: SqliteConnection, input: RegisterWorkerInput): Promise<void> {
  sql.run(`DELETE FROM ${TABLES.workers} WHERE worker_id = ?`, input.worker_id);
  sql.run(
    `INSERT INTO ${TABLES.workers} (worker_id, pod_id, status, host, pid, registered_at, last_seen_at, expires_at, meta)
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
}

/** Extend an `active` worker's lease; `meta` replaced when given (undefined leaves it alone). */
export async function extendWorkerLease(
  sql: SqliteConnection,
  workerId: string,
  now: number,
  expiresAt: number,
  meta: string | null | undefined,
): Promise<void> {
  sql.run(
    `UPDATE ${TABLES.workers} SET last_seen_at = ?, expires_at = ?, meta = CASE WHEN ? THEN ? ELSE meta END
     WHERE worker_id = ? AND status = 'active'`,
    now,
    expiresAt,
    meta === undefined ? 0 : 1,
    meta ?? null,
    workerId,
  );
}

/** Other `active` workers of the pod, by `registered_at, worker_id`. */
export async function selectPodWorkers(sql: SqliteConnection, podId: string, exceptWorkerId: string): Promise<string[]> {
  return sql
    .all(
      `SELECT worker_id FROM ${TABLES.workers} WHERE pod_id = ? AND worker_id <> ? AND status = 'active'
       ORDER BY registered_at, worker_id`,
      podId,
      exceptWorkerId,
    )
    .map((row) => String(row.worker_id));
}

/** `active` workers whose lease ended before `now`, by `expires_at, worker_id`, at most `limit`. */
export async function selectExpiredWorkers(sql: SqliteConnection, now: number, limit: number): Promise<string[]> {
  return sql
    .all(
      `SELECT worker_id FROM ${TABLES.workers} WHERE status = 'active' AND expires_at < ?
       ORDER BY expires_at, worker_id LIMIT ?`,
      now,
      limit,
    )
    .map((row) => String(row.worker_id));
}

/** Still-active workers among `ids` → `superseded` or `dead`, stamping the matching time column. */
export async function retireWorkers(
  sql: SqliteConnection,
  ids: readonly string[],
  status: Extract<WorkerStatus, 'superseded' | 'dead'>,
  now: number,
): Promise<void> {
  const column = status === 'dead' ? 'dead_at' : 'superseded_at';
  sql.run(
    `UPDATE ${TABLES.workers} SET status = ?, ${column} = ?
     WHERE status = 'active' AND worker_id IN (SELECT value FROM json_each(?))`,
    status,
    now,
    jsonList(ids),
  );
}

/** A worker → `dead` from any other status; true when a row changed. */
export async function markWorkerDead(sql: SqliteConnection, workerId: string, now: number): Promise<boolean> {
  return sql.run(`UPDATE ${TABLES.workers} SET status = 'dead', dead_at = ? WHERE worker_id = ? AND status <> 'dead'`, now, workerId).changes > 0;
}
