import {
  decodeTask,
  events,
  type PurgeInput,
  type PurgeResult,
  type RecoveredTask,
  type RecoverTasksInput,
  SWEEP_ERRORS,
  type TimedOutTask,
} from '@taskmill/contracts';
import type { StoreContext } from './context.js';
import { writeEvents } from './event-log.js';
import { applyFailure } from './failure.js';
import { notifyDue } from './notify.js';
import { inTransaction, run } from './transaction.js';

/*
 * Maintenance that every worker may run at the same time (SPEC A12): each batch locks its rows
 * with `FOR UPDATE SKIP LOCKED`, so concurrent sweepers split the work instead of repeating it,
 * and the lock's re-check of the WHERE clause (READ COMMITTED) makes every change a guarded
 * compare-and-set: a row that stopped qualifying is simply not returned.
 */

const bounded = (limit: number) => Math.max(0, Math.floor(Number(limit) || 0));

/** Time out running tasks past their total timeout or heartbeat deadline (bounded batch). */
export async function sweepTimedOutTasks(
  ctx: StoreContext,
  input: { now: number; heartbeat_timeout_ms: number; limit: number },
): Promise<TimedOutTask[]> {
  const limit = bounded(input.limit);
  if (limit === 0) return [];
  const { now } = input;
  const staleBefore = now - input.heartbeat_timeout_ms;
  const { t } = ctx;
  return inTransaction(ctx, 'sweepTimedOutTasks', async (tx) => {
    const rows = await tx`
      SELECT * FROM ${t.tasks}
      WHERE status = 'running'
        AND (start_time + timeout * 1000 <= ${now} OR last_active_time < ${staleBefore})
      ORDER BY id
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED`;
    const out: TimedOutTask[] = [];
    let due = false;
    for (const row of rows) {
      const task = decodeTask(row);
      const type = task.start_time !== null && task.start_time + task.timeout * 1000 <= now ? 'total' : 'heartbeat';
      const applied = await applyFailure(
        tx,
        ctx,
        row,
        { status: 'timeout', error: SWEEP_ERRORS[type], timeout_type: type },
        now,
      );
      due ||= applied.due;
      out.push({ task_id: task.id, worker_id: task.worker_id ?? '', attempt: task.attempt, timeout_type: type });
    }
    if (due) await notifyDue(tx, ctx);
    return out;
  });
}

/**
 * Hand the running tasks of dead/superseded workers back to `pending` (stage 0, due now, worker
 * and result cleared, no retry consumed), closing their attempts as `interrupted` (SPEC B7.2, A13).
 */
export async function recoverWorkerTasks(ctx: StoreContext, input: RecoverTasksInput): Promise<RecoveredTask[]> {
  const limit = bounded(input.limit);
  const workerIds = (input.worker_ids ?? []).filter((w) => typeof w === 'string');
  if (limit === 0 || workerIds.length === 0) return [];
  const { now } = input;
  const { t } = ctx;
  return inTransaction(ctx, 'recoverWorkerTasks', async (tx) => {
    const rows = await tx`
      WITH victims AS MATERIALIZED (
        SELECT id, worker_id AS from_worker_id, attempt AS from_attempt FROM ${t.tasks}
        WHERE status = 'running' AND worker_id = ANY(${workerIds}::text[])
        ORDER BY id
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED)
      UPDATE ${t.tasks} AS task
      SET status = 'pending', stage = 0, next_run_time = ${now}, last_active_time = ${now},
          worker_id = NULL, start_time = NULL, result = NULL
      FROM victims
      WHERE task.id = victims.id
      RETURNING task.*, victims.from_worker_id, victims.from_attempt`;
    if (rows.length === 0) return [];
    const recovered = [...rows].sort((a, b) => Number(a.id) - Number(b.id));
    await tx`
      UPDATE ${t.attempts} AS a
      SET ended_at = ${now}, outcome = 'interrupted', error = ${SWEEP_ERRORS.recovered}
      FROM unnest(${recovered.map((r) => Number(r.id))}::int8[], ${recovered.map((r) => Number(r.from_attempt))}::int4[])
           AS v(task_id, attempt)
      WHERE a.task_id = v.task_id AND a.attempt = v.attempt AND a.ended_at IS NULL`;
    await writeEvents(
      tx,
      t,
      recovered.map((r) =>
        events.recovered(decodeTask(r), r.from_worker_id, input.by_worker_id, input.by_pod_id ?? null, 'worker_unavailable', now),
      ),
    );
    await notifyDue(tx, ctx);
    return recovered.map((r) => ({ task_id: Number(r.id), worker_id: r.from_worker_id as string, attempt: Number(r.from_attempt) }));
  });
}

/**
 * Delete one bounded batch of expired tasks (oldest first) with their events and attempts, in
 * one statement. Rows another purger holds are skipped, so concurrent sweeps never collide.
 */
export async function purgeExpiredTasks(ctx: StoreContext, input: PurgeInput): Promise<PurgeResult> {
  const limit = bounded(input.limit);
  const statuses = (input.statuses ?? []).filter((s) => typeof s === 'string');
  if (limit === 0 || statuses.length === 0) {
    return { tasks_deleted: 0, events_deleted: 0, attempts_deleted: 0, has_more: false };
  }
  const { t } = ctx;
  const [counts] = await run('purgeExpiredTasks', () => ctx.sql`
    WITH victims AS MATERIALIZED (
      SELECT id FROM ${t.tasks}
      WHERE status = ANY(${statuses}::text[]) AND COALESCE(last_active_time, created_at) < ${input.before}
      ORDER BY COALESCE(last_active_time, created_at), id
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED),
    gone_events AS (DELETE FROM ${t.events} WHERE task_id IN (SELECT id FROM victims) RETURNING 1),
    gone_attempts AS (DELETE FROM ${t.attempts} WHERE task_id IN (SELECT id FROM victims) RETURNING 1),
    gone_tasks AS (DELETE FROM ${t.tasks} WHERE id IN (SELECT id FROM victims) RETURNING 1)
    SELECT (SELECT count(*) FROM gone_tasks)::int AS tasks,
           (SELECT count(*) FROM gone_events)::int AS events,
           (SELECT count(*) FROM gone_attempts)::int AS attempts,
           (SELECT count(*) FROM victims)::int AS selected`);
  return {
    tasks_deleted: Number(counts.tasks),
    events_deleted: Number(counts.events),
    attempts_deleted: Number(counts.attempts),
    has_more: Number(counts.selected) === limit,
  };
}
