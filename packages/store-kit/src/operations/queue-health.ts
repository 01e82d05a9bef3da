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
import {
  HEALTH_FINAL_MARGIN_MS,
  HEALTH_MINUTE_MS,
  HEALTH_ROLLUP_KEEP_MS,
  healthBinValue,
  type HealthMinuteRow,
  type MinuteFigureKind,
} from '../health-figures.js';
import type { RawRow } from '../codec.js';
import type { StoreReader } from '../statements.js';

/*
 * Queue health (docs/behaviour.md#queue-health): counts of the tasks now, and figures of every
 * attempt that started in the window, from bounded statements on indexed columns (task counts
 * through the stats index, due tasks through the claim index, attempts aggregated by the database
 * over their `(name, started_at)` range into at most a few thousand rows). With buckets of whole
 * minutes, the minutes that can no longer change come from the rollup `taskmill_health_minutes`
 * (filled here, by the reader, the first time one is read) and only the others from the attempts.
 * The window's buckets end on a multiple of `bucket_ms` (so on whole minutes). The folding into
 * figures and buckets, finality and the rollup's merge are here, once.
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

/** The tally of a name in `tallies`, added empty on first use. */
const tallyIn = (tallies: Map<string, Tally>) => (name: string): Tally => {
  let tally = tallies.get(name);
  if (!tally) tallies.set(name, (tally = emptyTally()));
  return tally;
};

/** `count` empty buckets of `bucketMs` from `since`, each with its wait histogram. */
const emptyBuckets = (since: number, bucketMs: number, count: number): (HealthBucket & { waits: Map<number, number> })[] =>
  Array.from({ length: count }, (_, i) => ({ start: since + i * bucketMs, completed: 0, failed: 0, wait_p50: null, waits: new Map() }));

