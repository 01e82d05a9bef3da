import type { ClaimRequest, EventDraft, RawRow, Task } from '@taskmill/contracts';
import { decodeTask, events } from '@taskmill/contracts';
import { A, exec, insertEvents, rows, selectTasks, T, W } from './queries.js';
import type { Conn } from './transaction.js';

/*
 * Claiming (SPEC A4, B5.8, B8.2) — the hot statement of the MySQL store.
 *
 * MySQL and MariaDB have no `UPDATE … RETURNING`, so a claim is, in ONE transaction:
 *
 *   1. peek (plain, non-locking read) at the first due candidates in claim order:
 *        SELECT id, name … WHERE name IN (…) AND status IN ('pending','failed','timeout')
 *          AND next_run_time <= now ORDER BY priority DESC, next_run_time, id LIMIT k
 *   2. lock the chosen ones by primary key, re-checking the same conditions:
 *        SELECT * … WHERE id IN (chosen) AND <same conditions> FOR UPDATE SKIP LOCKED
 *      (repeat 1–2, skipping ids already tried, while slots are free and candidates remain)
 *   3. UPDATE … WHERE id IN (locked) — promote retries and mark running in one statement
 *   4. multi-row INSERTs of the open attempt rows and the claim events
 *   5. SELECT the claimed rows back.
 *
 * Why two steps instead of one `ORDER BY … LIMIT n FOR UPDATE SKIP LOCKED`: no index can
 * deliver `priority DESC, next_run_time ASC` for `name IN (…) AND status IN (…)` (and MariaDB
 * < 10.8 has no descending indexes), so the optimizer sorts, and InnoDB locks EVERY row it reads
 * before the sort and the LIMIT: one claim of 10 locked all 40 due rows, and a concurrent claim
 * skipped them all and got nothing (measured on MariaDB 10.11). Locking by primary key only
 * the rows we mean to take keeps concurrent claims from starving each other.
 *
 * Why this is safe: step 2 takes an exclusive lock on each row it returns, evaluated against the
 * latest committed version, and skips rows another transaction holds; the locks last until
 * COMMIT. So two claims never take the same task, never wait on each other, and nobody can change
 * a locked row before our UPDATE (which still re-checks the status as a belt-and-braces guard).
 * The peek may be stale; that only costs a skipped or unmatched row.
 *
 * Why READ COMMITTED (set by transaction.ts): under REPEATABLE READ locking reads also take
 * next-key/gap locks, and concurrent claims deadlocked on them in most rounds; at READ COMMITTED
 * InnoDB locks only matching rows (0 deadlocks in 40 rounds) and each statement reads fresh data.
 * A residual deadlock (e.g. with a concurrent child credit) rolls the transaction back and
 * transaction.ts runs the claim again, so it never reaches the caller.
 *
 * `name_limits` are applied in code when choosing among the peeked candidates.
 *
 * A superseded or dead worker claims nothing: the transaction first reads the worker's registry
 * row by primary key `LOCK IN SHARE MODE` (spelled so for MariaDB 10.6+ and MySQL 8 alike), so a
 * concurrent supersede/reap of that row either committed before (the S lock waits for it and the
 * locking read sees the new status even at READ COMMITTED) or waits for our COMMIT (and recovery
 * then sees the claimed tasks); a reap's `FOR UPDATE SKIP LOCKED` passes over the row while a
 * claim holds it and reaps it on its next round. No row (no registry in use) may claim.
 */

const CLAIMABLE = ['pending', 'failed', 'timeout'];
/** Peek/lock rounds per claim before settling for what was taken. */
const MAX_ROUNDS = 8;

function claimOrder(a: RawRow, b: RawRow): number {
  return (
    Number(b.priority) - Number(a.priority) || Number(a.next_run_time) - Number(b.next_run_time) || Number(a.id) - Number(b.id)
  );
}

