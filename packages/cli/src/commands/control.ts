import { TASK_ACTION_SPECS, type Store, type TaskAction, type TaskId } from '@taskmill/contracts';
import { checkSignal, runCascadeCancel, runTaskAction, sendTaskSignal, type Clock } from '@taskmill/core';
import { UsageError } from '../exit-codes.js';
import { cell, time } from '../format.js';
import { json } from '../output.js';

/**
 * `taskmill pause|resume|cancel|retry <id>` through `runTaskAction`, the dispatcher a TaskManager
 * uses; a refused transition throws InvalidTransitionError and changes nothing. `now` is on the
 * database's clock: a resumed or retried task is due at it, and workers judge that against the
 * database's time.
 */
export async function control(store: Store, action: TaskAction, id: TaskId, options: { json?: boolean; reason?: string; cascade?: boolean }, clock: Clock): Promise<string> {
  if (action === 'cancel' && options.cascade) {
    // docs/behaviour.md#cascade-cancel: the task and every unfinished descendant, in one transaction
    const { task, cancelled } = await runCascadeCancel(store, id, { reason: options.reason, cascade: true }, clock.now());
    if (options.json) return json({ task, cancelled });
    return `Task ${task.id} (${cell(task.name)}) cancelled with its subtree: ${cancelled.length} task${cancelled.length === 1 ? '' : 's'} cancelled, now ${task.status}.\n`;
  }
  const task = await runTaskAction(store, action, id, { reason: options.reason }, clock.now());
  if (options.json) return json(task);
  return `Task ${task.id} (${cell(task.name)}) ${TASK_ACTION_SPECS[action].past}: now ${task.status}.\n`;
}

/**
 * `taskmill pause-name <name>` / `resume-name <name>`: pause or resume a task name for the whole
 * cluster (docs/behaviour.md#pausing-a-name), on the database's clock; a bad name is a usage error
 * and nothing is written.
 */
export async function controlName(
  store: Store,
  action: 'pause' | 'resume',
  name: string,
  options: { json?: boolean; reason?: string; by?: string },
  clock: Clock,
): Promise<string> {
  if (action === 'pause') {
    const { changed, pause } = await store.pauseName(name, { reason: options.reason ?? null, by: options.by ?? null }, clock.now());
    if (options.json) return json({ changed, pause });
    return changed ? `Name ${cell(name)} paused: no worker claims its tasks until resume-name.\n` : `Name ${cell(name)} was already paused (since ${time(pause.paused_at)}).\n`;
  }
  const resumed = await store.resumeName(name, { by: options.by ?? null }, clock.now());
  if (options.json) return json({ changed: resumed });
  return resumed ? `Name ${cell(name)} resumed: workers claim its tasks again.\n` : `Name ${cell(name)} was not paused.\n`;
}

/**
 * `taskmill signal <id> <name> [--data <json>]`: send a signal to a task (docs/behaviour.md#signals)
 * through the dispatcher a TaskManager's `signal()` uses, on the database's clock. Data that is not
 * JSON text, a bad id or name is a usage error and nothing is written; an unknown task exits 4, a
 * finished one 1.
 */
export async function signal(store: Store, id: string, name: string, options: { json?: boolean; data?: string }, clock: Clock): Promise<string> {
  let data: unknown;
  if (options.data !== undefined) {
    try {
      data = JSON.parse(options.data);
    } catch (error) {
      throw new UsageError(`--data is not JSON: ${(error as Error).message}`);
    }
  }
  const sent = await sendTaskSignal(store, checkSignal(id, name, data), clock.now());
  if (options.json) return json(sent);
  const what = sent.resumed ? 'it was waiting for it and resumed' : 'kept until the task waits for it';
  return `Signal ${cell(name)} (#${sent.signal_id}) sent to task ${id}: ${what}.\n`;
}
