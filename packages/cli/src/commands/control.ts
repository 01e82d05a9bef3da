import type { Store, Task, TaskId } from '@taskmill/contracts';
import type { Clock } from '@taskmill/core';
import { cell } from '../format.js';
import { json } from '../output.js';

/** The per-task actions, each one store operation (one transaction with its audit event). */
export type Action = 'pause' | 'resume' | 'cancel' | 'retry';

const PAST: Record<Action, string> = { pause: 'paused', resume: 'resumed', cancel: 'cancelled', retry: 'retried' };

/**
 * `taskmill pause|resume|cancel|retry <id>` through the store's `pauseTask`, `resumeTask`,
 * `cancelTask` and `retryTask`, the operations a TaskManager uses; a refused transition throws
 * InvalidTransitionError and changes nothing. `now` is on the database's clock: a resumed or
 * retried task is due at it, and workers judge that against the database's time.
 */
export async function control(store: Store, action: Action, id: TaskId, options: { json?: boolean; reason?: string }, clock: Clock): Promise<string> {
  const now = clock.now();
  let task: Task;
  switch (action) {
    case 'pause':
      task = await store.pauseTask(id, now);
      break;
    case 'resume':
      task = await store.resumeTask(id, { resume_reason: options.reason }, now);
      break;
    case 'cancel':
      task = await store.cancelTask(id, { reason: options.reason }, now);
      break;
    case 'retry':
      task = await store.retryTask(id, now);
      break;
  }
  if (options.json) return json(task);
  return `Task ${task.id} (${cell(task.name)}) ${PAST[action]}: now ${task.status}.\n`;
}