async function pickCandidates(conn: Conn, request: ClaimRequest): Promise<RawRow[]> {
  const caps = request.name_limits ?? {};
  const taken = new Map<string, number>();
  const remaining = (name: string) =>
    (Object.prototype.hasOwnProperty.call(caps, name) ? Math.floor(caps[name]) : Infinity) - (taken.get(name) ?? 0);
  const names = [...new Set(request.names)];
  const tried: number[] = [];
  const picked: RawRow[] = [];
  for (let round = 0; round < MAX_ROUNDS && picked.length < request.limit; round += 1) {
    const active = names.filter((name) => remaining(name) > 0);
    if (active.length === 0) break;
    const want = request.limit - picked.length;
    const peekSize = want * 2 + 8;
    const peeked = await rows(
      conn,
      `SELECT id, name FROM ${T}
        WHERE name IN (?) AND status IN (?) AND next_run_time <= ?${tried.length ? ' AND id NOT IN (?)' : ''}
        ORDER BY priority DESC, next_run_time ASC, id ASC
        LIMIT ?`,
      tried.length ? [active, CLAIMABLE, request.now, tried, peekSize] : [active, CLAIMABLE, request.now, peekSize],
    );
    if (peeked.length === 0) break;
    const chosen: number[] = [];
    const tentative = new Map<string, number>();
    for (const row of peeked) {
      if (chosen.length >= want) break;
      const name = String(row.name);
      const used = tentative.get(name) ?? 0;
      if (used >= remaining(name)) continue;
      tentative.set(name, used + 1);
      chosen.push(Number(row.id));
    }
    tried.push(...chosen);
    const locked = await rows(
      conn,
      `SELECT * FROM ${T}
        WHERE id IN (?) AND name IN (?) AND status IN (?) AND next_run_time <= ?
        FOR UPDATE SKIP LOCKED`,
      [chosen, active, CLAIMABLE, request.now],
    );
    for (const row of locked) {
      const name = String(row.name);
      taken.set(name, (taken.get(name) ?? 0) + 1);
      picked.push(row);
    }
  }
  return picked.sort(claimOrder);
}

/** Claim up to `request.limit` due tasks for `request.worker_id` (caller's transaction). */
export async function claimTasks(conn: Conn, request: ClaimRequest): Promise<Task[]> {
  const [worker] = await rows(conn, `SELECT status FROM ${W} WHERE worker_id = ? LOCK IN SHARE MODE`, [request.worker_id]);
  if (worker && worker.status !== 'active') return [];
  const candidates = await pickCandidates(conn, request);
  if (candidates.length === 0) return [];
  const ids = candidates.map((r) => Number(r.id));
  const { now, worker_id } = request;
  // SET is evaluated left to right in MySQL: every column derived from the old status comes
  // before `status` itself (also correct under MariaDB's SIMULTANEOUS_ASSIGNMENT mode)
  const retrying = `status IN ('failed', 'timeout')`;
  const { affectedRows } = await exec(
    conn,
    `UPDATE ${T} SET
        retry_count = IF(${retrying}, retry_count + 1, retry_count),
        stage = IF(${retrying}, 0, stage),
        result = IF(${retrying}, NULL, result),
        context = IF(${retrying}, NULL, context),
        children_results = IF(${retrying}, NULL, children_results),
        attempt = attempt + 1,
        worker_id = ?, start_time = ?, last_active_time = ?,
        status = 'running'
      WHERE id IN (?) AND status IN (?)`,
    [worker_id, now, now, ids, CLAIMABLE],
  );
  if (affectedRows !== ids.length) {
    // impossible while we hold the row locks; fail loudly rather than hand out a task twice
    throw new Error(`claim updated ${affectedRows} of ${ids.length} locked rows`);
  }
  const drafts: EventDraft[] = [];
  const attempts: unknown[][] = [];
  for (const row of candidates) {
    const before = decodeTask(row);
    const attempt = before.attempt + 1;
    let retryCount = before.retry_count;
    if (before.status === 'failed' || before.status === 'timeout') {
      retryCount += 1;
      drafts.push(events.retryScheduled(before, before.status, retryCount, now));
    }
    const subject = { ...before, stage: retryCount !== before.retry_count ? 0 : before.stage };
    drafts.push(...events.claimed(subject, worker_id, attempt, retryCount, now));
    attempts.push([before.id, attempt, worker_id, now]);
  }
  await exec(conn, `INSERT INTO ${A} (task_id, attempt, worker_id, started_at) VALUES ?`, [attempts]);
  await insertEvents(conn, drafts);
  return selectTasks(conn, ids);
}
