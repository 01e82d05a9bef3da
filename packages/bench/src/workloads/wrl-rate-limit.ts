import { fmt, median, ratio } from '../stats.js';
import { markdownTable } from '../table.js';
import { queryPlace } from '../systems/taskmill.js';
import type { JobSystem, Place } from '../systems/types.js';
import { spawnWorker, until } from '../worker-process.js';
import type { BenchContext, WorkloadReport } from './context.js';
import { checkExactlyOnce, drain, enqueueAll, fail, withPlace } from './drain.js';
import { eachRun, spreadCells } from './runs.js';
import { IDLE_COUNTING, statementsPerSecond } from './w2-idle-cost.js';

/** The held-back phase's window (s): far longer than the phase, so the window stays full throughout. */
const HOLD_PER = 3600;
/** Due tasks left waiting behind the full window in the held-back phase. */
const HOLD_WAITING = 1000;

/** Every attempt's start time in a place (ms, as the claims recorded them), ascending. */
async function startTimes(place: Place): Promise<number[]> {
  const rows = await queryPlace(place, 'SELECT started_at AS s FROM taskmill_task_attempts');
  return rows.map((row) => Number(row.s)).sort((a, b) => a - b);
}

/** The most starts in any window `(t - perMs, t]`, the rate limit's own window (docs/behaviour.md#flow-control). */
export function mostInWindow(starts: number[], perMs: number): number {
  let most = 0;
  for (let i = 0, j = 0; i < starts.length; i++) {
    while (starts[j] <= starts[i] - perMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

/**
 * Starts per second over whole windows' worth of starts: k·max starts, from the first start to the
 * (k·max + 1)-th, for the largest k the drain has. Counting whole multiples of `max` keeps the
 * limiter's bursts (a window's `max` starts come together, then it waits) from counting one burst
 * more than the time they took; a limiter that holds exactly to the limit measures 1.00× of it.
 */
export function steadyRate(starts: number[], max: number): number {
  const k = Math.floor((starts.length - 1) / max);
  if (k < 1) return NaN;
  const span = starts[k * max] - starts[0];
  return span > 0 ? (k * max) / (span / 1000) : NaN;
}

/**
 * The longest time (ms) `max` consecutive starts took, over the whole windows' worth that
 * {@link steadyRate} counts: each group of `max` starts is what one window lets through, so a
 * group that took `per` or longer means the claims, not the limit, set the pace there.
 */
export function slowestFill(starts: number[], max: number): number {
  const k = Math.floor((starts.length - 1) / max);
  let slowest = NaN;
  for (let i = 0; i < k; i++) {
    const took = starts[(i + 1) * max - 1] - starts[i * max];
    if (!(took <= slowest)) slowest = took;
  }
  return slowest;
}

interface LimitedDrain {
  /** Starts/s over the steady part (see {@link steadyRate}); NaN when a task ran twice or never. */
  rate: number;
  /** The most starts in any window of `per`. */
  most: number;
  /** See {@link slowestFill}. */
  fillMs: number;
  split: number[];
}

/** N tasks drained by `processes` worker processes under `rate_limit: { max, per }`; the starts read back from the attempts. */
async function limitedDrain(ctx: BenchContext, system: JobSystem, processes: number): Promise<LimitedDrain> {
  const { wrlN: n, wrlMax: max, wrlPer: per, chunk } = ctx.config;
  const label = `WRL (${processes} worker process${processes > 1 ? 'es' : ''})`;
  return withPlace(ctx, system, async (place) => {
    const producer = await system.producer(place);
    try {
      await enqueueAll(producer, n, chunk);
    } finally {
      await producer.close();
    }
    const expectedMs = (n / max) * per * 1000;
    const { results } = await drain(ctx, system, place, n, { processes, flow: { rate_limit: { max, per } }, timeoutMs: 60_000 + 2 * expectedMs });
    const once = await checkExactlyOnce(ctx, label, system, place, n, results);
    const starts = await startTimes(place);
    const most = mostInWindow(starts, per * 1000);
    if (most > max) fail(ctx, 'RATE LIMIT VIOLATION', `${label} ${system.name}: ${most} starts in one window of ${per} s, over the limit of ${max}`);
    return { rate: once ? steadyRate(starts, max) : NaN, most, fillMs: slowestFill(starts, max), split: results.map((r) => r.count) };
  });
}

/**
 * Statements/s of one worker process whose rate window is full while due tasks wait: `max` tasks
 * run under `rate_limit: { max, per: 3600 }`, then the worker is counted as W2 idle cost counts an
 * idle one, with 1,000 due tasks held back. A task started meanwhile breaks the limit (a failure).
 */
async function heldBack(ctx: BenchContext, system: JobSystem): Promise<number> {
  const { wrlMax: max, chunk, concurrency } = ctx.config;
  return withPlace(ctx, system, async (place) => {
    const producer = await system.producer(place);
    try {
      await enqueueAll(producer, max + HOLD_WAITING, chunk);
    } finally {
      await producer.close();
    }
    const worker = await spawnWorker({ system: system.name, place, concurrency, countStatements: true, flow: { rate_limit: { max, per: HOLD_PER } } });
    let perSecond: number;
    try {
      await worker.go();
      await until(() => worker.count >= max, 60_000, `${system.name} to fill its rate window`);
      perSecond = await statementsPerSecond(worker);
    } catch (error) {
      await worker.stop().catch(() => null);
      throw error;
    }
    const { count } = await worker.stop();
    if (count !== max) fail(ctx, 'RATE LIMIT VIOLATION', `WRL held back ${system.name}: ${count} tasks started under rate_limit { max: ${max}, per: ${HOLD_PER} }`);
    return perSecond;
  });
}

/**
 * WRL rate-limited drain (taskmill only; the peers have no rate limit of this kind): N no-op tasks
 * of a handler with `rate_limit: { max, per }`, drained by one worker process and then by three at
 * once. Reports the start rate over the steady part and its ratio to the limit, the most starts in
 * any window (over the limit fails the bench), and the statements/s a worker sends while its
 * window is full and tasks are due, next to W2 idle cost of the same store.
 */
export async function wrl(ctx: BenchContext, w2c?: WorkloadReport): Promise<WorkloadReport> {
  const { wrlN: n, wrlMax: max, wrlPer: per, concurrency } = ctx.config;
  const limit = max / per;
  const systems = ctx.systems.filter((s) => s.family === 'taskmill' && !s.tuned);
  const runs = await eachRun(ctx, 'WRL', systems, async (system) => {
    const one = await limitedDrain(ctx, system, 1);
    const three = await limitedDrain(ctx, system, 3);
    return { one, three, held: await heldBack(ctx, system) };
  });
  const of = (name: string, pick: (r: { one: LimitedDrain; three: LimitedDrain; held: number }) => number) => runs.get(name)!.map(pick).filter(Number.isFinite);
  const toLimit = (rates: number[]) => (rates.length ? `${(median(rates) / limit).toFixed(3)}×` : '—');
  const slowest = (values: number[]) => (values.length ? fmt(Math.max(...values), 0) : '—');
  const most = (values: number[]) => (values.length ? String(Math.max(...values)) : '—');
  const rows = systems.map((s) => {
    const idle = w2c?.metrics[s.name]?.perSecond ?? [];
    const held = of(s.name, (r) => r.held);
    return [
      s.name,
      ...spreadCells(of(s.name, (r) => r.one.rate), 1),
      toLimit(of(s.name, (r) => r.one.rate)),
      most(of(s.name, (r) => r.one.most)),
      slowest(of(s.name, (r) => r.one.fillMs)),
      ...spreadCells(of(s.name, (r) => r.three.rate), 1),
      toLimit(of(s.name, (r) => r.three.rate)),
      most(of(s.name, (r) => r.three.most)),
      slowest(of(s.name, (r) => r.three.fillMs)),
      runs.get(s.name)!.at(-1)?.three.split.join(' / ') ?? '—',
      held.length ? fmt(median(held), 1) : '—',
      idle.length ? fmt(median(idle), 1) : '—',
      held.length && idle.length ? ratio(median(held), median(idle)) : '—',
    ];
  });
  return {
    id: 'WRL',
    metrics: Object.fromEntries(
      systems.map((s) => [
        s.name,
        {
          limit: [limit],
          max: [max],
          rate: of(s.name, (r) => r.one.rate),
          rate3: of(s.name, (r) => r.three.rate),
          most: of(s.name, (r) => r.one.most),
          most3: of(s.name, (r) => r.three.most),
          fill: of(s.name, (r) => r.one.fillMs),
          fill3: of(s.name, (r) => r.three.fillMs),
          held: of(s.name, (r) => r.held),
        },
      ]),
    ),
    title: `WRL rate-limited drain: starts/s under rate_limit { max: ${max}, per: ${per} } (${fmt(limit, 0)}/s), N = ${n.toLocaleString('en-US')} (taskmill only)`,
    method:
      `${n.toLocaleString('en-US')} no-op tasks of a handler with \`rate_limit: { max: ${max}, per: ${per} }\` enqueued with the batch API, then drained by one worker process at concurrency ${concurrency}, and on a fresh place by three worker processes started together. ` +
      `The start times are the attempts' \`started_at\` read back from the store: starts/s over the steady part (k·${max} starts, from the first start to the (k·${max} + 1)-th, for the largest k), its ratio to the limit, the most starts in any window (t − ${per} s, t] (more than ${max} fails the bench), and the longest any ${max} consecutive starts of those k·${max} took (${per * 1000} ms or more: the claims, not the limit, set the pace). ` +
      `Held back: a worker process under \`rate_limit: { max: ${max}, per: ${HOLD_PER} }\` runs ${max} tasks and then has ${HOLD_WAITING.toLocaleString('en-US')} due tasks and a full window; its statements/s over ${IDLE_COUNTING}, as W2 idle cost counts an idle worker (a task started meanwhile fails the bench). ` +
      'The peers have no cluster-wide rate limit of this kind and are not run.',
    table: markdownTable(
      [
        'system',
        'starts/s, 1 process (median)',
        'min–max',
        '÷ limit',
        'most starts in a window',
        `slowest ${max} starts, ms`,
        'starts/s, 3 processes (median)',
        'min–max',
        '÷ limit',
        'most starts in a window',
        `slowest ${max} starts, ms`,
        'split, 3 processes (last run)',
        'statements/s held back',
        'W2 idle statements/s',
        'held back ÷ idle',
      ],
      rows,
    ),
  };
}
