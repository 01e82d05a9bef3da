import type { RecoveredTask, RecoverTasksInput, TimedOutTask } from '@taskmill/contracts';
import * as changes from '../changes.js';
import type { StoreWriter } from '../statements.js';
import { classifyTimeout } from '../timeouts.js';
import { apply } from './apply.js';

/*
 * The timeout sweep and worker recovery, which every worker may run at once
 * (docs/behaviour.md#maintenance, #recovery).
 */

/** The timeout sweep (docs/behaviour.md#maintenance): safe when every worker runs it at once (guarded changes). */
export async function sweepTimedOutTasks(
  tx: StoreWriter,
  input: { now: number; heartbeat_timeout_ms: number; limit: number },
): Promise<TimedOutTask[]> {
  if (!(input.limit > 0)) return [];
  const candidates = await tx.timedOutCandidates(input.now, input.now - input.heartbeat_timeout_ms, Math.floor(input.limit));
  const out: TimedOutTask[] = [];
  for (const task of candidates) {
    const type = classifyTimeout(task, input.now, input.heartbeat_timeout_ms);
    if (!type) continue;
    const { applied } = await apply(tx, [changes.timeOut(task, type, input.now)], input.now);
    if (applied[0]) out.push({ task_id: task.id, worker_id: task.worker_id ?? '', attempt: task.attempt, timeout_type: type });
  }
  return out;
}

/** Worker recovery (docs/behaviour.md#recovery): running tasks of dead/superseded workers back to `pending`. */
export async function recoverWorkerTasks(tx: StoreWriter, input: RecoverTasksInput): Promise<RecoveredTask[]> {
  if (input.worker_ids.length === 0 || !(input.limit > 0)) return [];
  const tasks = await tx.runningTasksOf(input.worker_ids.map(String), Math.floor(input.limit));
  const recovered: RecoveredTask[] = [];
  for (const task of tasks) {
    const recovery = { reason: 'worker_unavailable' as const, by_worker_id: input.by_worker_id, by_pod_id: input.by_pod_id };
    const { applied } = await apply(tx, [changes.requeue(task, recovery, input.now)], input.now);
    if (applied[0]) recovered.push({ task_id: task.id, worker_id: task.worker_id ?? '', attempt: task.attempt });
  }
  return recovered;
}
