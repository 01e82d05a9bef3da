import { fmt, mb } from '../stats.js';
import { markdownTable } from '../table.js';
import type { BenchContext, WorkloadReport } from './context.js';
import { checkExactlyOnce, drain, enqueueAll, withPlace } from './drain.js';
import { eachRun } from './runs.js';

/**
 * W6 memory: a worker process's RSS, sampled every N/200 tasks while it drains N tasks: at its start,
 * after warm-up (the first sample at or past 10% of N), at the end, and the highest. One run.
 */
export async function w6(ctx: BenchContext): Promise<WorkloadReport> {
  const { w6N, chunk } = ctx.config;
  const systems = ctx.systems.filter((s) => ctx.config.w6Systems.includes(s.name));
  const runs = await eachRun(
    ctx,
    'W6',
    systems,
    (system) =>
      withPlace(ctx, system, async (place) => {
        const producer = await system.producer(place);
        try {
          await enqueueAll(producer, w6N, chunk);
        } finally {
          await producer.close();
        }
        const { rate, results } = await drain(ctx, system, place, w6N, { rssEveryTasks: Math.max(1, Math.round(w6N / 200)) });
        await checkExactlyOnce(ctx, 'W6', system, place, w6N, results);
        const samples = results[0].rss;
        const warm = samples.find((s) => s.count >= w6N / 10) ?? samples[0];
        const end = samples.find((s) => s.count >= w6N) ?? samples.at(-1)!;
        return {
          rate,
          start: samples[0].rss,
          warm: warm.rss,
          end: end.rss,
          max: Math.max(...samples.map((s) => s.rss)),
          heapWarm: warm.heapUsed,
          heapEnd: end.heapUsed,
        };
      }),
    1,
  );
  const rows = systems.flatMap((s) => {
    const r = runs.get(s.name)![0];
    if (!r) return [[s.name, '—', '—', '—', '—', '—', '—', '—']];
    return [[s.name, mb(r.start), mb(r.warm), mb(r.end), mb(r.max), `${r.end >= r.warm ? '+' : ''}${mb(r.end - r.warm)}`, `${mb(r.heapWarm)} → ${mb(r.heapEnd)}`, fmt(r.rate, 0)]];
  });
  return {
    id: 'W6',
    metrics: Object.fromEntries(systems.map((s) => [s.name, { warm: runs.get(s.name)!.map((r) => r.warm), end: runs.get(s.name)!.map((r) => r.end) }])),
    title: `W6 memory: worker RSS across ${w6N.toLocaleString('en-US')} tasks, MB (one run)`,
    method: `${w6N.toLocaleString('en-US')} no-op tasks enqueued with the batch API, drained by one worker process at concurrency ${ctx.config.concurrency}; RSS and V8 heap sampled every ${Math.max(1, Math.round(w6N / 200)).toLocaleString('en-US')} tasks (in the handler), at the start and after the stop. "after warm-up" is the first sample at or past 10% of the tasks. Systems: ${systems.map((s) => s.name).join(', ')}.`,
    table: markdownTable(['system', 'RSS at start', 'after warm-up', 'at end', 'max', 'end − warm-up', 'heap used warm-up → end', 'tasks/s'], rows),
  };
}
