import { decodeTask, events, type ClaimRequest, type Task } from '@taskmill/contracts';
import { jsonList, type Sql } from './sql.js';
import { openAttempt, readTask, writeEvent, writeEvents } from './task-writes.js';

/*
 * Claiming on SQLite (SPEC A4, B5.8).
 *
 * SQLite has one writer at a time per database file, so the claim needs no row locks: the whole
 * claim runs in a `BEGIN IMMEDIATE` transaction, which takes the database's write (RESERVED) lock
 * *before* the candidate SELECT. From then until COMMIT no other connection — in this process or
 * another — can change any row, so the rows we read are exactly the rows we update, and two
 * claimers can never both see the same task as `pending`. A competing claimer blocks in
 * `BEGIN IMMEDIATE` (up to busy_timeout) and then sees our committed `running` rows. Taking the
 * lock up front (rather than a deferred BEGIN that upgrades on the first UPDATE) also avoids
 * SQLITE_BUSY_SNAPSHOT in WAL mode, where a reader whose snapshot is stale cannot become a writer.
 * The attempt rows and the claim events are written in the same transaction.
 * A superseded or dead worker claims nothing: its registry row is read (primary key) inside the
 * same IMMEDIATE transaction, so a supersede/reap either committed before (we see it) or waits
 * for our COMMIT (and recovery then sees the claimed tasks). No row (no registry in use) may claim.
 */

const CANDIDATES = `
  SELECT * FROM taskmill_tasks
  WHERE status IN ('pending', 'failed', 'timeout')
    AND next_run_time <= ?
    AND name IN (SELECT value FROM json_each(?))
  ORDER BY priority DESC, next_run_time ASC, id ASC`;

/** Claim up to `request.limit` due tasks; see `TaskStore.claimTasks`. Runs inside the caller's IMMEDIATE transaction. */
export function claimTasks(sql: Sql, request: ClaimRequest): Task[] {
  const caps = request.name_limits ?? {};
  const names = [...new Set(request.names)].filter((name) => !(name in caps) || caps[name] > 0);
  if (request.limit <= 0 || names.length === 0) return [];
  if (!mayClaim(sql, request.worker_id)) return [];

  const taken = new Map<string, number>();
  const picked: Task[] = [];
  for (const row of sql.all(CANDIDATES, request.now, jsonList(names))) {
    if (picked.length >= request.limit) break;
    const task = decodeTask(row);
    const cap = caps[task.name];
    const count = taken.get(task.name) ?? 0;
    if (cap !== undefined && count >= cap) continue;
    taken.set(task.name, count + 1);
    picked.push(task);
  }

  const claimed: Task[] = [];
  for (const candidate of picked) {
    const task = candidate.status === 'pending' ? candidate : promoteRetry(sql, candidate, request.now);
    const attempt = task.attempt + 1;
    sql.run(
      `UPDATE taskmill_tasks
       SET status = 'running', worker_id = ?, start_time = ?, last_active_time = ?, attempt = ?
       WHERE id = ? AND status = 'pending'`,
      request.worker_id,
      request.now,
      request.now,
      attempt,
      task.id,
    );
    openAttempt(sql, task.id, attempt, request.worker_id, request.now);
    writeEvents(sql, events.claimed(task, request.worker_id, attempt, task.retry_count, request.now));
    claimed.push(readTask(sql, task.id)!);
  }
  return claimed;
}

/** False when the worker's registry row exists and is not `active` (superseded or dead). */
function mayClaim(sql: Sql, workerId: string): boolean {
  const row = sql.get('SELECT status FROM taskmill_workers WHERE worker_id = ?', String(workerId));
  return !row || row.status === 'active';
}

/** A failed/timed-out task whose retry is due becomes `pending` again (SPEC B5.5 step 3). */
function promoteRetry(sql: Sql, task: Task, now: number): Task {
  const previous = task.status as 'failed' | 'timeout';
  const retryCount = task.retry_count + 1;
  sql.run(
    `UPDATE taskmill_tasks
     SET status = 'pending', retry_count = ?, stage = 0, result = NULL, context = NULL,
         children_results = NULL, last_active_time = ?
     WHERE id = ? AND status = ?`,
    retryCount,
    now,
    task.id,
    previous,
  );
  writeEvent(sql, events.retryScheduled(task, previous, retryCount, now));
  return readTask(sql, task.id)!;
}
