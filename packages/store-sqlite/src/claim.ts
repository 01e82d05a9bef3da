import type { Task } from '@taskmill/contracts';
import { CLAIM_ORDER_SQL, CLAIMABLE_STATUSES, decodeTask, TABLES, type ClaimPlan } from '@taskmill/store-kit';
import { jsonList, type SqliteConnection } from './connection.js';
import { readTasks } from './task-rows.js';

/*
 * Claiming on SQLite (docs/behaviour.md#claiming).
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
 *
 * The candidates are read in claim order with a LIMIT, never every due row: the partial index
 * `idx_task_scheduling (priority DESC, next_run_time, id) WHERE status IN (claimable)` hands them
 * out in that order, so SQLite stops after the first `limit` matches. The query repeats the index's
 * WHERE term word for word, which is how SQLite's planner proves a partial index usable, and names
 * it with INDEXED BY: without ANALYZE statistics the planner prefers an index on `status` and sorts
 * every due row in a temp B-tree (EXPLAIN QUERY PLAN shows it), and INDEXED BY fails loudly rather
 * than silently if the index ever cannot serve the query. With per-name caps, each capped name is
 * read on its own with LIMIT cap and the uncapped names together with LIMIT limit: the union
 * always holds the batch the kit's `pickClaims` chooses.
 */

const CLAIMABLE = `status IN (${CLAIMABLE_STATUSES.map((status) => `'${status}'`).join(', ')})`;

const CANDIDATES = `
  SELECT * FROM ${TABLES.tasks} INDEXED BY idx_task_scheduling
  WHERE ${CLAIMABLE}
    AND next_run_time <= ?
    AND name IN (SELECT value FROM json_each(?))
  ORDER BY ${CLAIM_ORDER_SQL}
  LIMIT ?`;

/** False when the worker's registry row exists and is not `active` (superseded or dead). */
export async function workerMayClaim(sql: SqliteConnection, workerId: string): Promise<boolean> {
  const row = sql.get(`SELECT status FROM ${TABLES.workers} WHERE worker_id = ?`, workerId);
  return !row || row.status === 'active';
}

/** Due candidates of a claim, in claim order: at most `plan.limit` uncapped, at most its cap per capped name. */
export async function claimCandidates(sql: SqliteConnection, plan: ClaimPlan): Promise<Task[]> {
  const uncapped = plan.names.filter((name) => plan.caps[name] === undefined);
  const reads = Object.entries(plan.caps).map(([name, cap]) => ({ names: [name], limit: cap }));
  if (uncapped.length > 0) reads.push({ names: uncapped, limit: plan.limit });
  return reads.flatMap((read) => readTasks(sql, sql.all(CANDIDATES, plan.now, jsonList(read.names), read.limit)));
}

/**
 * Cluster-wide limits need no lock of their own here: the claim's `BEGIN IMMEDIATE` already
 * excludes every other writer of the file until COMMIT, so the count read next cannot change
 * before this claim's rows are committed.
 */
export async function lockClaimNames(_sql: SqliteConnection, _names: readonly string[]): Promise<void> {}

/** Running tasks per name (the partial `idx_task_timeout` index holds exactly the running rows). */
export async function countRunning(sql: SqliteConnection, names: readonly string[]): Promise<Record<string, number>> {
  const rows = sql.all(
    `SELECT name, COUNT(*) AS n FROM ${TABLES.tasks}
     WHERE status = 'running' AND name IN (SELECT value FROM json_each(?)) GROUP BY name`,
    jsonList(names),
  );
  return Object.fromEntries(rows.map((row) => [String(row.name), Number(row.n)]));
}

/** Which of these names are paused (docs/behaviour.md#flow-control): primary-key lookups in `taskmill_paused_names`. */
export async function pausedAmong(sql: SqliteConnection, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  return sql
    .all(`SELECT name FROM ${TABLES.pausedNames} WHERE name IN (SELECT value FROM json_each(?))`, jsonList(names))
    .map((row) => String(row.name));
}

/*
 * Rate limits (docs/behaviour.md#flow-control) count a name's attempts started in a window. The
 * `(name, started_at)` index holds them in time order per name, so the count reads only the
 * window's entries (the index covers it: no table row is read) and the max-th latest start is
 * `max` entries walked back from the window's end, however many attempts the name has.
 */
const COUNT_STARTS = `
  SELECT COUNT(*) AS n,
    (SELECT started_at FROM ${TABLES.attempts} INDEXED BY idx_task_attempts_name_started
     WHERE name = ? AND started_at > ? ORDER BY started_at DESC LIMIT 1 OFFSET ?) AS max_th_latest
  FROM ${TABLES.attempts} INDEXED BY idx_task_attempts_name_started
  WHERE name = ? AND started_at > ?`;

