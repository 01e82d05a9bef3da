import type { ChildResult, NewChildTask, RawRow, Task } from '@taskmill/contracts';
import { decodeTask, encodeChildResult, events, parseJson } from '@taskmill/contracts';
import { createdSubject, insertTaskRow, type TaskInsert } from './create.js';
import { exec, insertEvents, lockTaskRow, T, toBuffer, updateTask } from './queries.js';
import type { Conn } from './transaction.js';

/*
 * Workflows (SPEC A9, B4): spawning children and crediting a finished child to its parent.
 *
 * Crediting runs inside the child's final transaction, whose child row is already locked:
 *   1. flip the child's `parent_credited` 0 → 1 with a guarded UPDATE: only the first final
 *      transition of a child gets past it, so a child is counted exactly once;
 *   2. lock the parent with SELECT … FOR UPDATE: concurrent siblings queue on the parent row, so
 *      each reads the count its predecessor committed and exactly one sees the last child in;
 *   3. count it and append its outcome, and resume the parent if this was the last child.
 * Locks are always taken child first, then parent, so siblings cannot deadlock one another.
 */

/** The `children_results` entry of a child reaching a final status. */
export function childEntry(child: Task, status: 'completed' | 'permanently_failed', result: string | null, error: string | null): ChildResult {
  return status === 'completed' ? { task_id: child.id, result: parseJson(result) ?? null } : { task_id: child.id, error: error ?? '' };
}

/** Credit `child` to its parent exactly once, and resume the parent after its last child. */
export async function creditParent(conn: Conn, child: Task, entry: ChildResult, now: number): Promise<void> {
  if (child.parent_id === null) return;
  const flipped = await exec(conn, `UPDATE ${T} SET parent_credited = TRUE WHERE id = ? AND parent_credited = FALSE`, [child.id]);
  if (flipped.affectedRows === 0) return;
  const parentRow = await lockTaskRow(conn, child.parent_id);
  if (!parentRow) return;
  const parent = decodeTask(parentRow);
  const completed = parent.completed_children + 1;
  const resume =
    parent.status === 'suspended' &&
    parent.suspend_reason === 'awaiting_subtasks' &&
    parent.total_children > 0 &&
    completed >= parent.total_children;
  await exec(
    conn,
    `UPDATE ${T} SET completed_children = completed_children + 1, children_results = CONCAT(COALESCE(children_results, ''), ?) WHERE id = ?`,
    [encodeChildResult(entry), parent.id],
  );
  if (resume) await resumeAfterChildren(conn, parentRow, now);
}

/** suspended → pending at stage + 1, due now (all children finished, or `next([])`). */
async function resumeAfterChildren(conn: Conn, parentRow: RawRow, now: number): Promise<void> {
  const parent = decodeTask(parentRow);
  const stage = parent.stage + 1;
  await updateTask(conn, parent.id, {
    status: 'pending',
    stage,
    next_run_time: now,
    last_active_time: now,
    suspend_reason: null,
  });
  await insertEvents(conn, [events.childrenCompleted(parent, stage, now)]);
}

/**
 * `next(children, context?)`: suspend the (locked, fenced) parent and insert its children.
 * Returns the child ids in definition order.
 */
export async function spawnChildren(
  conn: Conn,
  parentRow: RawRow,
  children: NewChildTask[],
  context: Uint8Array | null | undefined,
  now: number,
): Promise<number[]> {
  const parent = decodeTask(parentRow);
  const rootId = parent.root_id ?? parent.id;
  const ids: number[] = [];
  const drafts = [];
  for (const child of children) {
    const insert: TaskInsert = {
      ...child,
      type: 'async',
      next_run_time: now,
      cron_expr: null,
      cron_tz: null,
      root_id: rootId,
      parent_id: parent.id,
    };
    const id = await insertTaskRow(conn, insert, now);
    ids.push(id);
    drafts.push(events.created(createdSubject(id, insert), 'pending', now));
  }
  const values: Record<string, unknown> = {
    status: 'suspended',
    suspend_reason: 'awaiting_subtasks',
    children_results: '',
    last_active_time: now,
  };
  if (context) values.context = toBuffer(context);
  await updateTask(conn, parent.id, values);
  await exec(conn, `UPDATE ${T} SET total_children = total_children + ? WHERE id = ?`, [children.length, parent.id]);
  drafts.push(...events.spawned(parent, ids, children.map((c) => c.name), now));
  await insertEvents(conn, drafts);
  if (children.length === 0) {
    const suspended = await lockTaskRow(conn, parent.id);
    if (suspended) await resumeAfterChildren(conn, suspended, now);
  }
  return ids;
}
