import type { Task } from '@taskmill/contracts';
import { CLAIM_ORDER_SQL, CLAIMABLE_STATUSES, decodeTask, TABLES, type ClaimPlan } from '@taskmill/store-kit';
import { exec, rows, type Conn } from './transaction.js';

/*
 * Claiming (docs/behaviour.md#claiming) — the hot statement of the MySQL store.
 *
 * MySQL and MariaDB have no `UPDATE … RETURNING`, so the candidates of a claim are taken, in the
 * claim's ONE transaction, in two steps:
 *
 *   1. peek (plain, non-locking read) at the first due candidates in claim order, one index
 *      range per claimable status:
 *        (SELECT id, name … WHERE status = 'pending' AND next_run_time <= now AND name IN (…)
 *          ORDER BY priority DESC, next_run_time, id LIMIT k) UNION ALL (… 'failed' …)
 *          UNION ALL (… 'timeout' …) ORDER BY priority DESC, next_run_time, id LIMIT k
 *   2. lock the chosen ones by primary key, re-checking the same conditions:
 *        SELECT * … WHERE id IN (chosen) AND <same conditions> FOR UPDATE SKIP LOCKED
 *      (repeat 1–2, skipping ids already tried, while slots are free and candidates remain)
 *
 * The kit then picks the batch and applies the claim changes (task-rows.ts: one guarded UPDATE
 * per task, then multi-row INSERTs of the open attempt rows and of the claim events).
 *
 The peek reads each claimable status on its own along `idx_task_claim_order (status, priority
 * DESC, next_run_time, id, name)` — an equality on status, then exactly the claim order — so each
 * branch stops after LIMIT index entries (covering: no row lookups) and the UNION ALL merges at
 * most 3 × LIMIT rows. With `status IN (…)` instead, no index delivers the order and MariaDB
 * sorted every due row ("Creating sort index"): a claim cost O(queue length), and with 200,000
 * pending tasks a worker ran fewer than 1,000 tasks in 110 s. (FORCE INDEX: without statistics
 * the optimizer may prefer a shorter index and sort.)
 *
 * Why two steps instead of one `ORDER BY … LIMIT n FOR UPDATE SKIP LOCKED`: InnoDB locks every
 * row a locking read examines, and a concurrent claim then skips them all and gets nothing
 * (measured on MariaDB 10.11: one claim of 10 locked all 40 due rows). Locking by primary key
 * only the rows we mean to take keeps concurrent claims from starving each other.
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
 * Caps (`plan.caps`) are applied when choosing among the peeked candidates, and a name whose cap
 * is filled leaves the peek of the next round, so each round reads at most `LIMIT k` index rows.
 *
 * A superseded or dead worker claims nothing: the transaction first reads the worker's registry
 * row by primary key `LOCK IN SHARE MODE` (spelled so for MariaDB 10.6+ and MySQL 8 alike), so a
 * concurrent supersede/reap of that row either committed before (the S lock waits for it and the
 * locking read sees the new status even at READ COMMITTED) or waits for our COMMIT (and recovery
 * then sees the claimed tasks); a reap's `FOR UPDATE SKIP LOCKED` passes over the row while a
 * claim holds it and reaps it on its next round. No row (no registry in use) may claim.
 */

/** Peek/lock rounds per claim before settling for what was taken. */
const MAX_ROUNDS = 8;

const T = TABLES.tasks;
const CLAIMABLE = [...CLAIMABLE_STATUSES];

/** False when the worker's registry row exists and is not `active` (share-locked: see above). */
export async function workerMayClaim(conn: Conn, workerId: string): Promise<boolean> {
  const [worker] = await rows(conn, `SELECT status FROM ${TABLES.workers} WHERE worker_id = ? LOCK IN SHARE MODE`, [workerId]);
  return !worker || worker.status === 'active';
}

/** Due candidates of a claim, locked (two steps, see above), enough to fill `plan.limit` under `plan.caps`. */
export async function claimCandidates(conn: Conn, plan: ClaimPlan): Promise<Task[]> {
  const taken = new Map<string, number>();
  const remaining = (name: string) => (plan.caps[name] ?? Infinity) - (taken.get(name) ?? 0);
  const tried: number[] = [];
  const locked: Task[] = [];
  for (let round = 0; round < MAX_ROUNDS && locked.length < plan.limit; round += 1) {
    const active = plan.names.filter((name) => remaining(name) > 0);
    if (active.length === 0) break;
    const want = plan.limit - locked.length;
    const peekSize = want * 2 + 8;
    const branch = (status: string) => ({
      sql: `(SELECT id, name, priority, next_run_time FROM ${T} FORCE INDEX (idx_task_claim_order)
        WHERE status = ? AND next_run_time <= ? AND name IN (?)${tried.length ? ' AND id NOT IN (?)' : ''}
        ORDER BY ${CLAIM_ORDER_SQL} LIMIT ?)`,
      params: tried.length ? [status, plan.now, active, tried, peekSize] : [status, plan.now, active, peekSize],
    });
    const branches = CLAIMABLE.map(branch);
    const peeked = await rows(
      conn,
      `${branches.map((b) => b.sql).join(' UNION ALL ')} ORDER BY ${CLAIM_ORDER_SQL} LIMIT ?`,
      [...branches.flatMap((b) => b.params), peekSize],
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
    const found = await rows(
      conn,
      `SELECT * FROM ${T}
        WHERE id IN (?) AND name IN (?) AND status IN (?) AND next_run_time <= ?
        FOR UPDATE SKIP LOCKED`,
      [chosen, active, CLAIMABLE, plan.now],
    );
    for (const row of found) {
      const task = decodeTask(row);
      taken.set(task.name, (taken.get(task.name) ?? 0) + 1);
      locked.push(task);
    }
  }
  return locked;
}

/** The lock rows of cluster-limited names (schema.ts `claimLocks`). */
const CLAIM_LOCKS = 'taskmill_claim_locks';

/**
 * Cluster-wide limits: an exclusive row lock per limited name, held until COMMIT. `INSERT … ON
 * DUPLICATE KEY UPDATE` creates a name's row on first use and otherwise X-locks the existing one
 * in the same statement (a plain `INSERT IGNORE` would take only a shared lock, and two claimers
 * upgrading shared locks deadlock); the rows are listed in the kit's sorted order, so claimers
 * lock them in one order. The running count read next is a fresh READ COMMITTED read taken after
 * the lock was granted: it includes every claim the previous holder committed.
 */
export async function lockClaimNames(conn: Conn, names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  await exec(conn, `INSERT INTO ${CLAIM_LOCKS} (name) VALUES ${names.map(() => '(?)').join(', ')} ON DUPLICATE KEY UPDATE name = name`, [...names]);
}

/** Running tasks per name. */
export async function countRunning(conn: Conn, names: readonly string[]): Promise<Record<string, number>> {
  const found = await rows(
    conn,
    `SELECT name, COUNT(*) AS n FROM ${T} WHERE status = 'running' AND name IN (${names.map(() => '?').join(', ')}) GROUP BY name`,
    [...names],
  );
  return Object.fromEntries(found.map((row) => [String(row.name), Number(row.n)]));
}
