import type { Task } from '@taskmill/contracts';
import { CLAIM_ORDER_SQL, CLAIMABLE_STATUSES, type ClaimPlan, decodeTask } from '@taskmill/store-kit';
import type { Fragment } from './connection.js';
import type { Db } from './transaction.js';

/*
 * Claiming (docs/behaviour.md#claiming), graphile-worker style, in one READ COMMITTED transaction:
 *
 *   SELECT status FROM taskmill_workers WHERE worker_id = $w FOR SHARE          -- workerMayClaim
 *   SELECT * FROM taskmill_tasks WHERE name = ANY($names) AND claimable AND due
 *     ORDER BY priority DESC, next_run_time ASC, id ASC LIMIT $n
 *     FOR UPDATE SKIP LOCKED                                                     -- claimCandidates
 *   UPDATE taskmill_tasks SET status = 'running', … WHERE id = $id AND status = $seen  -- kit's applyChanges
 *   INSERT INTO taskmill_task_attempts …; INSERT INTO taskmill_task_events …
 *
 * Why this locking is right:
 * - `FOR UPDATE` row-locks exactly the candidate rows before the kit picks the batch, so two
 *   workers can never take the same task: the second one either skips the row (SKIP LOCKED) or,
 *   at READ COMMITTED, re-checks the row's newest version and drops it when it is no longer
 *   claimable. The kit's UPDATE of each picked row is also guarded by the status it was read
 *   with, so a change that slipped in anyway would leave the row alone.
 * - `SKIP LOCKED` makes concurrent claimers walk past each other's candidates instead of
 *   queueing behind them: N workers claiming at once each get a disjoint batch with no lock
 *   waits and no serialization failures (measured: 4 stores × 2,000 tasks, every task claimed
 *   exactly once, see test/postgres-store.test.ts).
 * - The candidate query is an `ORDER BY … LIMIT` over a partial index of the claimable statuses
 *   whose order is exactly CLAIM_ORDER_SQL: idx_task_scheduling (priority DESC, next_run_time,
 *   id) for several names, idx_task_claim_name (name, then the same) for one name. The scan
 *   stops after the first due rows however long the queue is, and locks only those
 *   (test/postgres-store.test.ts checks the plans).
 * - The row UPDATEs, attempt rows and claim events are pipelined statements and multi-row
 *   INSERTs in the same transaction, so a claim and its audit rows commit together or not at all.
 *
 * A superseded or dead worker claims nothing: the transaction first reads the worker's registry
 * row by primary key `FOR SHARE`, so a concurrent supersede/reap UPDATE of that row either
 * committed before (the lock waits for it and we read the new status) or waits for our COMMIT
 * (and recovery then sees the claimed tasks); a reap's `FOR UPDATE SKIP LOCKED` passes over the
 * row while a claim holds it and reaps it on its next round. No row (no registry in use) may claim.
 *
 * With per-name caps (`name_limits`) one ORDER BY … LIMIT cannot express the caps, so each capped
 * name is locked with its own `LIMIT cap … FOR UPDATE SKIP LOCKED` (and the uncapped names
 * together with `LIMIT limit`); the kit chooses the batch from the union in claim order. The few
 * locked rows that were not chosen are released at commit.
 */

/**
 * The claimable statuses as literals, not bound parameters: the partial index's predicate must be
 * provably implied by the query, which a generic plan of a prepared statement cannot do with
 * parameters. The values are the kit's constants, never user input.
 */
export const CLAIMABLE_SQL = `status IN (${CLAIMABLE_STATUSES.map((status) => `'${status}'`).join(', ')})`;

/** False when the worker's registry row exists and is not `active`; the row stays share-locked until commit. */
export async function workerMayClaim(db: Db, workerId: string): Promise<boolean> {
  const [worker] = await db.sql`SELECT status FROM ${db.t.workers} WHERE worker_id = ${workerId} FOR SHARE`;
  return !worker || worker.status === 'active';
}

/**
 * `name = $1` for one name: an ordered scan of idx_task_claim_name, where `name = ANY($1)` would
 * read every due row of the name and sort them.
 */
function nameIn(db: Db, names: string[]): Fragment {
  return names.length === 1 ? db.sql`name = ${names[0]}` : db.sql`name = ANY(${names}::text[])`;
}

