import {
  QUEUE_HEALTH_LIMITS,
  TASK_STATUSES,
  type TaskStatus,
  ValidationError,
  type HealthBucket,
  type NameHealth,
  type QueueHealth,
  type QueueHealthQuery,
} from '@taskmill/contracts';
import type { StoreReader } from '../statements.js';

/*
 * Queue health (docs/behaviour.md#queue-health): counts of the tasks now, and figures of the
 * latest attempts that started in the window, from bounded statements on indexed columns (task
 * counts through the stats index, due tasks through the claim index, attempts through
 * `(name, started_at)` with a LIMIT per name). The folding into figures and buckets is here, once.
 */

const HOUR = 3_600_000;
const FAILED_OUTCOMES = new Set(['failed', 'timeout']);

/** The query checked: integers, a window of at most 7 days cut into 1 to 288 equal buckets. */
export function queueHealthInput(query: unknown): QueueHealthQuery {
  if (typeof query !== 'object' || query === null) throw new ValidationError('getQueueHealth needs { now, window_ms, buckets }');
  const { now, window_ms, buckets } = query as Record<string, unknown>;
  if (!Number.isSafeInteger(now) || (now as number) < 0) throw new ValidationError('now must be a non-negative integer of ms since the epoch');
  if (!Number.isSafeInteger(window_ms) || (window_ms as number) <= 0 || (window_ms as number) > QUEUE_HEALTH_LIMITS.max_window_ms) {
    throw new ValidationError(`window_ms must be a positive integer of at most ${QUEUE_HEALTH_LIMITS.max_window_ms} (7 days)`);
  }
  if (!Number.isSafeInteger(buckets) || (buckets as number) < 1 || (buckets as number) > QUEUE_HEALTH_LIMITS.max_buckets) {
    throw new ValidationError(`buckets must be an integer from 1 to ${QUEUE_HEALTH_LIMITS.max_buckets}`);
  }
  if ((window_ms as number) % (buckets as number) !== 0) throw new ValidationError('buckets must divide window_ms into whole ms');
  return { now: now as number, window_ms: window_ms as number, buckets: buckets as number };
}

/** Nearest-rank percentile of ascending values (the smallest value with at least p% at or below it), or null. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

function ascending(values: number[]): number[] {
  return values.sort((a, b) => a - b);
}

function num(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

interface Tally {
  started: number;
  completed: number;
  failed: number;
  failed_last_hour: number;
  waits: number[];
  runs: number[];
}

/** The health of every name with tasks, and the window's buckets. */
export async function queueHealth(reader: StoreReader, query: QueueHealthQuery): Promise<QueueHealth> {
  const { now, window_ms, buckets: count } = query;
  const since = now - window_ms;
  const bucketMs = window_ms / count;
  const [stats, dueRows] = await Promise.all([reader.selectTaskStats([]), reader.selectDueByName(now)]);
  const zeros = () => Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Record<TaskStatus, number>;
  const byStatus = zeros();
  const counts = new Map<string, Record<TaskStatus, number>>();
  for (const { name, status, count: n } of stats) {
    const entry = counts.get(name) ?? zeros();
    entry[status] += n;
    byStatus[status] += n;
    counts.set(name, entry);
  }
  const allNames = [...counts.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const names = allNames.slice(0, QUEUE_HEALTH_LIMITS.max_names);
  // the hour of `failed_last_hour` is read even when the window is shorter
  const readFrom = Math.min(since, now - HOUR);
  const perName = QUEUE_HEALTH_LIMITS.max_attempts_per_name;
  const read = names.length === 0 ? [] : await reader.selectRecentAttempts(names, readFrom, now, perName + 1);
  // each name's latest `perName`; one more read tells that it had more
  const byName = new Map<string, typeof read>();
  for (const row of read) {
    const list = byName.get(String(row.name));
    if (list) list.push(row);
    else byName.set(String(row.name), [row]);
  }
  let attemptsTruncated = false;
  const rows = [...byName.values()].flatMap((list) => {
    if (list.length <= perName) return list;
    attemptsTruncated = true;
    return list.sort((a, b) => Number(b.started_at) - Number(a.started_at)).slice(0, perName);
  });

  const due = new Map(dueRows.map((r) => [String(r.name), { due: Number(r.due), oldest: num(r.oldest_due_at) }]));
  const tallies = new Map<string, Tally>();
  const buckets: (HealthBucket & { waits: number[] })[] = Array.from({ length: count }, (_, i) => ({
    start: since + i * bucketMs,
    completed: 0,
    failed: 0,
    wait_p50: null,
    waits: [],
  }));
  const bucketOf = (time: number) => (time < since || time > now ? null : buckets[Math.min(count - 1, Math.floor((time - since) / bucketMs))]);
  for (const row of rows) {
    const name = String(row.name);
    const started = Number(row.started_at);
    const ended = num(row.ended_at);
    const dueAt = num(row.due_at);
    const outcome = row.outcome === null || row.outcome === undefined ? null : String(row.outcome);
    const failed = outcome !== null && FAILED_OUTCOMES.has(outcome);
    const tally = tallies.get(name) ?? { started: 0, completed: 0, failed: 0, failed_last_hour: 0, waits: [], runs: [] };
    tallies.set(name, tally);
    if (failed && ended !== null && ended >= now - HOUR && ended <= now) tally.failed_last_hour += 1;
    if (started < since) continue;
    tally.started += 1;
    if (dueAt !== null) {
      tally.waits.push(started - dueAt);
      bucketOf(started)?.waits.push(started - dueAt);
    }
    if (ended === null || ended > now) continue;
    tally.runs.push(ended - started);
    const bucket = bucketOf(ended);
    if (outcome === 'completed') {
      tally.completed += 1;
      if (bucket) bucket.completed += 1;
    } else if (failed) {
      tally.failed += 1;
      if (bucket) bucket.failed += 1;
    }
  }
  const health: NameHealth[] = names.map((name) => {
    const t = tallies.get(name) ?? { started: 0, completed: 0, failed: 0, failed_last_hour: 0, waits: [], runs: [] };
    const waits = ascending(t.waits);
    const runs = ascending(t.runs);
    return {
      name,
      statuses: counts.get(name)!,
      pending: counts.get(name)!.pending,
      due: due.get(name)?.due ?? 0,
      running: counts.get(name)!.running,
      failed_last_hour: t.failed_last_hour,
      oldest_due_at: due.get(name)?.oldest ?? null,
      started: t.started,
      completed: t.completed,
      failed: t.failed,
      wait_p50: percentile(waits, 50),
      wait_p95: percentile(waits, 95),
      run_p50: percentile(runs, 50),
      run_p95: percentile(runs, 95),
    };
  });
  return {
    now,
    since,
    bucket_ms: bucketMs,
    by_status: byStatus,
    names: health,
    buckets: buckets.map(({ waits, ...b }) => ({ ...b, wait_p50: percentile(ascending(waits), 50) })),
    attempts_truncated: attemptsTruncated,
    names_truncated: allNames.length > names.length,
  };
}
