import {
  canTransition,
  decodeTask,
  events,
  type Fence,
  InvalidTransitionError,
  NotOwnerError,
  type Task,
  type TaskId,
  TaskNotFoundError,
  type TaskNoteInput,
  type TaskStatus,
} from '@taskmill/contracts';
import type postgres from '#postgres';
import { isValidId, type RawRow, type StoreContext } from './context.js';
import { writeEvents } from './event-log.js';
import { notifyDue } from './notify.js';
import { closeAttempt, holdsFence, lockTask } from './task-rows.js';
import { inTransaction, run } from './transaction.js';
import { creditParent } from './workflow.js';

/*
 * Operator and handler writes about one task: pause, resume, cancel, progress/checkpoint notes
 * and heartbeats. Each locks the task row (SELECT … FOR UPDATE) so it sees and changes one
 * consistent version.
 */

async function lockOrThrow(tx: postgres.TransactionSql, ctx: StoreContext, taskId: TaskId): Promise<RawRow> {
  if (!isValidId(taskId)) throw new TaskNotFoundError(taskId);
  const row = await lockTask(tx, ctx.t, taskId);
  if (!row) throw new TaskNotFoundError(taskId);
  return row;
}

function assertTransition(row: RawRow, to: TaskStatus): TaskStatus {
  const from = row.status as TaskStatus;
  if (!canTransition(from, to)) throw new InvalidTransitionError(Number(row.id), from, to, row.worker_id ?? null);
  return from;
}

/** `pauseTask`: → paused from running/pending/failed/timeout; a running attempt closes as `paused`. */
export function pauseTask(ctx: StoreContext, taskId: TaskId, now: number): Promise<Task> {
  return inTransaction(ctx, 'pauseTask', async (tx) => {
    const row = await lockOrThrow(tx, ctx, taskId);
    const from = assertTransition(row, 'paused');
    const task = decodeTask(row);
    if (from === 'running') await closeAttempt(tx, ctx.t, task.id, null, { outcome: 'paused', now });
    await tx`UPDATE ${ctx.t.tasks} SET status = 'paused', last_active_time = ${now} WHERE id = ${task.id}`;
    await writeEvents(tx, ctx.t, [events.paused(task, from, now)]);
    return reload(tx, ctx, task.id);
  });
}

/**
 * `resumeTask`: → pending, due now, retry_count 0. From suspended the stage advances and the
 * children results reset; from anything else the stage resets to 0.
 */
export function resumeTask(
  ctx: StoreContext,
  taskId: TaskId,
  options: { resume_reason?: string },
  now: number,
): Promise<Task> {
  return inTransaction(ctx, 'resumeTask', async (tx) => {
    const row = await lockOrThrow(tx, ctx, taskId);
    const from = assertTransition(row, 'pending');
    const task = decodeTask(row);
    const fromSuspended = from === 'suspended';
    const newStage = fromSuspended ? task.stage + 1 : 0;
    if (from === 'running') await closeAttempt(tx, ctx.t, task.id, null, { outcome: 'pending', now });
    const children = fromSuspended ? tx`, children_results = ''` : tx``;
    await tx`
      UPDATE ${ctx.t.tasks}
      SET status = 'pending', stage = ${newStage}, retry_count = 0, next_run_time = ${now},
          suspend_reason = NULL, last_active_time = ${now} ${children}
      WHERE id = ${task.id}`;
    const reason = options?.resume_reason ?? 'manual';
    await writeEvents(tx, ctx.t, [events.resumed(task, from, newStage, reason, now)]);
    await notifyDue(tx, ctx);
    return reload(tx, ctx, task.id);
  });
}

/**
 * `cancelTask`: → permanently_failed from any non-final status; a running attempt closes as
 * `cancelled`; a child is credited to its parent in the same transaction.
 */