/** Attempts of the name started after `since`, and the start of the max-th latest of them (null when fewer). */
export async function countStarts(sql: SqliteConnection, name: string, since: number, max: number): Promise<{ count: number; max_th_latest: number | null }> {
  const row = sql.get(COUNT_STARTS, name, since, Math.max(0, max - 1), name, since)!;
  return { count: Number(row.n), max_th_latest: row.max_th_latest === null ? null : Number(row.max_th_latest) };
}

/** Running tasks of the name per key: like {@link countRunning}, a read of the running rows only (an index on status), which are few: one per busy worker slot. */
export async function countRunningByKey(sql: SqliteConnection, name: string): Promise<Record<string, number>> {
  const rows = sql.all(
    `SELECT concurrency_key AS k, COUNT(*) AS n FROM ${TABLES.tasks}
     WHERE status = 'running' AND name = ? AND concurrency_key IS NOT NULL GROUP BY concurrency_key`,
    name,
  );
  return Object.fromEntries(rows.map((row) => [String(row.k), Number(row.n)]));
}

/*
 * A keyed name's candidates (docs/behaviour.md#flow-control) come from
 * `idx_task_claim_key (name, concurrency_key, priority DESC, next_run_time, id) WHERE status IN
 * (claimable)`: within one name the entries are grouped by key, each key's in claim order, with
 * the NULL key (the unkeyed tasks) first.
 *
 * - The next key after a cursor is the first entry past `(name, cursor)`: one seek, LIMIT 1, so
 *   finding a key costs the same whether it has one claimable task or a million. A key is found
 *   whether or not any of its tasks is due (the kit visits it either way); the keys are walked one
 *   probe per key rather than with DISTINCT, which SQLite would answer by reading every entry of
 *   every key it passes.
 * - A key's due tasks are the first entries of `(name, key)` in index order with
 *   `next_run_time <= now`, up to a LIMIT: already in claim order, no sort.
 * - The unkeyed tasks are the same read of `(name, NULL)`.
 *
 * As for the plain claim, each query repeats the index's WHERE word for word and names the index
 * with INDEXED BY (see above). No row locks: the claim's `BEGIN IMMEDIATE` excludes every other
 * writer until COMMIT. The statements are in-process calls on cached prepared statements, so a
 * probe per key costs microseconds and there is no round trip to save by batching them.
 */

const FIRST_KEY = `
  SELECT concurrency_key AS k FROM ${TABLES.tasks} INDEXED BY idx_task_claim_key
  WHERE ${CLAIMABLE} AND name = ? AND concurrency_key IS NOT NULL
  ORDER BY concurrency_key LIMIT 1`;

const NEXT_KEY = `
  SELECT concurrency_key AS k FROM ${TABLES.tasks} INDEXED BY idx_task_claim_key
  WHERE ${CLAIMABLE} AND name = ? AND concurrency_key > ?
  ORDER BY concurrency_key LIMIT 1`;

const KEY_CANDIDATES = `
  SELECT * FROM ${TABLES.tasks} INDEXED BY idx_task_claim_key
  WHERE ${CLAIMABLE} AND name = ? AND concurrency_key = ? AND next_run_time <= ?
  ORDER BY ${CLAIM_ORDER_SQL}
  LIMIT ?`;

const UNKEYED_CANDIDATES = `
  SELECT * FROM ${TABLES.tasks} INDEXED BY idx_task_claim_key
  WHERE ${CLAIMABLE} AND name = ? AND concurrency_key IS NULL AND next_run_time <= ?
  ORDER BY ${CLAIM_ORDER_SQL}
  LIMIT ?`;

/** The next `visit` keys of the name after `after` in key order, and each one's first `perKey` due candidates. */
export async function keyedCandidates(
  sql: SqliteConnection,
  name: string,
  now: number,
  after: string | null,
  visit: number,
  perKey: number,
): Promise<{ keys: string[]; tasks: Task[] }> {
  const keys: string[] = [];
  const tasks: Task[] = [];
  let cursor = after;
  while (keys.length < visit) {
    const row = cursor === null ? sql.get(FIRST_KEY, name) : sql.get(NEXT_KEY, name, cursor);
    if (!row) break;
    cursor = String(row.k);
    keys.push(cursor);
    if (perKey > 0) for (const found of sql.all(KEY_CANDIDATES, name, cursor, now, perKey)) tasks.push(decodeTask(found));
  }
  return { keys, tasks };
}

/** Due candidates of the name without a key, in claim order, at most `limit`. */
export async function unkeyedCandidates(sql: SqliteConnection, name: string, now: number, limit: number): Promise<Task[]> {
  if (!(limit > 0)) return [];
  return sql.all(UNKEYED_CANDIDATES, name, now, limit).map(decodeTask);
}
