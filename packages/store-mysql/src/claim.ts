import type { Task } from '@taskmill/contracts';
import { CLAIM_ORDER_SQL, CLAIMABLE_STATUSES, compareClaimOrder, decodeTask, TABLES, type ClaimPlan } from '@taskmill/store-kit';
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
const A = TABLES.attempts;
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
    for (const task of await lockDue(conn, chosen, active, plan.now)) {
      taken.set(task.name, (taken.get(task.name) ?? 0) + 1);
      locked.push(task);
    }
  }
  return locked;
}

/** Step 2 of every claim read: lock the peeked rows by primary key, re-checking that they are still due candidates of these names. */
async function lockDue(conn: Conn, ids: readonly number[], names: readonly string[], now: number): Promise<Task[]> {
  if (ids.length === 0) return [];
  const found = await rows(
    conn,
    `SELECT * FROM ${T}
      WHERE id IN (?) AND name IN (?) AND status IN (?) AND next_run_time <= ?
      FOR UPDATE SKIP LOCKED`,
    [ids, names, CLAIMABLE, now],
  );
  return found.map(decodeTask);
}

/** The lock rows of serialised names (schema.ts `claimLocks`). */
const CLAIM_LOCKS = 'taskmill_claim_locks';

/**
 * Names whose claims the kit serialises (a cluster limit, a rate limit or a per-key limit): an
 * exclusive row lock per name, held until COMMIT. `INSERT … ON
 * DUPLICATE KEY UPDATE` creates a name's row on first use and otherwise X-locks the existing one
 * in the same statement (a plain `INSERT IGNORE` would take only a shared lock, and two claimers
 * upgrading shared locks deadlock); the rows are listed in the kit's sorted order, so claimers
 * lock them in one order. The counts read next (running tasks, running tasks per key, attempt
 * starts) are fresh READ COMMITTED reads taken after the lock was granted: they include every
 * claim the previous holder committed.
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

/*
 * Flow control (docs/behaviour.md#flow-control): the reads a claim of a paused, rate-limited or
 * keyed name makes, after `lockClaimNames` took the name's lock.
 *
 * A keyed name's claim visits its keys in key order from a cursor, one index probe per key, and
 * takes the first due tasks of each visited key. All of it runs along `idx_task_claim_key (name,
 * claim_key, priority DESC, next_run_time, id)`, where `claim_key` is NULL for tasks that are not
 * claimable, '' for claimable tasks without a key and 'k' + the key's bytes for keyed ones
 * (schema.ts says why):
 *
 *   1. the next key: SELECT MIN(claim_key) … WHERE name = ? AND claim_key > ?  — answered from the
 *      index by one dive while the statement is optimised ("Select tables optimized away"), never
 *      by reading the key's rows; repeated from each key found, up to `visit` keys;
 *   2. the due tasks of those keys, a branch per key, each an equality on (name, claim_key) and
 *      so exactly the claim order, stopping after `per_key` due index entries (covering; a key's
 *      tasks of a higher priority that are not due yet come first and are passed over, as in the
 *      claim above):
 *        (SELECT id, claim_key … WHERE name = ? AND claim_key = ? AND next_run_time <= ?
 *           ORDER BY priority DESC, next_run_time, id LIMIT ?) UNION ALL (…next key…)
 *   3. lock them by primary key FOR UPDATE SKIP LOCKED, as the claim above does (and for the
 *      same reason); a key whose rows another transaction holds is peeked again past them.
 *
 * Step 1 costs a round trip per key (0.5–1 ms each on a busy 2-core test server). One statement
 * cannot do it on MariaDB 10.11: the step of a `WITH RECURSIVE` loose scan is a subquery
 * correlated with the key before, and MariaDB plans a correlated subquery once, as a read of the
 * name's whole range (`ref` on name) filtered by `claim_key > previous`, never as a range starting
 * at the outer value; with a million tasks of one name, 20 keys took 5.4 s that way. Its own loose
 * index scan for `GROUP BY` ("Using index for group-by") is not used on an index with a DESC part,
 * and elsewhere is a cost-based choice that reads every row of the keys when it is not made. The
 * probes run while the name's claim lock is held, so they delay only the next claim of that name.
 */

/** The prefix of a keyed task's `claim_key`; an unkeyed claimable task's is empty. */
const KEYED = Buffer.from('k');
const UNKEYED = Buffer.alloc(0);

/** Peek/lock rounds of one keyed or unkeyed read before settling for what was locked. */
const FLOW_ROUNDS = 4;

/** `claim_key` of a claimable task of this key (schema.ts `claim_key`). */
function claimKeyOf(key: string): Buffer {
  return Buffer.concat([KEYED, Buffer.from(key, 'utf8')]);
}

/** A VARBINARY value as mysql2 returns it (a Buffer), or as bytes whatever it came as. */
function bytesOf(value: unknown): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(String(value), 'utf8');
}

/** Which of these names are paused (a primary-key lookup each). */
export async function pausedAmong(conn: Conn, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const found = await rows(conn, `SELECT name FROM ${TABLES.pausedNames} WHERE name IN (?)`, [[...names]]);
  return found.map((row) => String(row.name));
}

/**
 * Attempt starts of the name since `since` (exclusive) and the `max`-th latest of them, in one
 * statement along `idx_task_attempts_name_started (name, started_at)`: a covering range for the
 * count, read backwards from the newest for the offset.
 */
