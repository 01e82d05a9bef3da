import type { Fence, TaskNoteInput } from '@taskmill/contracts';
import { decodeTask, events, NotOwnerError, TaskNotFoundError } from '@taskmill/contracts';
import { holds } from './finish.js';
import { insertEvents, lockTaskRow, toId, updateTask } from './queries.js';
import type { Conn } from './transaction.js';

/** `recordTaskNote`: a progress/checkpoint event, fenced when a fence is given (caller's transaction). */
export async function recordTaskNote(conn: Conn, taskId: number, fence: Fence | null, note: TaskNoteInput, now: number): Promise<number> {
  const id = toId(taskId);
  const row = id === null ? null : await lockTaskRow(conn, id);
  if (!row || id === null) throw new TaskNotFoundError(taskId);
  const task = decodeTask(row);
  if (fence && !holds(task, fence)) throw new NotOwnerError(task.id, fence.worker_id);
  if (note.event_type === 'task_progress') {
    const values: Record<string, unknown> = { last_active_time: now };
    const progress = note.progress ?? {};
    if (progress.current_stage_name !== undefined) values.current_stage_name = progress.current_stage_name;
    if (progress.progress_text !== undefined) values.progress_text = progress.progress_text;
    if (progress.progress_percent !== undefined) values.progress_percent = progress.progress_percent;
    await updateTask(conn, task.id, values);
  }
  const draft = events.note(task, note.event_type, note.message, note.metadata, fence?.attempt ?? null, fence?.worker_id ?? null, note.stage, now);
  return insertEvents(conn, [draft]);
}
