import { TASK_ACTION_SPECS, type Store, type TaskAction, type TaskId } from '@taskmill/contracts';
import { runTaskAction, type Clock } from '@taskmill/core';
import { cell } from '../format.js';
import { json } from '../output.js';

/**
 * `taskmill pause|resume|cancel|retry <id>` through `runTaskAction`, the dispatcher a TaskManager
 * uses; a refused transition throws InvalidTransitionError and changes nothing. `now` is on the
 * database's clock: a resumed or retried task is due at it, and workers judge that against the
 * database's time.
 */
export async function control(store: Store, action: TaskAction, id: TaskId, options: { json?: boolean; reason?: string }, clock: Clock): Promise<string> {
  const task = await runTaskAction(store, action, id, { reason: options.reason }, clock.now());
  if (options.json) return json(task);
  return `Task ${task.id} (${cell(task.name)}) ${TASK_ACTION_SPECS[action].past}: now ${task.status}.\n`;
}
