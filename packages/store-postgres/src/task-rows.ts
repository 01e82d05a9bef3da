import type { AttemptOutcome, Fence } from '@taskmill/contracts';
import type { Queryable, RawRow, Tables } from './context.js';

/** Lock one task row for the rest of the transaction; undefined when it does not exist. */
export async function lockTask(tx: Queryable, t: Tables, id: number): Promise<RawRow | undefined> {
  const rows = await tx`SELECT * FROM ${t.tasks} WHERE id = ${id} FOR UPDATE`;
  return rows[0];
}

/** True when the (locked) row is still running under this fence's worker and attempt. */
export function holdsFence(row: RawRow, fence: Fence): boolean {
  return row.status === 'running' && row.worker_id === fence.worker_id && Number(row.attempt) === fence.attempt;
}

/**
 * Close the open attempt of a task. With `attempt` only that attempt row is closed, so a
 * stale fence can never close a newer attempt.
 */
export async function closeAttempt(
  tx: Queryable,
  t: Tables,
  taskId: number,
  attempt: number | null,
  close: { outcome: AttemptOutcome; error?: string | null; timeout_flag?: boolean; now: number },
): Promise<void> {
  const byAttempt = attempt === null ? tx`` : tx`AND attempt = ${attempt}`;
  await tx`
    UPDATE ${t.attempts}
    SET ended_at = ${close.now}, outcome = ${close.outcome}, error = ${close.error ?? null},
        timeout_flag = ${close.timeout_flag ?? false}
    WHERE task_id = ${taskId} AND ended_at IS NULL ${byAttempt}`;
}
