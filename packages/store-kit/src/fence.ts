import type { Fence, Task } from '@taskmill/contracts';

/**
 * True while `task` is still running under this fence: same worker AND same attempt. Every write
 * about a claimed task checks this against the row read inside its transaction (docs/behaviour.md#fencing), so a
 * worker that was recovered, timed out, paused or reclaimed changes nothing.
 */
export function holdsFence(task: Pick<Task, 'status' | 'worker_id' | 'attempt'>, fence: Fence): boolean {
  return task.status === 'running' && task.worker_id === fence.worker_id && task.attempt === fence.attempt;
}