export function cancelTask(ctx: StoreContext, taskId: TaskId, options: { reason?: string }, now: number): Promise<Task> {
  return inTransaction(ctx, 'cancelTask', async (tx) => {
    const row = await lockOrThrow(tx, ctx, taskId);
    const from = assertTransition(row, 'permanently_failed');
    const task = decodeTask(row);
    const reason = options?.reason ?? 'Task cancelled';
    if (from === 'running') await closeAttempt(tx, ctx.t, task.id, null, { outcome: 'cancelled', error: reason, now });
    const [updated] = await tx`
      UPDATE ${ctx.t.tasks}
      SET status = 'permanently_failed', error = ${reason}, suspend_reason = NULL, last_active_time = ${now}
      WHERE id = ${task.id} RETURNING *`;
    await writeEvents(tx, ctx.t, [events.cancelled(task, from, reason, now)]);
    if (await creditParent(tx, ctx, updated, { task_id: task.id, error: reason }, now)) await notifyDue(tx, ctx);
    return reload(tx, ctx, task.id);
  });
}

/**
 * Write a `task_progress`/`task_checkpoint` event. With a fence the task must still be running
 * under it (`NotOwnerError` otherwise); progress also updates the snapshot columns.
 */
export function recordTaskNote(
  ctx: StoreContext,
  taskId: TaskId,
  fence: Fence | null,
  note: TaskNoteInput,
  now: number,
): Promise<number> {
  return inTransaction(ctx, 'recordTaskNote', async (tx) => {
    const row = await lockOrThrow(tx, ctx, taskId);
    if (fence && !holdsFence(row, fence)) throw new NotOwnerError(Number(row.id), fence.worker_id);
    const task = decodeTask(row);
    if (note.event_type === 'task_progress') {
      const p = note.progress ?? {};
      const sets = [tx`last_active_time = ${now}`];
      if (p.current_stage_name !== undefined) sets.push(tx`current_stage_name = ${p.current_stage_name}`);
      if (p.progress_text !== undefined) sets.push(tx`progress_text = ${p.progress_text}`);
      if (p.progress_percent !== undefined) sets.push(tx`progress_percent = ${p.progress_percent}`);
      const assignments = sets.reduce((acc, s) => tx`${acc}, ${s}`);
      await tx`UPDATE ${ctx.t.tasks} SET ${assignments} WHERE id = ${task.id}`;
    }
    const draft = events.note(
      task,
      note.event_type,
      note.message,
      note.metadata ?? {},
      fence ? fence.attempt : null,
      fence ? fence.worker_id : null,
      note.stage,
      now,
    );
    const [id] = await writeEvents(tx, ctx.t, [draft]);
    return id;
  });
}

/**
 * Refresh `last_active_time` of the tasks the fences still hold, in one statement; returns the
 * ids whose fence no longer holds (their handlers should be aborted).
 */
export async function heartbeatTasks(ctx: StoreContext, fences: Fence[], now: number): Promise<TaskId[]> {
  if (!Array.isArray(fences) || fences.length === 0) return [];
  const valid = fences.filter((f) => isValidId(f.task_id));
  const held = new Set<number>();
  if (valid.length > 0) {
    const rows = await run('heartbeatTasks', () => ctx.sql`
      UPDATE ${ctx.t.tasks} AS task SET last_active_time = ${now}
      FROM unnest(${valid.map((f) => f.task_id)}::int8[], ${valid.map((f) => f.worker_id)}::text[],
                  ${valid.map((f) => f.attempt)}::int4[]) AS f(id, worker_id, attempt)
      WHERE task.id = f.id AND task.status = 'running' AND task.worker_id = f.worker_id
        AND task.attempt = f.attempt
      RETURNING task.id`);
    for (const r of rows) held.add(Number(r.id));
  }
  return fences.filter((f) => !held.has(f.task_id)).map((f) => f.task_id);
}

async function reload(tx: postgres.TransactionSql, ctx: StoreContext, id: number): Promise<Task> {
  const [row] = await tx`SELECT * FROM ${ctx.t.tasks} WHERE id = ${id}`;
  return decodeTask(row);
}