/** Due candidates of a claim in claim order, locked, at most `limit` (and `cap` per capped name). */
export async function claimCandidates(db: Db, plan: ClaimPlan): Promise<Task[]> {
  const { sql, t } = db;
  const uncapped = plan.names.filter((name) => plan.caps[name] === undefined);
  const groups: Array<[string[], number]> = plan.names.filter((name) => plan.caps[name] !== undefined).map((name) => [[name], plan.caps[name]]);
  if (uncapped.length > 0) groups.unshift([uncapped, plan.limit]);
  const found = await Promise.all(
    groups.map(
      ([names, limit]) => sql`
        SELECT * FROM ${t.tasks}
        WHERE ${nameIn(db, names)} AND ${sql.unsafe(CLAIMABLE_SQL)} AND next_run_time <= ${plan.now}
        ORDER BY ${sql.unsafe(CLAIM_ORDER_SQL)}
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED`,
    ),
  );
  return found.flat().map(decodeTask);
}

/**
 * Cluster-wide limits: a transaction-scoped advisory lock per limited name (keyed by the schema's
 * channel and the name, taken in the kit's sorted order so two claimers never wait on each other
 * in a cycle), held until COMMIT. The running count read next is a new READ COMMITTED snapshot
 * taken after the lock was granted, so it includes every claim the previous holder committed, and
 * no other claimer of the name can commit in between. Finishes take no such lock: a count that is
 * briefly too high only makes a claim take less. Two names whose keys collide in the 64-bit hash
 * merely share a lock.
 */
export async function lockClaimNames(db: Db, names: readonly string[]): Promise<void> {
  for (const name of names) {
    await db.sql`SELECT pg_advisory_xact_lock(hashtextextended(${`${db.channel}:${name}`}, 0))`;
  }
}

/**
 * Run a count over the running rows as an index scan, never a bitmap scan: the partial index of
 * running rows gets a dead entry for every task that has finished since the last VACUUM, and only
 * an index scan marks those entries dead as it passes (so the next count skips them); a bitmap
 * heap scan visits all of them again on every claim (measured: 167,580 entries and 247 ms a count
 * late in a 200,000-task keyed drain, 0.1 ms as an index scan). `SET LOCAL` sent with the count,
 * pipelined, and set back after it, so nothing else in the transaction is affected.
 */
async function withoutBitmapScans<T>(db: Db, query: PromiseLike<T>): Promise<T> {
  const [, rows] = await Promise.all([db.sql`SET LOCAL enable_bitmapscan = off`, query, db.sql`SET LOCAL enable_bitmapscan = DEFAULT`]);
  return rows;
}

/** Running tasks per name (through the partial index of running rows). */
export async function countRunning(db: Db, names: readonly string[]): Promise<Record<string, number>> {
  const rows = await withoutBitmapScans(
    db,
    db.sql`
    SELECT name, COUNT(*)::int AS n FROM ${db.t.tasks}
    WHERE status = 'running' AND name = ANY(${names as string[]}::text[])
    GROUP BY name`,
  );
  return Object.fromEntries(rows.map((row) => [String(row.name), Number(row.n)]));
}

/*
 * Flow control (docs/behaviour.md#flow-control): the kit decides every rule; these statements only
 * count and find. Each reads one index range, whatever the size of the queue.
 */

/** Which of these names are paused (primary-key lookups of `taskmill_paused_names`). */
export async function pausedAmong(db: Db, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const rows = await db.sql`SELECT name FROM ${db.t.pausedNames} WHERE name = ANY(${names as string[]}::text[])`;
  return rows.map((row) => String(row.name));
}

/**
 * Starts of the name in the window `(since, …)` and the `max`-th latest of them, in one statement:
 * two ranges of idx_task_attempts_name_started (the count, and a backward walk that stops at the
 * `max`-th entry), never the name's older attempts.
 */
export async function countStarts(db: Db, name: string, since: number, max: number): Promise<{ count: number; max_th_latest: number | null }> {
  const { sql, t } = db;
  const [row] = await sql`
    SELECT
      (SELECT count(*)::int FROM ${t.attempts} WHERE name = ${name} AND started_at > ${since}) AS count,
      (SELECT started_at FROM ${t.attempts} WHERE name = ${name} AND started_at > ${since}
        ORDER BY started_at DESC LIMIT 1 OFFSET ${Math.max(1, max) - 1}) AS max_th_latest`;
  return { count: Number(row.count), max_th_latest: row.max_th_latest === null ? null : Number(row.max_th_latest) };
}

/** Running tasks of the name per non-null key (through the partial index of running rows). */
export async function countRunningByKey(db: Db, name: string): Promise<Record<string, number>> {
  const rows = await withoutBitmapScans(
    db,
    db.sql`
    SELECT concurrency_key AS key, COUNT(*)::int AS n FROM ${db.t.tasks}
    WHERE status = 'running' AND name = ${name} AND concurrency_key IS NOT NULL
    GROUP BY concurrency_key`,
  );
  return Object.fromEntries(rows.map((row) => [String(row.key), Number(row.n)]));
}

