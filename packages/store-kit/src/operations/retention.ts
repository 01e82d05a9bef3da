import type { PurgeInput, PurgeResult } from '@taskmill/contracts';
import type { StoreWriter } from '../statements.js';
import { checkStatusList } from '../filters.js';

/** One retention batch (docs/behaviour.md#retention). */
export async function purgeExpiredTasks(tx: StoreWriter, input: PurgeInput): Promise<PurgeResult> {
  const statuses = checkStatusList(input.statuses);
  const limit = Math.floor(Number(input.limit));
  if (statuses.length === 0 || !(limit > 0)) return { tasks_deleted: 0, events_deleted: 0, attempts_deleted: 0, has_more: false };
  if (input.exclusive === true && !(await tx.tryLockRetention())) {
    return { tasks_deleted: 0, events_deleted: 0, attempts_deleted: 0, has_more: false, busy: true };
  }
  const ids = await tx.selectExpiredTaskIds(statuses, input.before, limit);
  const counts = ids.length > 0 ? await tx.deleteTasksWithAudit(ids) : { tasks: 0, events: 0, attempts: 0 };
  return { tasks_deleted: counts.tasks, events_deleted: counts.events, attempts_deleted: counts.attempts, has_more: ids.length === limit };
}
