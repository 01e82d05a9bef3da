import type { Task } from '@taskmill/contracts';
import { CLAIM_ORDER_SQL, CLAIMABLE_STATUSES, decodeTask, TABLES, type ClaimPlan } from '@taskmill/store-kit';
import { jsonList, type SqliteConnection } from './connection.js';

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
  return reads.flatMap((read) => sql.all(CANDIDATES, plan.now, jsonList(read.names), read.limit).map(decodeTask));
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
