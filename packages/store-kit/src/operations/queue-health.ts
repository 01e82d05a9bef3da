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
 * Queue health (docs/behaviour.md#queue-health): counts of the tasks now, and figures of every
 * attempt that started in the window, from bounded statements on indexed columns (task counts
 * through the stats index, due tasks through the claim index, attempts aggregated by the database
 * over their `(name, started_at)` range into at most a few thousand rows). The folding into
 * figures and buckets is here, once.
 */

const HOUR = 3_600_000;

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

function num(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

/** Nearest-rank percentile of a histogram (value → count), or null when it is empty. */
export function histogramPercentile(histogram: ReadonlyMap<number, number>, p: number): number | null {
  let total = 0;
  for (const n of histogram.values()) total += n;
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  let seen = 0;
  for (const value of [...histogram.keys()].sort((a, b) => a - b)) {
    seen += histogram.get(value)!;
    if (seen >= rank) return value;
  }
  return null;
}

function add(histogram: Map<number, number>, value: number, n: number): void {
  histogram.set(value, (histogram.get(value) ?? 0) + n);
}

interface Tally {
  started: number;
  completed: number;
  failed: number;
  failed_last_hour: number;
  waits: Map<number, number>;
  runs: Map<number, number>;
}

const emptyTally = (): Tally => ({ started: 0, completed: 0, failed: 0, failed_last_hour: 0, waits: new Map(), runs: new Map() });

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
  const from = Math.min(since, now - HOUR);
  const rows =
    names.length === 0 ? [] : await reader.selectAttemptFigures({ names, from, since, now, bucket_ms: bucketMs, hour_from: now - HOUR });

  const due = new Map(dueRows.map((r) => [String(r.name), { due: Number(r.due), oldest: num(r.oldest_due_at) }]));
  const tallies = new Map<string, Tally>();
  const tallyOf = (name: string) => {
    const found = tallies.get(name);
    if (found) return found;
    const tally = emptyTally();
    tallies.set(name, tally);
    return tally;
  };
  const buckets: (HealthBucket & { waits: Map<number, number> })[] = Array.from({ length: count }, (_, i) => ({
    start: since + i * bucketMs,
    completed: 0,
    failed: 0,
    wait_p50: null,
    waits: new Map(),
  }));
  // an attempt that ended at `now` itself falls in the last bucket
  const bucketAt = (index: number) => (index < 0 ? null : buckets[Math.min(count - 1, index)]);
  for (const row of rows) {
    const kind = String(row.kind);
    const k1 = Number(row.k1);
    // a wait bin below 0 (a due time after the start, which a claim never writes) counts as 0
    const k2 = kind === 'w' || kind === 'v' ? Math.max(0, Number(row.k2)) : Number(row.k2);
    const n = Number(row.n);
    if (kind === 'w') {
      const bucket = bucketAt(k1);
      if (bucket) add(bucket.waits, k2, n);
      continue;
    }
    const tally = tallyOf(String(row.name));
    if (kind === 'v') add(tally.waits, k2, n);
    else if (kind === 'r') add(tally.runs, k2, n);
    else if (kind === 'n') {
      tally.failed_last_hour += Number(row.h);
      if (k2 !== 1) continue;
      tally.started += n;
      const bucket = bucketAt(k1);
      if (!bucket) continue;
      const completed = Number(row.c);
      const failed = Number(row.f);
      tally.completed += completed;
      tally.failed += failed;
      bucket.completed += completed;
      bucket.failed += failed;
    }
  }
  const health: NameHealth[] = names.map((name) => {
    const t = tallies.get(name) ?? emptyTally();
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
      wait_p50: histogramPercentile(t.waits, 50),
      wait_p95: histogramPercentile(t.waits, 95),
      run_p50: histogramPercentile(t.runs, 50),
      run_p95: histogramPercentile(t.runs, 95),
    };
  });
  return {
    now,
    since,
    bucket_ms: bucketMs,
    by_status: byStatus,
    names: health,
    buckets: buckets.map(({ waits, ...b }) => ({ ...b, wait_p50: histogramPercentile(waits, 50) })),
    names_truncated: allNames.length > names.length,
  };
}
