/*
 * Queue health's attempt figures (docs/behaviour.md#queue-health), as the database aggregates
 * them: each store runs one statement of four aggregates over the attempts whose `started_at` is
 * in the span read, and the kit folds the rows (operations/queue-health.ts). Wait and run times
 * are grouped by bins of at most 5% ({@link healthBinSql}), so a window of any size comes back
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
 * SQL of a non-negative integer `expr`'s bin: exact below 100, then kept to two significant
 * digits, rounded down (123 → 120, 12,345 → 12,000; integer `%` only, the same on every store).
 * At most 90 bins per power of ten: a histogram of waits or run times up to 7 days has at most
 * 730, and a minute of the rollup (docs/behaviour.md#queue-health) holds a few dozen per name.
 * The kit reads a bin back as its middle ({@link healthBinValue}): within 5% of every value in it.
 */
export function healthBinSql(expr: string): string {
  const steps = [100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000];
  const branches = steps.map((limit, i) => (i === 0 ? `WHEN ${expr} < ${limit} THEN ${expr}` : `WHEN ${expr} < ${limit} THEN ${expr} - ${expr} % ${10 ** i}`));
  return `CASE ${branches.join(' ')} ELSE ${expr} - ${expr} % ${10 ** steps.length} END`;
}

/** {@link healthBinSql} in JavaScript: the bin (lower edge) of a non-negative integer. */
export function healthBin(value: number): number {
  if (value < 100) return value;
  const unit = 10 ** (Math.floor(Math.log10(value)) - 1);
  return value - (value % unit);
}

/**
 * The value a bin stands for: the bin itself below 100 (exact), else its middle (`1,200` stands for
 * `[1,200, 1,300)`, read as 1,250): at most 5% from any value in the bin (0.5 of a step of at least
 * 10 units). A negative bin (a due time after the start, which a claim never writes) reads as 0.
 */
export function healthBinValue(bin: number): number {
  if (bin < 100) return Math.max(0, bin);
  const unit = 10 ** (Math.floor(Math.log10(bin)) - 1);
  return bin + unit / 2;
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

/*
 * The rollup of closed minutes (docs/behaviour.md#queue-health): the same figures grouped by the
 * minute an attempt STARTED in (epoch ms DIV 60,000), so that a minute whose attempts have all ended
 * and that no transaction can still write to never changes again and is kept in
 * `taskmill_health_minutes`, filled by the reader. Rows of a minute, whether read live or from the
 * rollup, are the same `{kind, name, minute, k, n, c, f}`:
 * - `n`: per name and `k` the minute the attempt ended in (−1 when open, or ended after `now`):
 *   `n` attempts, `c` completed, `f` failed or timed out;
 * - `v`: per name and `k` the wait's bin ({@link healthBinSql}), `n` attempts with a due time;
 * - `r`: per name and `k` the run's bin, `n` attempts ended by `now`;
 * - `*` (rollup only, name ''): the minute is rolled up, all of it (every name) is in the table.
 */

export const HEALTH_MINUTE_MS = 60_000;
/**
 * How long after its end a minute can still change: the longest claim or finish transaction we
 * accept. An attempt's `started_at` and `ended_at` are written on the database clock by the claim's
 * and the finish's transaction; one that commits more than this after its own clock reading would be
 * missed by a minute already rolled up (docs/behaviour.md#queue-health).
 */
export const HEALTH_FINAL_MARGIN_MS = 120_000;
/** Rollup rows older than this (before the database clock) are deleted by the next fill: the longest window and a day. */
export const HEALTH_ROLLUP_KEEP_MS = 8 * 24 * 3_600_000;

/** Kinds of minute rows; `*` marks a rolled-up minute. */
export type MinuteFigureKind = 'n' | 'v' | 'r' | '*';

/** One row of the rollup, as written (`taskmill_health_minutes`; primary key minute, name, kind, k). */
export interface HealthMinuteRow {
  minute: number;
  name: string;
  kind: MinuteFigureKind;
  k: number;
  n: number;
  c: number;
  f: number;
}

/** What a store's `selectMinuteFigures` aggregates: attempts of `names` with `from <= started_at < to` (whole minutes, or `to = now + 1`). */
export interface MinuteFiguresQuery {
  names: readonly string[];
  from: number;
  to: number;
  /** An attempt that ended after `now` counts as open. */
  now: number;
}

/** The statement of `selectMinuteFigures`: the rows of MinuteFigureKind `n`, `v`, `r`, three GROUP BYs in one UNION ALL. */
export function minuteFiguresSql(table: string, q: MinuteFiguresQuery, d: FiguresDialect): string {
  const names = () => q.names.map((name) => d.param(name)).join(', ');
  const minute = (expr: string) => d.div(expr, d.param(HEALTH_MINUTE_MS));
  const range = () => `FROM ${table} WHERE name IN (${names()}) AND started_at >= ${d.param(q.from)} AND started_at < ${d.param(q.to)}`;
  const counts = `SELECT 'n' AS kind, name, ${minute('started_at')} AS minute,
      CASE WHEN ended_at IS NULL OR ended_at > ${d.param(q.now)} THEN -1 ELSE ${minute('ended_at')} END AS k,
      COUNT(*) AS n,
      SUM(CASE WHEN outcome = 'completed' THEN 1 ELSE 0 END) AS c,
      SUM(CASE WHEN outcome IN ('failed', 'timeout') THEN 1 ELSE 0 END) AS f
    ${range()}
    GROUP BY 2, 3, 4`;
  const waits = `SELECT 'v', name, m, ${healthBinSql('v')}, COUNT(*), 0, 0 FROM (
      SELECT name, ${minute('started_at')} AS m, started_at - due_at AS v ${range()} AND due_at IS NOT NULL) AS s
    GROUP BY 2, 3, 4`;
  const runs = `SELECT 'r', name, m, ${healthBinSql('v')}, COUNT(*), 0, 0 FROM (
      SELECT name, ${minute('started_at')} AS m, ended_at - started_at AS v ${range()} AND ended_at IS NOT NULL AND ended_at <= ${d.param(q.now)}) AS s
    GROUP BY 2, 3, 4`;
  return [counts, waits, runs].join('\nUNION ALL\n');
}