/** The health of every name with tasks, the window's buckets, and the rollup rows to write (`fill`, pruning minutes before `before`). */
export async function queueHealth(
  reader: StoreReader,
  query: QueueHealthQuery,
): Promise<{ health: QueueHealth; fill: HealthMinuteRow[]; before: number }> {
  const { now, window_ms, buckets: count } = query;
  const bucketMs = window_ms / count;
  // the buckets end on the first multiple of bucket_ms at or after now: the last one is partly ahead
  const since = Math.ceil(now / bucketMs) * bucketMs - window_ms;
  // the hour of failed_last_hour ends on the first whole minute at or after now
  const hourFrom = Math.ceil(now / HEALTH_MINUTE_MS) * HEALTH_MINUTE_MS - HOUR;
  const [stats, dueRows, serverNow] = await Promise.all([reader.selectTaskStats([]), reader.selectDueByName(now), reader.selectServerTime()]);
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
  const from = Math.min(since, hourFrom);
  if (bucketMs % HEALTH_MINUTE_MS === 0) {
    const minutes = names.length === 0 ? { rows: [], fill: [] } : await minuteRows(reader, allNames, from, now, serverNow);
    const health = fold(minutes.rows, { now, since, bucketMs, count, hourFrom, names, counts, due: dueRows, byStatus, truncated: allNames.length > names.length });
    return { health, fill: minutes.fill, before: Math.floor((serverNow - HEALTH_ROLLUP_KEEP_MS) / HEALTH_MINUTE_MS) };
  }
  const rows =
    names.length === 0 ? [] : await reader.selectAttemptFigures({ names, from, since, now, bucket_ms: bucketMs, hour_from: hourFrom });

  const due = new Map(dueRows.map((r) => [String(r.name), { due: Number(r.due), oldest: num(r.oldest_due_at) }]));
  const tallies = new Map<string, Tally>();
  const tallyOf = tallyIn(tallies);
  const buckets = emptyBuckets(since, bucketMs, count);
  // an attempt that ended at `now` itself falls in the last bucket
  const bucketAt = (index: number) => (index < 0 ? null : buckets[Math.min(count - 1, index)]);
  for (const row of rows) {
    const kind = String(row.kind);
    const k1 = Number(row.k1);
    const k2 = kind === 'n' ? Number(row.k2) : healthBinValue(Number(row.k2));
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
  const health = names.map((name) => nameHealth(name, counts.get(name)!, due.get(name), tallies.get(name) ?? emptyTally()));
  return {
    health: {
      now,
      since,
      bucket_ms: bucketMs,
      by_status: byStatus,
      names: health,
      buckets: buckets.map(({ waits, ...b }) => ({ ...b, wait_p50: histogramPercentile(waits, 50) })),
      names_truncated: allNames.length > names.length,
    },
    fill: [],
    before: 0,
  };
}

/** A minute row, live or rolled up. */
interface MinuteRow {
  kind: MinuteFigureKind;
  name: string;
  minute: number;
  k: number;
  n: number;
  c: number;
  f: number;
}

function minuteRow(row: RawRow): MinuteRow {
  return {
    kind: String(row.kind) as MinuteFigureKind,
    name: String(row.name ?? ''),
    minute: Number(row.minute),
    k: Number(row.k),
    n: Number(row.n),
    c: Number(row.c),
    f: Number(row.f),
  };
}

/**
 * The minute rows of every name with tasks (so that a rolled-up minute holds all of them) for the
 * attempts started in `[from, now]`: the rollup's for each minute that is rolled up, whole before
 * `now` and whose attempts all ended before the minute `now` is in; the attempts' for the others
 * (in one statement per run of consecutive minutes). `fill`: the rows of the minutes read live that
 * are final (ended HEALTH_FINAL_MARGIN_MS before the database clock, inside the rollup's keep, with
 * no open attempt), and their `*` marks.
 */
async function minuteRows(
  reader: StoreReader,
  names: readonly string[],
  from: number,
  now: number,
  serverNow: number,
): Promise<{ rows: MinuteRow[]; fill: HealthMinuteRow[] }> {
  const first = from / HEALTH_MINUTE_MS;
  const nowMinute = Math.floor(now / HEALTH_MINUTE_MS);
  const keepFrom = Math.ceil((serverNow - HEALTH_ROLLUP_KEEP_MS) / HEALTH_MINUTE_MS);
  // final: the minute ended more than the margin before the database clock, and before `now`
  const finalEnd = Math.min(nowMinute, Math.floor((serverNow - HEALTH_FINAL_MARGIN_MS) / HEALTH_MINUTE_MS));
  const isFinal = (minute: number) => minute >= keepFrom && minute < finalEnd;
  const rolled = new Map<number, MinuteRow[]>();
  if (finalEnd > first) {
    for (const raw of await reader.selectHealthMinutes(Math.max(first, keepFrom), finalEnd)) {
      const row = minuteRow(raw);
      const list = rolled.get(row.minute) ?? [];
      list.push(row);
      rolled.set(row.minute, list);
    }
  }
  const rows: MinuteRow[] = [];
  // a rolled-up minute serves when it has its mark and none of its attempts ended in `now`'s minute or later
  const live: number[] = [];
  for (let minute = first; minute <= nowMinute; minute++) {
    const list = rolled.get(minute);
    if (list && list.some((r) => r.kind === '*') && !list.some((r) => r.kind === 'n' && r.k >= nowMinute)) {
      for (const row of list) if (row.kind !== '*') rows.push(row);
    } else live.push(minute);
  }
  const runs: [number, number][] = [];
  for (const minute of live) {
    const last = runs[runs.length - 1];
    if (last && last[1] === minute) last[1] = minute + 1;
    else runs.push([minute, minute + 1]);
  }
  const liveRows = (
    await Promise.all(
      runs.map(([a, b]) =>
        reader.selectMinuteFigures({ names, from: a * HEALTH_MINUTE_MS, to: Math.min(b * HEALTH_MINUTE_MS, now + 1), now }),
      ),
    )
  )
    .flat()
    .map(minuteRow);
  rows.push(...liveRows);
  const open = new Set(liveRows.filter((r) => r.kind === 'n' && r.k < 0).map((r) => r.minute));
  const fill: HealthMinuteRow[] = [];
  const filled = new Set<number>();
  for (const row of liveRows) {
    if (!isFinal(row.minute) || open.has(row.minute)) continue;
    fill.push(row);
    filled.add(row.minute);
  }
  // the marks last: a reader trusts a minute only with its mark, written with (or after) its rows
  for (const minute of live) if (isFinal(minute) && !open.has(minute)) fill.push({ minute, name: '', kind: '*', k: 0, n: 0, c: 0, f: 0 });
  return { rows, fill };
}

interface FoldContext {
  now: number;
  since: number;
  bucketMs: number;
  count: number;
  hourFrom: number;
  names: readonly string[];
  counts: Map<string, Record<TaskStatus, number>>;
  due: RawRow[];
  byStatus: Record<TaskStatus, number>;
  truncated: boolean;
}

/** The figures of minute rows: a window and buckets of whole minutes, the hour from a whole minute. */
function fold(rows: readonly MinuteRow[], ctx: FoldContext): QueueHealth {
  const { now, since, bucketMs, count, hourFrom, names } = ctx;
  const wanted = new Set(names);
  const tallies = new Map<string, Tally>();
  const tallyOf = tallyIn(tallies);
  const buckets = emptyBuckets(since, bucketMs, count);
  const bucketOf = (minute: number) => buckets[Math.min(count - 1, Math.floor((minute * HEALTH_MINUTE_MS - since) / bucketMs))];
  for (const row of rows) {
    if (!wanted.has(row.name)) continue;
    const tally = tallyOf(row.name);
    const start = row.minute * HEALTH_MINUTE_MS;
    if (row.kind === 'n') {
      // ended in the hour (by the minute it ended in), whenever in [from, now] it started
      if (row.k >= 0 && row.k * HEALTH_MINUTE_MS >= hourFrom) tally.failed_last_hour += row.f;
      if (start < since) continue;
      tally.started += row.n;
      if (row.k < 0) continue;
      tally.completed += row.c;
      tally.failed += row.f;
      const bucket = bucketOf(row.k);
      bucket.completed += row.c;
      bucket.failed += row.f;
    } else if (start >= since) {
      const value = healthBinValue(row.k);
      if (row.kind === 'v') {
        add(tally.waits, value, row.n);
        add(bucketOf(row.minute).waits, value, row.n);
      } else if (row.kind === 'r') add(tally.runs, value, row.n);
    }
  }
  const due = new Map(ctx.due.map((r) => [String(r.name), { due: Number(r.due), oldest: num(r.oldest_due_at) }]));
  return {
    now,
    since,
    bucket_ms: bucketMs,
    by_status: ctx.byStatus,
    names: names.map((name) => nameHealth(name, ctx.counts.get(name)!, due.get(name), tallies.get(name) ?? emptyTally())),
    buckets: buckets.map(({ waits, ...b }) => ({ ...b, wait_p50: histogramPercentile(waits, 50) })),
    names_truncated: ctx.truncated,
  };
}

function nameHealth(name: string, statuses: Record<TaskStatus, number>, due: { due: number; oldest: number | null } | undefined, t: Tally): NameHealth {
  return {
    name,
    statuses,
    pending: statuses.pending,
    due: due?.due ?? 0,
    running: statuses.running,
    failed_last_hour: t.failed_last_hour,
    oldest_due_at: due?.oldest ?? null,
    started: t.started,
    completed: t.completed,
    failed: t.failed,
    wait_p50: histogramPercentile(t.waits, 50),
    wait_p95: histogramPercentile(t.waits, 95),
    run_p50: histogramPercentile(t.runs, 50),
    run_p95: histogramPercentile(t.runs, 95),
  };
}
