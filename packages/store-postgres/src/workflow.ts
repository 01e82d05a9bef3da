import { type ChildResult, decodeTask, encodeChildResult, events, type NewChildTask } from '@taskmill/contracts';
import type { Queryable, RawRow, StoreContext } from './context.js';
import { writeEvents } from './event-log.js';

/*
 * Parent/child bookkeeping (SPEC A9, B4). Everything here runs inside the transaction of the
 * change that triggers it, with the child's row already locked by that transaction.
 */

/**
 * Credit a finished child to its parent, exactly once: the child's `parent_credited` flag is
 * flipped by a guarded UPDATE (the child row is locked, so no concurrent transaction can credit
 * it too), then the parent is bumped with an atomic `completed_children + 1 … RETURNING`, which
 * serialises concurrent siblings on the parent's row lock: exactly one of them sees the last
 * count and resumes the parent. Returns true when the parent became due (notify).
 */
export async function creditParent(
  tx: Queryable,
  ctx: StoreContext,
  child: RawRow,
  entry: ChildResult,
  now: number,
): Promise<boolean> {
  if (child.parent_id === null || child.parent_id === undefined) return false;
  const { t } = ctx;
  const flipped = await tx`
    UPDATE ${t.tasks} SET parent_credited = TRUE
    WHERE id = ${Number(child.id)} AND parent_credited = FALSE
    RETURNING id`;
  if (flipped.length === 0) return false;
  const [parent] = await tx`
    UPDATE ${t.tasks}
    SET completed_children = completed_children + 1,
        children_results = COALESCE(children_results, '') || ${encodeChildResult(entry)}
    WHERE id = ${Number(child.parent_id)}
    RETURNING *`;
  if (!parent) return false;
  const total = Number(parent.total_children);
  const done = Number(parent.completed_children);
  if (parent.status !== 'suspended' || parent.suspend_reason !== 'awaiting_subtasks' || total <= 0 || done < total) {
    return false;
  }
  await resumeAfterChildren(tx, ctx, parent, now);
  return true;
}

/** Parent whose children all finished → `pending`, stage + 1, due now (event `childrenCompleted`). */
export async function resumeAfterChildren(tx: Queryable, ctx: StoreContext, parent: RawRow, now: number): Promise<RawRow> {
  const newStage = Number(parent.stage) + 1;
  const [row] = await tx`
    UPDATE ${ctx.t.tasks}
    SET status = 'pending', stage = ${newStage}, suspend_reason = NULL, next_run_time = ${now},
        last_active_time = ${now}
    WHERE id = ${Number(parent.id)}
    RETURNING *`;
  await writeEvents(tx, ctx.t, [events.childrenCompleted(decodeTask(parent), newStage, now)]);
  return row;
}

/**
 * Insert the children of a `next()` as pending async tasks due now, with their `task_created`
 * events. Returns their ids in definition order.
 */
export async function insertChildren(
  tx: Queryable,
  ctx: StoreContext,
  parent: RawRow,
  children: NewChildTask[],
  now: number,
): Promise<number[]> {
  if (children.length === 0) return [];
  const parentId = Number(parent.id);
  const rootId = parent.root_id === null ? parentId : Number(parent.root_id);
  const rows = children.map((c) => ({
    name: c.name,
    type: 'async',
    priority: c.priority,
    payload: c.payload ?? null,
    created_at: now,
    tag: c.tag ?? null,
    status: 'pending',
    next_run_time: now,
    timeout: c.timeout,
    max_retries: c.max_retries,
    retry_interval: c.retry_interval,
    root_id: rootId,
    parent_id: parentId,
  }));
  const inserted = await tx`INSERT INTO ${ctx.t.tasks} ${tx(rows)} RETURNING *`;
  const sorted = [...inserted].sort((a, b) => Number(a.id) - Number(b.id));
  await writeEvents(
    tx,
    ctx.t,
    sorted.map((row) => events.created(decodeTask(row), 'pending', now)),
  );
  return sorted.map((row) => Number(row.id));
}