/**
 * The next keys of a keyed name and their due candidates, in one statement over idx_task_claim_key
 * (name, concurrency_key, priority DESC, next_run_time, id; claimable rows only):
 *
 *   WITH RECURSIVE visited(key, n) AS (
 *     (SELECT concurrency_key, 1 … WHERE name = $n AND claimable AND concurrency_key > $after
 *       ORDER BY concurrency_key LIMIT 1)                                 -- IS NOT NULL without $after
 *     UNION ALL
 *     SELECT next.key, n + 1 FROM visited, LATERAL (SELECT concurrency_key … AND concurrency_key > visited.key
 *       ORDER BY concurrency_key LIMIT 1) next WHERE n < $visit)
 *   SELECT … FROM visited LEFT JOIN LATERAL (SELECT * … WHERE name = $n AND concurrency_key = visited.key
 *     AND claimable AND next_run_time <= $now ORDER BY <claim order> LIMIT $perKey FOR UPDATE SKIP LOCKED) ON true
 *
 * The recursive part is a loose index scan: each step is one descent of the index to the first
 * entry past the previous key, so a key with a thousand waiting tasks costs what a key with one
 * does, and a pass reads `visit` entries however many keys the name has. A key's entries are in
 * claim order after the key, so its candidates are the first due entries of its range, locked
 * as claimCandidates locks them. The LEFT JOIN keeps the keys none of whose tasks is due (or
 * whose due tasks another claim holds): the kit's cursor moves past them too. The probes lock
 * nothing: a key is only a place to look.
 */
export async function keyedCandidates(
  db: Db,
  name: string,
  now: number,
  after: string | null,
  visit: number,
  perKey: number,
): Promise<{ keys: string[]; tasks: Task[] }> {
  if (!(visit >= 1) || !(perKey >= 1)) return { keys: [], tasks: [] };
  const { sql, t } = db;
  const claimable = sql.unsafe(CLAIMABLE_SQL);
  const from = after === null ? sql`concurrency_key IS NOT NULL` : sql`concurrency_key > ${after}`;
  const rows = await sql`
    WITH RECURSIVE visited(key, n) AS (
      (SELECT concurrency_key, 1 FROM ${t.tasks}
        WHERE name = ${name} AND ${claimable} AND ${from}
        ORDER BY concurrency_key LIMIT 1)
      UNION ALL
      SELECT next.key, visited.n + 1 FROM visited, LATERAL (
        SELECT concurrency_key AS key FROM ${t.tasks}
        WHERE name = ${name} AND ${claimable} AND concurrency_key > visited.key
        ORDER BY concurrency_key LIMIT 1) AS next
      WHERE visited.n < ${visit}
    )
    SELECT visited.key AS visited_key, visited.n AS visited_n, due.* FROM visited
    LEFT JOIN LATERAL (
      SELECT * FROM ${t.tasks}
      WHERE name = ${name} AND concurrency_key = visited.key AND ${claimable} AND next_run_time <= ${now}
      ORDER BY ${sql.unsafe(CLAIM_ORDER_SQL)}
      LIMIT ${perKey}
      FOR UPDATE SKIP LOCKED) AS due ON true`;
  // visited's rows come out in recursion order, but only an ORDER BY would promise it: sorted
  // here rather than by a Sort node over the joined rows
  const order = new Map<string, number>();
  for (const row of rows) order.set(String(row.visited_key), Number(row.visited_n));
  const keys = [...order.keys()].sort((a, b) => order.get(a)! - order.get(b)!);
  const tasks = rows.filter((row) => row.id !== null).map(decodeTask);
  return { keys, tasks };
}

/**
 * Due claimable tasks of the name without a key, in claim order, locked. `ORDER BY
 * concurrency_key` first (every row's is NULL) is what lets the planner read idx_task_claim_key
 * in order: `concurrency_key IS NULL` does not tell it the column is constant, as `= $1` would,
 * and without it every due unkeyed task was read and sorted.
 */
export async function unkeyedCandidates(db: Db, name: string, now: number, limit: number): Promise<Task[]> {
  if (!(limit >= 1)) return [];
  const { sql, t } = db;
  const rows = await sql`
    SELECT * FROM ${t.tasks}
    WHERE name = ${name} AND concurrency_key IS NULL AND ${sql.unsafe(CLAIMABLE_SQL)} AND next_run_time <= ${now}
    ORDER BY concurrency_key, ${sql.unsafe(CLAIM_ORDER_SQL)}
    LIMIT ${limit}
    FOR UPDATE SKIP LOCKED`;
  return rows.map(decodeTask);
}
