import type { RegisterWorkerInput, WorkerStatus } from '@taskmill/contracts';
import type { Condition, RawRow } from '@taskmill/store-kit';
import { where } from './conditions.js';
import { endFrozenWorkerSessions } from './frozen-sessions.js';
import type { Db } from './transaction.js';

/*
 * The worker registry (docs/behaviour.md#worker-registry). Every change is a guarded UPDATE/UPSERT, and the rows a
 * change is decided on are locked in the same transaction, so registries heartbeating,
 * superseding and reaping at once never lose or revive a row wrongly. Worker ids sort with
 * COLLATE "C" (byte-wise), as on the other stores.
 */

/** One worker's row, or null. */
export async function selectWorker(db: Db, workerId: string): Promise<RawRow | null> {
  const [row] = await db.sql`SELECT * FROM ${db.t.workers} WHERE worker_id = ${workerId}`;
  return row ?? null;
}

/** The server's clock in ms since the epoch: `clock_timestamp()`, the time of the statement itself, not of its transaction. */
export async function selectServerTime(db: Db): Promise<number> {
  const [row] = await db.sql`SELECT (extract(epoch from clock_timestamp()) * 1000)::float8 AS now`;
  return Math.round(Number(row.now));
}

/** Workers matching the conditions, by `registered_at, worker_id`. */
export async function selectWorkers(db: Db, conditions: readonly Condition[]): Promise<RawRow[]> {
  return db.sql`
    SELECT * FROM ${db.t.workers} WHERE ${where(db, conditions)}
    ORDER BY registered_at, worker_id COLLATE "C"`;
}

/** Insert or replace the worker's row as `active` with a fresh lease. */
export async function replaceWorker(db: Db, input: RegisterWorkerInput): Promise<void> {
  const row = {
    worker_id: input.worker_id,
    pod_id: input.pod_id ?? null,
    status: 'active',
    host: input.host ?? null,
    pid: input.pid ?? null,
    registered_at: input.now,
    last_seen_at: input.now,
    expires_at: input.now + input.ttl_ms,
    superseded_at: null,
    dead_at: null,
    meta: input.meta == null ? null : JSON.stringify(input.meta),
  };
  await db.sql`
    INSERT INTO ${db.t.workers} ${db.sql(row)}
    ON CONFLICT (worker_id) DO UPDATE SET
      pod_id = EXCLUDED.pod_id, status = EXCLUDED.status, host = EXCLUDED.host, pid = EXCLUDED.pid,
      registered_at = EXCLUDED.registered_at, last_seen_at = EXCLUDED.last_seen_at,
      expires_at = EXCLUDED.expires_at, superseded_at = NULL, dead_at = NULL, meta = EXCLUDED.meta`;
}

/** Extend an `active` worker's lease; `meta` (JSON text or null) replaces the stored one unless undefined. */
export async function extendWorkerLease(
  db: Db,
  workerId: string,
  now: number,
  expiresAt: number,
  meta: string | null | undefined,
): Promise<void> {
  const setMeta = meta === undefined ? db.sql`` : db.sql`, meta = ${meta}`;
  await db.sql`
    UPDATE ${db.t.workers} SET last_seen_at = ${now}, expires_at = ${expiresAt} ${setMeta}
    WHERE worker_id = ${workerId} AND status = 'active'`;
}

/**
 * Ids of the other `active` workers of the pod, locked. `FOR UPDATE` without SKIP LOCKED: a claim
 * holding a worker's row `FOR SHARE` (see claim.ts) finishes first, so recovery sees its tasks.
 */
export async function selectPodWorkers(db: Db, podId: string, exceptWorkerId: string): Promise<string[]> {
  const rows = await db.sql`
    SELECT worker_id FROM ${db.t.workers}
    WHERE pod_id = ${podId} AND worker_id <> ${exceptWorkerId} AND status = 'active'
    ORDER BY registered_at, worker_id COLLATE "C"
    FOR UPDATE`;
  return rows.map((r) => String(r.worker_id));
}

/**
 * Ids of `active` workers whose lease ended, oldest first, at most `limit`, locked. SKIP LOCKED:
 * concurrent reapers split the rows, and a worker in the middle of a claim is reaped next round.
 * A row that a stopped process holds where the server's idle limit cannot end its session is
 * freed for the next round first (see frozen-sessions.ts).
 */
export async function selectExpiredWorkers(db: Db, now: number, limit: number): Promise<string[]> {
  await endFrozenWorkerSessions(db, now);
  const rows = await db.sql`
    SELECT worker_id FROM ${db.t.workers}
    WHERE status = 'active' AND expires_at < ${now}
    ORDER BY expires_at, worker_id COLLATE "C"
    LIMIT ${limit}
    FOR UPDATE SKIP LOCKED`;
  return rows.map((r) => String(r.worker_id));
}

/** Still-active workers among `ids` → `superseded` (with `superseded_at`) or `dead` (with `dead_at`). */
export async function retireWorkers(
  db: Db,
  ids: readonly string[],
  status: Extract<WorkerStatus, 'superseded' | 'dead'>,
  now: number,
): Promise<void> {
  const { sql } = db;
  const stamp = status === 'superseded' ? sql`superseded_at = ${now}` : sql`dead_at = ${now}`;
  await sql`
    UPDATE ${db.t.workers} SET status = ${status}, ${stamp}
    WHERE worker_id = ANY(${ids as string[]}::text[]) AND status = 'active'`;
}

/** A worker → `dead` from any other status; true when a row changed. */
export async function markWorkerDead(db: Db, workerId: string, now: number): Promise<boolean> {
  const result = await db.sql`
    UPDATE ${db.t.workers} SET status = 'dead', dead_at = ${now}
    WHERE worker_id = ${workerId} AND status <> 'dead'`;
  return result.count > 0;
}
