import { markdownTable } from '../table.js';
import type { BenchContext, WorkloadReport } from './context.js';
import { withPlace } from './drain.js';
import { eachRun, ratioCells, spreadCells } from './runs.js';

/** W4: awaited single enqueues, one after another, no worker running: enqueues/s. */
export async function w4(ctx: BenchContext): Promise<WorkloadReport> {
  const { w4N } = ctx.config;
  const systems = ctx.systems.filter((s) => !s.tuned);
  const runs = await eachRun(ctx, 'W4', systems, (system) =>
    withPlace(ctx, system, async (place) => {
      const producer = await system.producer(place);
      try {
        await producer.enqueue({ i: -1 }); // connect first: W4 times enqueues, not connection set-up
        const t0 = performance.now();
        for (let i = 0; i < w4N; i++) await producer.enqueue({ i });
        return w4N / ((performance.now() - t0) / 1000);
      } finally {
        await producer.close();
      }
    }),
  );
  const peers = systems.filter((s) => s.family === 'peer');
  const of = (name: string) => runs.get(name)!;
  return {
    id: 'W4',
    metrics: Object.fromEntries(systems.map((s) => [s.name, { rate: of(s.name) }])),
    title: `W4 one-by-one enqueue: ${w4N.toLocaleString('en-US')} awaited single enqueues, enqueues/s`,
    method: `${w4N.toLocaleString('en-US')} awaited single enqueues (taskmill \`async()\`, graphile-worker \`addJob\`, pg-boss \`send\`, BullMQ \`add\`) from one process, no worker running, after one untimed enqueue that opens the connection.`,
    table: markdownTable(
      ['system', 'enqueues/s (median)', 'min–max', ...peers.map((p) => `taskmill ÷ ${p.name}`)],
      systems.map((s) => [s.name, ...spreadCells(of(s.name), 0), ...ratioCells(s, peers, of)]),
    ),
  };
}
