/*
 * Queue health's attempt figures (docs/behaviour.md#queue-health), as the database aggregates
 * them: each store runs one statement of four aggregates over the attempts whose `started_at` is
 * in the span read, and the kit folds the rows (operations/queue-health.ts). Wait and run times
 * are grouped by their value kept to three significant digits, so a window of any size comes back
 * as a few hundred rows at most per group, whatever the number of attempts, and percentiles are
 * still of every attempt.
 */

/** What a store's `selectAttemptFigures` aggregates. */
export interface AttemptFiguresQuery {
  /** Names to read (the first QUEUE_HEALTH_LIMITS.max_names), non-empty. */
  names: readonly string[];
  /** Read attempts with `from <= started_at <= now`: `min(since, hour_from)`. */
  from: number;
  /** The window's start: buckets and window figures are of attempts with `started_at >= since`. */
  since: number;
  now: number;
  bucket_ms: number;
  /** `now − 1 h`: failures that ended in `[hour_from, now]` are `failed_last_hour`. */
  hour_from: number;
}

/**
 * The kinds of rows of `selectAttemptFigures`, each `{kind, name, k1, k2, n, c, f, h}`:
 * - `n`, per `name`, `k1` the bucket the attempt ended in (`(ended_at − since) DIV bucket_ms` when
 *   `since <= ended_at <= now`, else −1) and `k2` 1 when it started at or after `since` (else 0):
 *   `n` attempts, `c` of them `completed`, `f` `failed` or `timeout`, `h` failed or timed out with
 *   `hour_from <= ended_at <= now`;
 * - `w`, attempts started at or after `since` with a due time, per `k1` the bucket they started in
 *   and `k2` the wait's bin ({@link healthBinSql} of `started_at − due_at`; the kit counts a negative
 *   one as 0): `n` of them (name null);
 * - `v`, the same per `name` and `k2` the wait's bin;
 * - `r`, attempts started at or after `since` that ended by `now`, per `name` and `k2` the run's
 *   bin (of `ended_at − started_at`).
 * Unused columns are 0. Any order.
 */
export type AttemptFigureKind = 'n' | 'w' | 'v' | 'r';

/**
 * SQL of a non-negative integer `expr` kept to three significant digits, rounded down: exact below
 * 1,000, then 1,234 → 1,230, 12,345 → 12,300, … (integer `%` only, the same on every store). At
 * most 900 values per power of ten, so a histogram of waits or run times up to 7 days has at most
 * 7,300 bins, and a value read back is at most 1% below the true one.
 */
export function healthBinSql(expr: string): string {
  const steps = [1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000];
  const branches = steps.map((limit, i) => (i === 0 ? `WHEN ${expr} < ${limit} THEN ${expr}` : `WHEN ${expr} < ${limit} THEN ${expr} - ${expr} % ${10 ** i}`));
  return `CASE ${branches.join(' ')} ELSE ${expr} - ${expr} % ${10 ** steps.length} END`;
}

/** {@link healthBinSql} in JavaScript: `value` kept to three significant digits, rounded down. */
export function healthBin(value: number): number {
  if (value < 1000) return value;
  const unit = 10 ** (Math.floor(Math.log10(value)) - 2);
  return value - (value % unit);
}

/** How a dialect spells a bound value and integer division, for {@link attemptFiguresSql}. */
export interface FiguresDialect {
  /** Bind `value` and return its placeholder (`?`, or `$n` with a cast). */
  param(value: string | number): string;
  /** Integer division of two non-negative integers, rounded down. */
  div(a: string, b: string): string;
}

/**
 * The statement of `selectAttemptFigures` (the rows of AttemptFigureKind) over the attempts table
 * `table`: four GROUP BYs in one UNION ALL, plain SQL every store runs as it is; each store binds
 * its own placeholders.
 */
export function attemptFiguresSql(table: string, q: AttemptFiguresQuery, d: FiguresDialect): string {
  const names = () => q.names.map((name) => d.param(name)).join(', ');
  const failed = `outcome IN ('failed', 'timeout')`;
  // `extra` is called after the range's placeholders, so that `?` placeholders bind in text order
  const inWindow = (extra: () => string) =>
    `FROM ${table} WHERE name IN (${names()}) AND started_at >= ${d.param(q.since)} AND started_at <= ${d.param(q.now)}${extra()}`;
  const counts = `SELECT 'n' AS kind, name,
      CASE WHEN ended_at >= ${d.param(q.since)} AND ended_at <= ${d.param(q.now)} THEN ${d.div(`ended_at - ${d.param(q.since)}`, d.param(q.bucket_ms))} ELSE -1 END AS k1,
      CASE WHEN started_at >= ${d.param(q.since)} THEN 1 ELSE 0 END AS k2,
      COUNT(*) AS n,
      SUM(CASE WHEN outcome = 'completed' THEN 1 ELSE 0 END) AS c,
      SUM(CASE WHEN ${failed} THEN 1 ELSE 0 END) AS f,
      SUM(CASE WHEN ${failed} AND ended_at >= ${d.param(q.hour_from)} AND ended_at <= ${d.param(q.now)} THEN 1 ELSE 0 END) AS h
    FROM ${table} WHERE name IN (${names()}) AND started_at >= ${d.param(q.from)} AND started_at <= ${d.param(q.now)}
    GROUP BY 2, 3, 4`;
  // a claim takes only due tasks, so a wait is never negative; the kit clamps it at 0 all the same
  // (folded in JavaScript: a CASE here would be evaluated once per use of `v` in the bins' CASE)
  const wait = `started_at - due_at`;
  const waitsByBucket = `SELECT 'w', NULL, b, ${healthBinSql('v')}, COUNT(*), 0, 0, 0 FROM (
      SELECT ${d.div(`started_at - ${d.param(q.since)}`, d.param(q.bucket_ms))} AS b, ${wait} AS v ${inWindow(() => ' AND due_at IS NOT NULL')}) AS s
    GROUP BY 3, 4`;
  const waitsByName = `SELECT 'v', name, 0, ${healthBinSql('v')}, COUNT(*), 0, 0, 0 FROM (
      SELECT name, ${wait} AS v ${inWindow(() => ' AND due_at IS NOT NULL')}) AS s
    GROUP BY 2, 4`;
  const runsByName = `SELECT 'r', name, 0, ${healthBinSql('v')}, COUNT(*), 0, 0, 0 FROM (
      SELECT name, ended_at - started_at AS v ${inWindow(() => ` AND ended_at IS NOT NULL AND ended_at <= ${d.param(q.now)}`)}) AS s
    GROUP BY 2, 4`;
  return [counts, waitsByBucket, waitsByName, runsByName].join('\nUNION ALL\n');
}
