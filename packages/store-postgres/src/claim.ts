import { type ClaimRequest, decodeTask, events, type EventDraft, type Task } from '@taskmill/contracts';
import type postgres from '#postgres';
import type { StoreContext } from './context.js';
import { writeEvents } from './event-log.js';
import { inTransaction } from './transaction.js';

/*
 * Claiming (SPEC A4), graphile-worker style.
 *
 * One statement picks and takes the batch:
 *
 *   WITH picked AS MATERIALIZED (SELECT … WHERE claimable
 *                                ORDER BY priority DESC, next_run_time, id
 *                                LIMIT $n FOR UPDATE SKIP LOCKED)
 *   UPDATE taskmill_tasks … FROM picked WHERE id = picked.id RETURNING *
 *
 * This is `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING` with the sub-select
 * in a materialized CTE: written as `IN (subquery)` the planner may pick a nested-loop semi-join
 * that rescans the LIMITed sub-select per outer row, and the rescans can lock and return further
 * rows, so more than $n tasks would be taken (we reproduced this with the same shape on the
 * worker registry). A materialized CTE runs once.
 *
 * Why this locking is right:
 * - `FOR UPDATE` row-locks exactly the rows we are about to take, so two workers can never
 *   take the same task: the second one either waits for nothing (SKIP LOCKED) or, at READ
 *   COMMITTED, re-checks the row's newest version and drops it when it is no longer claimable.
 * - `SKIP LOCKED` makes concurrent claimers walk past each other's candidates instead of
 *   queueing behind them: N workers claiming at once each get a disjoint batch with no lock
 *   waits and no serialization failures (measured: 4 stores × 2,000 tasks, every task claimed
 *   exactly once, see test/postgres-store.test.ts).
 * - Pick and update are one statement, so a batch costs one round trip however large it is;
 *   the attempt rows and claim events are multi-row INSERTs in the same transaction, so a
 *   claim and its audit rows commit together or not at all.
 * - The partial index idx_task_scheduling (priority DESC, next_run_time, id) over the
 *   claimable statuses lets the ORDER BY … LIMIT stop after the first due rows.
 *
 * Retry candidates (failed/timeout whose retry time has come, SPEC A5) are promoted to pending
 * in the same UPDATE (retry_count + 1, stage 0, result/context cleared) and get their
 * `task_retry_scheduled` event before the claim events.
 *
 * A superseded or dead worker claims nothing: the transaction first reads the worker's registry
 * row by primary key `FOR SHARE`, so a concurrent supersede/reap UPDATE of that row either
 * committed before (the lock waits for it and we read the new status) or waits for our COMMIT
 * (and recovery then sees the claimed tasks); a reap's `FOR UPDATE SKIP LOCKED` passes over the
 * row while a claim holds it and reaps it on its next round. No row (no registry in use) may claim.
 *
 * With per-name caps (`name_limits`) one ORDER BY … LIMIT cannot express the caps, so each
 * capped name is locked with its own `LIMIT cap … FOR UPDATE SKIP LOCKED`, the batch is chosen
 * in code and taken by the same UPDATE, still in one transaction. The few locked rows that were
 * not chosen are released at commit.
 */

interface Candidate {
  id: number;
  priority: number;
  next_run_time: number;
}

const byClaimOrder = (a: Candidate, b: Candidate) =>
  b.priority - a.priority || a.next_run_time - b.next_run_time || a.id - b.id;

