import { median, ratio } from '../stats.js';
import { markdownTable } from '../table.js';
import type { BenchContext, WorkloadReport } from './context.js';
import { checkExactlyOnce, drain, enqueueAll, withPlace } from './drain.js';
import { eachRun, ratioCells, spreadCells } from './runs.js';

/**
 * W3: the same N tasks drained by two worker processes at once (concurrency 10 each); tasks/s,
 * how the work split, and exactly once across the two (a violation fails the bench).
 */
export async function w3(ctx: BenchContext, w1?: WorkloadReport): Promise<WorkloadReport> {
  const { n, chunk, concurrency } = ctx.config;
  const systems = ctx.systems;
  const runs = await eachRun(ctx, 'W3', systems, (system) =>
    withPlace(ctx, system, async (place) => {
      const producer = await system.producer(place);
      try {
        await enqueueAll(producer, n, chunk);
      } finally {
        await producer.close();
      }
      const { rate, results } = await drain(ctx, system, place, n, { processes: 2 });
      const once = await checkExactlyOnce(ctx, 'W3', system, place, n, results);
      return { rate: once ? rate : NaN, split: results.map((r) => r.count) };
    }),
  );
  const peers = systems.filter((s) => s.family === 'peer');
  const rateOf = (name: string) => runs.get(name)!.map((r) => r.rate).filter(Number.isFinite);
  const rows = systems.map((s) => {
    const w1Rates = w1?.metrics[s.name]?.rate ?? [];
    const w3 = rateOf(s.name);
    const last = runs.get(s.name)!.at(-1);
    return [
      s.name,
      ...spreadCells(w3, 0),
      w1Rates.length && w3.length ? ratio(median(w3), median(w1Rates)) : '—',
      last ? last.split.join(' / ') : '—',
      ...ratioCells(s, peers, rateOf),
    ];
  });
  return {
    id: 'W3',
    metrics: Object.fromEntries(systems.map((s) => [s.name, { rate: rateOf(s.name) }])),
    title: `W3 two worker processes: tasks/s, N = ${n.toLocaleString('en-US')}, concurrency ${concurrency} each`,
    method: `${n.toLocaleString('en-US')} no-op tasks enqueued with the batch API, then two worker processes started together drain them; tasks/s from the first start to the last handler start. Every task ran exactly once across both processes, checked on every run.`,
    table: markdownTable(
      ['system', 'tasks/s (median)', 'min–max', 'W3 ÷ W1', 'split (last run)', ...peers.map((p) => `taskmill ÷ ${p.name}`)],
      rows,
    ),
  };
}
