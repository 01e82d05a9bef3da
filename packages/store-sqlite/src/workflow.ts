import { encodeChildResult, events, parseJson, type NewChildTask, type Task, type TaskId } from '@taskmill/contracts';
import { insertTask } from './create-tasks.js';
import { toBlob, type Sql } from './sql.js';
import { closeAttempt, readTask, writeEvent, writeEvents } from './task-writes.js';

/*
 * Parent/child workflows (SPEC A9, B4): spawning children from a running parent, and crediting a
 * finished child to its parent exactly once. Both run inside the caller's write transaction.
 */

/**
 * The running, fenced `parent` returned `next(children, context?)`: insert the children, suspend
 * the parent awaiting them — or, with no children, resume it at once at stage + 1.
 */
export function spawnChildren(
  sql: Sql,
  parent: Task,
  children: NewChildTask[],
  context: Uint8Array | null | undefined,
  now: number,
): TaskId[] {
  const rootId = parent.root_id ?? parent.id;
  const childIds = children.map((child) =>
    insertTask(
      sql,
      { ...child, type: 'async', next_run_time: now, cron_expr: null, cron_tz: null, root_id: rootId, parent_id: parent.id },
      now,
    ),
  );

  const contextBlob = context ? toBlob(context) : null;
  sql.run(
    `UPDATE taskmill_tasks
     SET status = 'suspended', suspend_reason = 'awaiting_subtasks', total_children = total_children + ?,
         children_results = '', context = CASE WHEN ? IS NULL THEN context ELSE ? END, last_active_time = ?
     WHERE id = ?`,
    children.length,
    contextBlob,
    contextBlob,
    now,
    parent.id,
  );
  closeAttempt(sql, parent.id, now, 'suspended');
  writeEvents(
    sql,
    events.spawned(
      parent,
      childIds,
      children.map((child) => child.name),
      now,
    ),
  );
  if (children.length === 0) resumeParent(sql, readTask(sql, parent.id)!, now);
  return childIds;
}

/**
 * Credit a child that reached a final state (completed, or permanently failed / cancelled) to its
 * parent, exactly once: the child's `parent_credited` flag is flipped by a guarded UPDATE first.
 * The parent resumes when this was the last outstanding child of its batch.
 */
export function creditParent(sql: Sql, child: Task, now: number): void {
  if (child.parent_id === null) return;
  const flipped = sql.run('UPDATE taskmill_tasks SET parent_credited = 1 WHERE id = ? AND parent_credited = 0', child.id);
  if (flipped.changes === 0) return;
  const raw = sql.get('SELECT result, error FROM taskmill_tasks WHERE id = ?', child.id)!;
  const line = encodeChildResult(
    child.status === 'completed'
      ? { task_id: child.id, result: parseJson(raw.result) }
      : { task_id: child.id, error: raw.error === null || raw.error === undefined ? '' : String(raw.error) },
  );
  const updated = sql.run(
    `UPDATE taskmill_tasks
     SET completed_children = completed_children + 1, children_results = COALESCE(children_results, '') || ?
     WHERE id = ?`,
    line,
    child.parent_id,
  );
  if (updated.changes === 0) return;
  const parent = readTask(sql, child.parent_id)!;
  if (
    parent.status === 'suspended' &&
    parent.suspend_reason === 'awaiting_subtasks' &&
    parent.completed_children === parent.total_children
  ) {
    resumeParent(sql, parent, now);
  }
}

/** A parent whose children all finished goes back to `pending` at stage + 1. */
function resumeParent(sql: Sql, parent: Task, now: number): void {
  const stage = parent.stage + 1;
  sql.run(
    `UPDATE taskmill_tasks
     SET status = 'pending', stage = ?, next_run_time = ?, suspend_reason = NULL, last_active_time = ?
     WHERE id = ? AND status = 'suspended'`,
    stage,
    now,
    now,
    parent.id,
  );
  writeEvent(sql, events.childrenCompleted(parent, stage, now));
}
