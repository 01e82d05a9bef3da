import { fmt, median, percentile } from '../stats.js';
import { markdownTable } from '../table.js';
import type { ChildResult } from '../worker-child.js';
import { spawnWorker, until } from '../worker-process.js';
import type { BenchContext, WorkloadReport } from './context.js';
import { sleep, withPlace } from './drain.js';
import { eachRun, ratioCells, spreadCells } from './runs.js';

/**
 * W2 latency across processes: an idle worker process; this process enqueues tasks one at a time
 * at a fixed rate; the handler records Date.now() minus the enqueue time carried in the payload
 * (both clocks are this machine's). One untimed task first, so that connection set-up is not
 * counted as latency.
 */
export async function w2(ctx: BenchContext): Promise<WorkloadReport> {
  const { w2Tasks, w2Rate, concurrency } = ctx.config;
  const gap = 1000 / w2Rate;
  const systems = ctx.systems.filter((s) => !s.tuned);
  const runs = await eachRun(ctx, 'W2', systems, (system) =>
    withPlace(ctx, system, async (place) => {
      const worker = await spawnWorker({ system: system.name, place, concurrency });
      const producer = await system.producer(place);
      let result: ChildResult | undefined;
      try {
        await worker.go();
        await producer.enqueue({ i: -1 });
        await until(() => worker.count >= 1, 30_000, `${system.name} to run the untimed task`);
        await sleep(1500); // let the worker settle into its idle wait
        const t0 = performance.now();
        for (let k = 0; k < w2Tasks; k++) {
          const wait = t0 + k * gap - performance.now();
          if (wait > 0) await sleep(wait);
          await producer.enqueue({ i: k, t: Date.now() });
        }
        await until(() => worker.count >= w2Tasks + 1, 60_000, `${system.name} to run ${w2Tasks} tasks`);
      } finally {
        await producer.close();
        result = await worker.stop();
      }
      const lat = result!.latencies;
      if (lat.length !== w2Tasks) throw new Error(`${system.name}: ${lat.length} latencies for ${w2Tasks} tasks`);
      return { p50: percentile(lat, 50), p95: percentile(lat, 95), p99: percentile(lat, 99), max: Math.max(...lat) };
    }),
  );
  const peers = systems.filter((s) => s.family === 'peer');
  const of = (key: 'p50' | 'p95' | 'p99' | 'max') => (name: string) => runs.get(name)!.map((r) => r[key]);
  const rows = systems.map((s) => [
    s.name,
    ...spreadCells(of('p50')(s.name)),
    ...spreadCells(of('p95')(s.name)),
    ...spreadCells(of('p99')(s.name)),
    runs.get(s.name)!.length ? fmt(median(of('max')(s.name))) : '—',
    ...ratioCells(s, peers, of('p50')),
  ]);
  return {
    id: 'W2',
    metrics: Object.fromEntries(systems.map((s) => [s.name, { p50: of('p50')(s.name), p95: of('p95')(s.name), p99: of('p99')(s.name) }])),
    title: `W2 enqueue→handler-start latency across processes, ms: ${w2Tasks} tasks at ${w2Rate}/s into an idle worker`,
    method: `An idle worker process (concurrency ${concurrency}); this process enqueues ${w2Tasks} tasks one at a time, awaited, every ${fmt(gap)} ms; the handler records Date.now() minus the enqueue time in the payload. Percentiles per run (nearest rank), then median and min–max over runs. Ratio columns compare p50 (lower is better).`,
    table: markdownTable(
      ['system', 'p50', 'min–max', 'p95', 'min–max', 'p99', 'min–max', 'max (median)', ...peers.map((p) => `p50 taskmill ÷ ${p.name}`)],
      rows,
    ),
  };
}