export async function countStarts(conn: Conn, name: string, since: number, max: number): Promise<{ count: number; max_th_latest: number | null }> {
  const [row] = await rows(
    conn,
    `SELECT
       (SELECT COUNT(*) FROM ${A} FORCE INDEX (idx_task_attempts_name_started) WHERE name = ? AND started_at > ?) AS count,
       (SELECT started_at FROM ${A} FORCE INDEX (idx_task_attempts_name_started) WHERE name = ? AND started_at > ?
         ORDER BY started_at DESC LIMIT 1 OFFSET ?) AS max_th_latest`,
    [name, since, name, since, Math.max(0, Math.floor(max) - 1)],
  );
  return { count: Number(row?.count ?? 0), max_th_latest: row?.max_th_latest === null || row?.max_th_latest === undefined ? null : Number(row.max_th_latest) };
}

/**
 * Running tasks of the name per key, read along `idx_task_claim_name (name, status, …)`: only the
 * name's running rows (forced: the optimiser otherwise may take `idx_task_timeout`, the running
 * rows of every name). Grouped by the key's bytes, so keys that differ in trailing spaces stay apart.
 */
export async function countRunningByKey(conn: Conn, name: string): Promise<Record<string, number>> {
  const found = await rows(
    conn,
    `SELECT CAST(concurrency_key AS BINARY) AS k, COUNT(*) AS n FROM ${T} FORCE INDEX (idx_task_claim_name)
      WHERE name = ? AND status = 'running' AND concurrency_key IS NOT NULL GROUP BY k`,
    [name],
  );
  const running: Record<string, number> = {};
  for (const row of found) {
    const bytes = row.k as Buffer | string;
    running[Buffer.isBuffer(bytes) ? bytes.toString('utf8') : String(bytes)] = Number(row.n);
  }
  return running;
}

/** The next keys of a keyed name and their due tasks, locked (steps 1–3 above). */
export async function keyedCandidates(
  conn: Conn,
  name: string,
  now: number,
  after: string | null,
  visit: number,
  perKey: number,
): Promise<{ keys: string[]; tasks: Task[] }> {
  const claimKeys: Buffer[] = [];
  let from = after === null ? UNKEYED : claimKeyOf(after);
  while (claimKeys.length < visit) {
    const [row] = await rows(conn, `SELECT MIN(claim_key) AS k FROM ${T} FORCE INDEX (idx_task_claim_key) WHERE name = ? AND claim_key > ?`, [
      name,
      from,
    ]);
    if (row?.k === null || row?.k === undefined) break;
    from = bytesOf(row.k);
    claimKeys.push(from);
  }
  const keys = claimKeys.map((claimKey) => claimKey.subarray(KEYED.length).toString('utf8'));
  if (claimKeys.length === 0 || !(perKey >= 1)) return { keys, tasks: [] };

  // per key: how many more of its tasks to lock; -1 once a peek of it came back short
  const room = claimKeys.map(() => Math.floor(perKey));
  const indexOf = new Map(claimKeys.map((claimKey, i) => [claimKey.toString('hex'), i]));
  const tried: number[] = [];
  const tasks: Task[] = [];
  for (let round = 0; round < FLOW_ROUNDS; round += 1) {
    const open = claimKeys.flatMap((_, i) => (room[i] > 0 ? [i] : []));
    if (open.length === 0) break;
    const skip = tried.length > 0 ? ' AND id NOT IN (?)' : '';
    const branches = open.map(
      () => `(SELECT id, claim_key FROM ${T} FORCE INDEX (idx_task_claim_key)
        WHERE name = ? AND claim_key = ? AND next_run_time <= ?${skip} ORDER BY ${CLAIM_ORDER_SQL} LIMIT ?)`,
    );
    const params = open.flatMap((i) => [name, claimKeys[i], now, ...(skip ? [tried] : []), room[i]]);
    const peeked = await rows(conn, branches.join(' UNION ALL '), params);
    const seen = new Map<number, number>();
    for (const row of peeked) {
      const i = indexOf.get(bytesOf(row.claim_key).toString('hex'))!;
      seen.set(i, (seen.get(i) ?? 0) + 1);
    }
    // a key whose peek came back short has nothing more due: whatever of it is not locked now, another holds
    for (const i of open) if ((seen.get(i) ?? 0) < room[i]) room[i] = -1;
    const ids = peeked.map((row) => Number(row.id));
    tried.push(...ids);
    const locked = await lockDue(conn, ids, [name], now);
    for (const task of locked) {
      const i = task.concurrency_key === null ? undefined : indexOf.get(claimKeyOf(task.concurrency_key).toString('hex'));
      if (i !== undefined && room[i] > 0) room[i] -= 1;
      tasks.push(task);
    }
    if (locked.length === ids.length) break;
  }
  return { keys, tasks };
}

/** Due claimable tasks of the name without a key, in claim order, at most `limit`, locked (steps 2–3 above, on claim_key ''). */
export async function unkeyedCandidates(conn: Conn, name: string, now: number, limit: number): Promise<Task[]> {
  const tried: number[] = [];
  const tasks: Task[] = [];
  for (let round = 0; round < FLOW_ROUNDS && tasks.length < limit; round += 1) {
    const want = limit - tasks.length;
    const skip = tried.length > 0 ? ' AND id NOT IN (?)' : '';
    const peeked = await rows(
      conn,
      `SELECT id FROM ${T} FORCE INDEX (idx_task_claim_key)
        WHERE name = ? AND claim_key = ? AND next_run_time <= ?${skip} ORDER BY ${CLAIM_ORDER_SQL} LIMIT ?`,
      [name, UNKEYED, now, ...(skip ? [tried] : []), want],
    );
    const ids = peeked.map((row) => Number(row.id));
    tried.push(...ids);
    const locked = await lockDue(conn, ids, [name], now);
    tasks.push(...locked);
    // a short peek saw every due task left; a full lock took all it saw
    if (ids.length < want || locked.length === ids.length) break;
  }
  return tasks.sort(compareClaimOrder);
}
