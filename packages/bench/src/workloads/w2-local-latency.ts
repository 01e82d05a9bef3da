import { fmt, median, percentile } from '../stats.js';
import { localLatencies } from '../systems/taskmill.js';
import { markdownTable } from '../table.js';
import type { BenchContext, WorkloadReport } from './context.js';
import { withPlace } from './drain.js';
import { eachRun, spreadCells } from './runs.js';

/**
 * W2 in one process (taskmill only; the SQLite target is ≤ 1 ms there): the same
 * enqueues as W2, but the enqueuing TaskManager is the started worker itself, so its local wake-up
 * serves, whatever the store's cross-process wake-ups.
 */
export async function w2Local(ctx: BenchContext): Promise<WorkloadReport> {
  const { w2Tasks, w2Rate, concurrency } = ctx.config;
  const systems = ctx.systems.filter((s) => s.family === 'taskmill' && !s.tuned);
  const runs = await eachRun(ctx, 'W2 in one process', systems, (system) =>
    withPlace(ctx, system, async (place) => {
      const lat = await localLatencies(place, w2Tasks, 1000 / w2Rate, concurrency);
      return { p50: percentile(lat, 50), p95: percentile(lat, 95), p99: percentile(lat, 99), max: Math.max(...lat) };
    }),
  );
  const of = (key: 'p50' | 'p95' | 'p99' | 'max') => (name: string) => runs.get(name)!.map((r) => r[key]);
  return {
    id: 'W2b',
    metrics: Object.fromEntries(systems.map((s) => [s.name, { p50: of('p50')(s.name) }])),
    title: `W2 in one process (taskmill): enqueue→handler-start latency, ms, ${w2Tasks} tasks at ${w2Rate}/s`,
    method: `One started TaskManager (concurrency ${concurrency}) enqueues ${w2Tasks} tasks to itself one at a time, awaited, every ${fmt(1000 / w2Rate)} ms, and runs them; latency from performance.now() at the enqueue call to the handler start.`,
    table: markdownTable(
      ['system', 'p50', 'min–max', 'p95', 'min–max', 'p99', 'min–max', 'max (median)'],
      systems.map((s) => [
        s.name,
        ...spreadCells(of('p50')(s.name), 2),
        ...spreadCells(of('p95')(s.name), 2),
        ...spreadCells(of('p99')(s.name), 2),
        runs.get(s.name)!.length ? fmt(median(of('max')(s.name)), 2) : '—',
      ]),
    ),
  };
}
