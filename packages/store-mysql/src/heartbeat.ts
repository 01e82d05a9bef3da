import type { Fence, TaskId } from '@taskmill/contracts';
import { exec, rows, T, toId } from './queries.js';
import type { Conn } from './transaction.js';

/*
 * Task heartbeats: one fenced UPDATE (a row changes only while running under the fence's worker
 * and attempt), then one read to tell the caller which fences no longer hold. Idempotent, so it
 * needs no transaction and may be retried after a lost connection.
 */

/** `heartbeatTasks`: refresh held tasks, return the ids of fences that were lost. */
export async function heartbeatTasks(conn: Conn, fences: Fence[], now: number): Promise<TaskId[]> {
  if (fences.length === 0) return [];
  const valid = fences.filter((f) => toId(f.task_id) !== null);
  const ids = [...new Set(valid.map((f) => f.task_id))];
  if (ids.length > 0) {
    const held = valid.map(() => '(id = ? AND worker_id = ? AND attempt = ?)').join(' OR ');
    await exec(conn, `UPDATE ${T} SET last_active_time = ? WHERE id IN (?) AND status = 'running' AND (${held})`, [
      now,
      ids,
      ...valid.flatMap((f) => [f.task_id, f.worker_id, f.attempt]),
    ]);
  }
  const current = ids.length > 0 ? await rows(conn, `SELECT id, status, worker_id, attempt FROM ${T} WHERE id IN (?)`, [ids]) : [];
  const byId = new Map(current.map((r) => [Number(r.id), r]));
  const lost: TaskId[] = [];
  for (const fence of fences) {
    const row = byId.get(fence.task_id);
    const holds = row && row.status === 'running' && row.worker_id === fence.worker_id && Number(row.attempt) === fence.attempt;
    if (!holds && !lost.includes(fence.task_id)) lost.push(fence.task_id);
  }
  return lost;
}
