import { events, NotOwnerError, TaskNotFoundError, type Fence, type TaskId, type TaskNoteInput } from '@taskmill/contracts';
import { isTaskId, type Param, type Sql } from './sql.js';
import { holdsFence, readTask, writeEvent } from './task-writes.js';

/** Refresh `last_active_time` under each fence; returns the ids whose fence no longer holds. */
export function heartbeatTasks(sql: Sql, fences: Fence[], now: number): TaskId[] {
  const lost: TaskId[] = [];
  for (const fence of fences) {
    const info = sql.run(
      `UPDATE taskmill_tasks SET last_active_time = ?
       WHERE id = ? AND status = 'running' AND worker_id = ? AND attempt = ?`,
      now,
      isTaskId(fence.task_id) ? fence.task_id : -1,
      fence.worker_id,
      fence.attempt,
    );
    if (info.changes === 0) lost.push(fence.task_id);
  }
  return lost;
}

/** Write a progress/checkpoint event (and the progress snapshot); fenced when a fence is given. */
export function recordTaskNote(sql: Sql, taskId: unknown, fence: Fence | null, note: TaskNoteInput, now: number): number {
  const task = isTaskId(taskId) ? readTask(sql, taskId) : null;
  if (!task) throw new TaskNotFoundError(taskId);
  if (fence && (fence.task_id !== task.id || !holdsFence(task, fence))) throw new NotOwnerError(task.id, fence.worker_id);

  if (note.event_type === 'task_progress') {
    const sets = ['last_active_time = ?'];
    const params: Param[] = [now];
    const progress = note.progress ?? {};
    for (const key of ['current_stage_name', 'progress_text', 'progress_percent'] as const) {
      if (progress[key] !== undefined) {
        sets.push(`${key} = ?`);
        params.push(progress[key] ?? null);
      }
    }
    sql.run(`UPDATE taskmill_tasks SET ${sets.join(', ')} WHERE id = ?`, ...params, task.id);
  }
  return writeEvent(
    sql,
    events.note(task, note.event_type, note.message, note.metadata, fence?.attempt ?? null, fence?.worker_id ?? null, note.stage, now),
  );
}
