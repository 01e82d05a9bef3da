import { decodeTask, events, type NewTask, type TaskId } from '@taskmill/contracts';
import type { StoreContext } from './context.js';
import { writeEvents } from './event-log.js';
import { notifyDue } from './notify.js';
import { inTransaction } from './transaction.js';

/**
 * Insert top-level pending tasks and their `task_created` events in one transaction (all or
 * nothing) with multi-row INSERTs; NOTIFY when one of them is due now. Ids in input order.
 */
export async function createTasks(ctx: StoreContext, tasks: NewTask[], now: number): Promise<TaskId[]> {
  if (!Array.isArray(tasks) || tasks.length === 0) return [];
  const rows = tasks.map((task) => ({
    name: task.name,
    type: task.type,
    priority: task.priority ?? 0,
    payload: task.payload ?? null,
    created_at: now,
    tag: task.tag ?? null,
    status: 'pending',
    next_run_time: task.next_run_time,
    timeout: task.timeout,
    max_retries: task.max_retries,
    retry_interval: task.retry_interval ?? 0,
    cron_expr: task.cron_expr ?? null,
    cron_tz: task.cron_tz ?? null,
    last_event_time: now,
    last_event_type: 'task_created',
  }));
  return inTransaction(ctx, 'createTasks', async (tx) => {
    const inserted = await tx`INSERT INTO ${ctx.t.tasks} ${tx(rows)} RETURNING *`;
    // Sequence values are drawn in VALUES order: ascending ids are the input order.
    const created = [...inserted].sort((a, b) => Number(a.id) - Number(b.id));
    await writeEvents(
      tx,
      ctx.t,
      created.map((row) => events.created(decodeTask(row), 'pending', now)),
      { touchTasks: false },
    );
    if (tasks.some((task) => task.next_run_time <= now)) await notifyDue(tx, ctx);
    return created.map((row) => Number(row.id));
  });
}