/** Claim up to `request.limit` due tasks for `request.worker_id`; returns them in claim order. */
export async function claimTasks(ctx: StoreContext, request: ClaimRequest): Promise<Task[]> {
  const limit = Math.floor(Number(request.limit));
  if (!(limit > 0) || !Array.isArray(request.names) || request.names.length === 0) return [];
  const caps = request.name_limits ?? {};
  const names = [...new Set(request.names)].filter((n) => typeof n === 'string' && !(caps[n] !== undefined && caps[n] < 1));
  if (names.length === 0) return [];
  const capped = names.filter((n) => caps[n] !== undefined && caps[n] < limit);
  const { worker_id: workerId, now } = request;
  const { t } = ctx;

  return inTransaction(ctx, 'claimTasks', async (tx) => {
    const [worker] = await tx`SELECT status FROM ${t.workers} WHERE worker_id = ${workerId} FOR SHARE`;
    if (worker && worker.status !== 'active') return [];

    const claimable = (scope: postgres.Fragment) => tx`
      SELECT id, priority, next_run_time FROM ${t.tasks}
      WHERE ${scope} AND status IN ('pending', 'failed', 'timeout') AND next_run_time <= ${now}
      ORDER BY priority DESC NULLS LAST, next_run_time, id`;

    let picked: postgres.Fragment;
    if (capped.length === 0) {
      picked = tx`
        SELECT id, status AS prev_status, worker_id AS prev_worker_id FROM ${t.tasks}
        WHERE name = ANY(${names}::text[]) AND status IN ('pending', 'failed', 'timeout')
          AND next_run_time <= ${now}
        ORDER BY priority DESC NULLS LAST, next_run_time, id
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED`;
    } else {
      const candidates: Candidate[] = [];
      const uncapped = names.filter((n) => !capped.includes(n));
      const groups: Array<[postgres.Fragment, number]> = capped.map((n) => [tx`name = ${n}`, Math.floor(caps[n])]);
      if (uncapped.length > 0) groups.unshift([tx`name = ANY(${uncapped}::text[])`, limit]);
      for (const [scope, max] of groups) {
        const rows = await tx`${claimable(scope)} LIMIT ${max} FOR UPDATE SKIP LOCKED`;
        for (const r of rows) {
          candidates.push({ id: Number(r.id), priority: Number(r.priority), next_run_time: Number(r.next_run_time) });
        }
      }
      const chosen = candidates.sort(byClaimOrder).slice(0, limit).map((c) => c.id);
      if (chosen.length === 0) return [];
      picked = tx`
        SELECT id, status AS prev_status, worker_id AS prev_worker_id FROM ${t.tasks}
        WHERE id = ANY(${chosen}::int8[])`;
    }

    const retrying = tx`picked.prev_status IN ('failed', 'timeout')`;
    const rows = await tx`
      WITH picked AS MATERIALIZED (${picked})
      UPDATE ${t.tasks} AS task
      SET status = 'running',
          retry_count = CASE WHEN ${retrying} THEN task.retry_count + 1 ELSE task.retry_count END,
          stage = CASE WHEN ${retrying} THEN 0 ELSE task.stage END,
          result = CASE WHEN ${retrying} THEN NULL ELSE task.result END,
          context = CASE WHEN ${retrying} THEN NULL ELSE task.context END,
          children_results = CASE WHEN ${retrying} THEN NULL ELSE task.children_results END,
          worker_id = ${workerId},
          start_time = ${now},
          last_active_time = ${now},
          attempt = task.attempt + 1,
          last_event_time = ${now},
          last_event_type = CASE WHEN ${retrying} OR task.retry_count > 0
                                 THEN 'task_retry_started' ELSE 'task_started' END
      FROM picked
      WHERE task.id = picked.id
      RETURNING task.*, picked.prev_status, picked.prev_worker_id`;
    if (rows.length === 0) return [];

    const claimed = [...rows]
      .map((row) => ({ row, task: decodeTask(row) }))
      .sort((a, b) => byClaimOrder(a.task, b.task));
    const drafts: EventDraft[] = [];
    for (const { row, task } of claimed) {
      const previous = row.prev_status as string;
      if (previous === 'failed' || previous === 'timeout') {
        const before = { ...task, worker_id: (row.prev_worker_id as string | null) ?? null };
        drafts.push(events.retryScheduled(before, previous, task.retry_count, now));
      }
      drafts.push(...events.claimed(task, workerId, task.attempt, task.retry_count, now));
    }
    const attempts = claimed.map(({ task }) => ({
      task_id: task.id,
      attempt: task.attempt,
      worker_id: workerId,
      started_at: now,
      timeout_flag: false,
    }));
    await tx`INSERT INTO ${t.attempts} ${tx(attempts)}`;
    await writeEvents(tx, t, drafts, { touchTasks: false });
    return claimed.map(({ task }) => task);
  });
}
