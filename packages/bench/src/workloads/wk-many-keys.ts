import { fmt, median, ratio } from '../stats.js';
import { markdownTable } from '../table.js';
import { queryPlace } from '../systems/taskmill.js';
import type { Place } from '../systems/types.js';
import type { BenchContext, WorkloadReport } from './context.js';
import { checkExactlyOnce, drain, enqueueAll, fail, withPlace } from './drain.js';
import { eachRun, spreadCells } from './runs.js';

/**
 * The most attempts of one concurrency key that were running at once, from the attempt rows: an
 * attempt runs from its `started_at` (the claim) to its `ended_at` (the finish). In ms, so an
 * attempt claimed in the same millisecond another of its key finished counts as after it, as the
 * claim that counted the key's running tasks after that finish committed saw it. An attempt still
 * open runs to the end.
 */
async function mostRunningPerKey(place: Place): Promise<number> {
  const rows = await queryPlace(
    place,
    'SELECT t.concurrency_key AS k, a.started_at AS s, a.ended_at AS e FROM taskmill_task_attempts a JOIN taskmill_tasks t ON t.id = a.task_id',
  );
  const byKey = new Map<string, [number, number][]>();
  for (const row of rows) {
    const key = String(row.k);
    const list = byKey.get(key) ?? byKey.set(key, []).get(key)!;
    // ends before starts at the same time: +1 for a start, -1 for an end, sorted by (time, delta)
    list.push([Number(row.s), 1], [row.e === null ? Infinity : Number(row.e), -1]);
  }
  let most = 0;
  for (const changes of byKey.values()) {
    changes.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let running = 0;
    for (const [, delta] of changes) most = Math.max(most, (running += delta));
  }
  return most;
}

/**
 * WK many-keys drain (taskmill only; the peers have no per-key limit with fair share): keys ×
 * tasks-per-key no-op tasks with a `concurrency_key` each, enqueued key after key in turn (task i
 * has key i mod keys), of a handler with `max_concurrent_per_key: 1`, drained by one worker
 * process. Reports tasks/s and its ratio to W1's plain drain of the same store in this run, checks
 * exactly once, and from the attempt rows that no key ever had two tasks running at once.
 */
export async function wk(ctx: BenchContext, w1?: WorkloadReport): Promise<WorkloadReport> {
  const { wkKeys: keys, wkPerKey: perKey, chunk, concurrency } = ctx.config;
  const n = keys * perKey;
  const width = String(keys - 1).length;
  const keyOf = (i: number) => `k${String(i % keys).padStart(width, '0')}`;
  const systems = ctx.systems.filter((s) => s.family === 'taskmill' && !s.tuned);
  const runs = await eachRun(ctx, 'WK', systems, (system) =>
    withPlace(ctx, system, async (place) => {
      const producer = await system.producer(place);
      let enqueue: number;
      try {
        enqueue = await enqueueAll(producer, n, chunk, (i) => ({ i, key: keyOf(i) }));
      } finally {
        await producer.close();
      }
      const { rate, results } = await drain(ctx, system, place, n, { flow: { max_concurrent_per_key: 1 } });
      const once = await checkExactlyOnce(ctx, 'WK', system, place, n, results);
      const most = await mostRunningPerKey(place);
      if (most > 1) fail(ctx, 'PER-KEY LIMIT VIOLATION', `WK ${system.name}: a key had ${most} tasks running at once under max_concurrent_per_key 1`);
      return { rate: once ? rate : NaN, enqueue, most, seconds: n / rate };
    }),
  );
  const rateOf = (name: string) => runs.get(name)!.map((r) => r.rate).filter(Number.isFinite);
  const rows = systems.map((s) => {
    const w1Rates = w1?.metrics[s.name]?.rate ?? [];
    const wk = rateOf(s.name);
    const mine = runs.get(s.name)!;
    return [
      s.name,
      ...spreadCells(wk, 0),
      ...spreadCells(mine.map((r) => r.enqueue), 0),
      w1Rates.length ? fmt(median(w1Rates), 0) : '—',
      w1Rates.length && wk.length ? ratio(median(wk), median(w1Rates)) : '—',
      mine.length ? String(Math.max(...mine.map((r) => r.most))) : '—',
      mine.length ? `${fmt(median(mine.map((r) => r.seconds)), 0)} s` : '—',
    ];
  });
  return {
    id: 'WK',
    metrics: Object.fromEntries(systems.map((s) => [s.name, { rate: rateOf(s.name), most: runs.get(s.name)!.map((r) => r.most) }])),
    title: `WK many keys: drain tasks/s, ${keys.toLocaleString('en-US')} keys × ${perKey} tasks (N = ${n.toLocaleString('en-US')}), max_concurrent_per_key 1, one worker process at concurrency ${concurrency} (taskmill only)`,
    method:
      `${n.toLocaleString('en-US')} no-op tasks of a handler with \`max_concurrent_per_key: 1\`, task i with \`concurrency_key\` k(i mod ${keys.toLocaleString('en-US')}), enqueued with the batch API (${chunk.toLocaleString('en-US')} per call), then one worker process drains them; tasks/s from the worker's start to its N-th handler start, as W1, and its ratio to W1's plain drain of the same store in this run. ` +
      "Exactly once checked on every run, and from the attempt rows (claim to finish, in ms) that no key ever had two tasks running at once. The peers have no per-key limit with fair share across keys and are not run.",
    table: markdownTable(
      ['system', 'drain tasks/s (median)', 'min–max', 'batch enqueue tasks/s (median)', 'min–max', 'W1 drain tasks/s (this run)', 'WK ÷ W1', 'most running per key', 'drain time (median)'],
      rows,
    ),
  };
}
