import type { Task } from '@taskmill/contracts';

/**
 * Why a running task is overdue at `now`, or null when it is not: `total` once
 * `start_time + timeout` has passed (checked first), `heartbeat` when its last sign of life is
 * older than `heartbeatTimeoutMs`. The stores' candidate queries select on the same two
 * conditions; this decides the kind, once.
 */
export function classifyTimeout(
  task: Pick<Task, 'status' | 'start_time' | 'timeout' | 'last_active_time'>,
  now: number,
  heartbeatTimeoutMs: number,
): 'total' | 'heartbeat' | null {
  if (task.status !== 'running') return null;
  if (task.start_time !== null && task.start_time + task.timeout * 1000 <= now) return 'total';
  if (task.last_active_time !== null && task.last_active_time < now - heartbeatTimeoutMs) return 'heartbeat';
  return null;
}
