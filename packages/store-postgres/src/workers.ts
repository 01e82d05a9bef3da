import { decodeWorker, type RegisterWorkerInput, type WorkerRecord, type WorkerStatus } from '@taskmill/contracts';
import type { StoreContext } from './context.js';
import { run } from './transaction.js';

/*
 * The worker registry (SPEC B7, A13). Every change is a single guarded UPDATE/UPSERT, so
 * registries heartbeating, superseding and reaping at once never lose or revive a row wrongly.
 */

/** Insert or replace a worker's row as `active` with a fresh lease. */
export async function registerWorker(ctx: StoreContext, input: RegisterWorkerInput): Promise<WorkerRecord> {
  const now = input.now;
  const row = {
    worker_id: input.worker_id,
    pod_id: input.pod_id ?? null,
    status: 'active',
    host: input.host ?? null,
    pid: input.pid ?? null,
    registered_at: now,
    last_seen_at: now,
    expires_at: now + input.ttl_ms,
    superseded_at: null,
    dead_at: null,
    meta: input.meta == null ? null : JSON.stringify(input.meta),
  };
  const [stored] = await run('registerWorker', () => ctx.sql`
    INSERT INTO ${ctx.t.workers} ${ctx.sql(row)}
    ON CONFLICT (worker_id) DO UPDATE SET
      pod_id = EXCLUDED.pod_id, status = EXCLUDED.status, host = EXCLUDED.host, pid = EXCLUDED.pid,
      registered_at = EXCLUDED.registered_at, last_seen_at = EXCLUDED.last_seen_at,
      expires_at = EXCLUDED.expires_at, superseded_at = NULL, dead_at = NULL, meta = EXCLUDED.meta
    RETURNING *`);
  return decodeWorker(stored);
}

/** Extend the lease of an `active` worker; returns its row (any status) or null. */
export async function heartbeatWorker(
  ctx: StoreContext,
  workerId: string,
  now: number,
  ttlMs: number,
): Promise<WorkerRecord | null> {
  const { t } = ctx;
  const rows = await run('heartbeatWorker', () => ctx.sql`
    WITH renewed AS (
      UPDATE ${t.workers} SET last_seen_at = ${now}, expires_at = ${now + ttlMs}
      WHERE worker_id = ${workerId} AND status = 'active'
      RETURNING *)
    SELECT * FROM renewed
    UNION ALL
    SELECT * FROM ${t.workers} WHERE worker_id = ${workerId} AND NOT EXISTS (SELECT 1 FROM renewed)`);
  return rows[0] ? decodeWorker(rows[0]) : null;
}

/** Mark every other `active` worker of the pod `superseded`; returns their ids. */
export async function supersedeWorkers(
  ctx: StoreContext,
  podId: string,
  exceptWorkerId: string,
  now: number,
): Promise<string[]> {
  const rows = await run('supersedeWorkers', () => ctx.sql`
    UPDATE ${ctx.t.workers} SET status = 'superseded', superseded_at = ${now}
    WHERE pod_id = ${podId} AND worker_id <> ${exceptWorkerId} AND status = 'active'
    RETURNING worker_id`);
  return rows.map((r) => String(r.worker_id)).sort();
}

/** Mark `active` workers whose lease ended (`expires_at < now`) `dead`; bounded; returns their ids. */
export async function reapExpiredWorkers(ctx: StoreContext, now: number, limit: number): Promise<string[]> {
  const max = Math.max(0, Math.floor(Number(limit) || 0));
  if (max === 0) return [];
  const { t } = ctx;
  // A materialized CTE, not `WHERE worker_id IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)`: the
  // planner may rescan such a subquery once per outer row, and each rescan can return new rows,
  // so the UPDATE would take more than `limit` (observed in the conformance suite).
  const rows = await run('reapExpiredWorkers', () => ctx.sql`
    WITH expired AS MATERIALIZED (
      SELECT worker_id FROM ${t.workers}
      WHERE status = 'active' AND expires_at < ${now}
      ORDER BY expires_at, worker_id COLLATE "C"
      LIMIT ${max}
      FOR UPDATE SKIP LOCKED)
    UPDATE ${t.workers} AS w SET status = 'dead', dead_at = ${now}
    FROM expired
    WHERE w.worker_id = expired.worker_id AND w.status = 'active'
    RETURNING w.worker_id`);
  return rows.map((r) => String(r.worker_id)).sort();
}

/** Mark a worker `dead` from any other status; false if absent or already dead. */
export async function markWorkerDead(ctx: StoreContext, workerId: string, now: number): Promise<boolean> {
  const rows = await run('markWorkerDead', () => ctx.sql`
    UPDATE ${ctx.t.workers} SET status = 'dead', dead_at = ${now}
    WHERE worker_id = ${workerId} AND status <> 'dead'
    RETURNING worker_id`);
  return rows.length > 0;
}

/** One worker's row or null. */
export async function getWorker(ctx: StoreContext, workerId: string): Promise<WorkerRecord | null> {
  if (typeof workerId !== 'string') return null;
  const rows = await run('getWorker', () => ctx.sql`SELECT * FROM ${ctx.t.workers} WHERE worker_id = ${workerId}`);
  return rows[0] ? decodeWorker(rows[0]) : null;
}

/** Workers ordered by `registered_at, worker_id`, optionally filtered. */
export async function listWorkers(
  ctx: StoreContext,
  filter: { pod_id?: string; status?: WorkerStatus } = {},
): Promise<WorkerRecord[]> {
  const sql = ctx.sql;
  const pod = typeof filter?.pod_id === 'string' ? sql`AND pod_id = ${filter.pod_id}` : sql``;
  const status = typeof filter?.status === 'string' ? sql`AND status = ${filter.status}` : sql``;
  const rows = await run('listWorkers', () => sql`
    SELECT * FROM ${ctx.t.workers} WHERE TRUE ${pod} ${status}
    ORDER BY registered_at, worker_id COLLATE "C"`);
  return rows.map(decodeWorker);
}
