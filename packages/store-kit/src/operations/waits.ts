import { FINAL_STATUSES, parseTaskId, TaskFinishedError, TaskNotFoundError, type SignalSent, type WakeResult } from '@taskmill/contracts';
import * as changes from '../changes.js';
import { decodeSignal } from '../codec.js';
import { events } from '../event-drafts.js';
import type { StoreWriter } from '../statements.js';
import { apply } from './apply.js';

/*
 * Timed waits and signals (docs/behaviour.md#durable-sleep, #signals). A signal and the wait for it
 * meet under the task's row lock: `sendSignal` locks the task before it inserts the signal, and a
 * `wait_signal` outcome (operations/attempts.ts) locks the task before it looks for one, so
 * whichever commits second sees what the first wrote, and no signal is lost between the two.
 */

/** `sendSignal`: keep the signal, and resume the task when it waits for this name. */
export async function sendSignal(tx: StoreWriter, taskId: unknown, name: string, data: string | null, now: number): Promise<SignalSent> {
  const id = parseTaskId(taskId);
  const task = id === null ? null : await tx.lockTask(id);
  if (!task) throw new TaskNotFoundError(taskId);
  if (FINAL_STATUSES.includes(task.status)) throw new TaskFinishedError(task.id, task.status);
  const signalId = await tx.insertSignal({ task_id: task.id, name, data, sent_at: now });
  const waiting = task.status === 'suspended' && task.suspend_reason === 'signal' && task.awaited_signal === name;
  if (!waiting) {
    await tx.applyChanges([changes.noted(task, events.signalReceived(task, name, signalId, false, now))]);
    return { signal_id: signalId, resumed: false };
  }
  await tx.markSignalConsumed(signalId, now);
  const resume = changes.signalResume(task, { id: signalId, data, sent_at: now }, now);
  const { applied } = await apply(tx, [{ ...resume, events: [events.signalReceived(task, name, signalId, true, now), ...resume.events] }], now);
  return { signal_id: signalId, resumed: applied[0] };
}

/**
 * The oldest signal of this name kept for the task (locked), consumed now; null when none. Called
 * by a `wait_signal` outcome under the task's row lock.
 */
export async function takeSignal(tx: StoreWriter, taskId: number, name: string, now: number): Promise<{ id: number; data: string | null; sent_at: number } | null> {
  const row = await tx.selectKeptSignal(taskId, name);
  if (!row) return null;
  const signal = decodeSignal(row);
  await tx.markSignalConsumed(signal.id, now);
  return { id: signal.id, data: signal.data, sent_at: signal.sent_at };
}

/** End the timed waits due by `now` (docs/behaviour.md#durable-sleep); safe when every worker runs it at once. */
export async function wakeDueTasks(tx: StoreWriter, input: { now: number; limit: number }): Promise<WakeResult> {
  const woken: number[] = [];
  if (input.limit > 0) {
    const due = await tx.dueWakeCandidates(input.now, Math.floor(input.limit));
    const list = due.filter((task) => task.status === 'suspended' && task.wake_at !== null && task.wake_at <= input.now).map((task) => changes.wakeUp(task, input.now));
    if (list.length > 0) {
      const { applied } = await apply(tx, list, input.now);
      list.forEach((c, i) => applied[i] && woken.push(c.task_id));
    }
  }
  return { woken, next_wake_at: await tx.selectNextWake() };
}
