import { markdownTable } from '../table.js';
import type { BenchContext, WorkloadReport } from './context.js';
import { checkExactlyOnce, drain, enqueueAll, withPlace } from './drain.js';
import { eachRun, ratioCells, spreadCells } from './runs.js';

/**
 * W1 burn-down: N no-op tasks enqueued with each system's batch API, then one worker process at
 * concurrency 10 drains them. Reports the drain's tasks/s (and the batch enqueue's, for
 * reference); every task must run exactly once.
 */
export async function w1(ctx: BenchContext): Promise<WorkloadReport> {
  const { n, chunk, concurrency } = ctx.config;
  const systems = ctx.systems;
  const runs = await eachRun(ctx, 'W1', systems, (system) =>
    withPlace(ctx, system, async (place) => {
      const producer = await system.producer(place);
      let enqueue: number;
      try {
        enqueue = await enqueueAll(producer, n, chunk);
      } finally {
        await producer.close();
      }
      const { rate, startupMs, results } = await drain(ctx, system, place, n);
      const once = await checkExactlyOnce(ctx, 'W1', system, place, n, results);
      return { rate: once ? rate : NaN, enqueue, startupMs };
    }),
  );
  const peers = systems.filter((s) => s.family === 'peer');
  const drainOf = (name: string) => runs.get(name)!.map((r) => r.rate).filter(Number.isFinite);
  const rows = systems.map((s) => [
    s.name,
    ...spreadCells(drainOf(s.name), 0),
    ...spreadCells(runs.get(s.name)!.map((r) => r.enqueue), 0),
    ...ratioCells(s, peers, drainOf),
  ]);
  return {
    id: 'W1',
    metrics: Object.fromEntries(systems.map((s) => [s.name, { rate: drainOf(s.name) }])),
    title: `W1 burn-down: drain tasks/s, N = ${n.toLocaleString('en-US')}, one worker process at concurrency ${concurrency}`,
    method: `${n.toLocaleString('en-US')} no-op tasks enqueued with the batch API (${chunk.toLocaleString('en-US')} per call), then one worker process drains them; tasks/s from the worker's start to its N-th handler start. Exactly once checked on every run.`,
    table: markdownTable(
      ['system', 'drain tasks/s (median)', 'min–max', 'batch enqueue tasks/s (median)', 'min–max', ...peers.map((p) => `taskmill ÷ ${p.name}`)],
      rows,
    ),
  };
}
