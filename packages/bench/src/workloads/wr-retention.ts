import { markdownTable } from '../table.js';
import { manager, openStore } from '../systems/taskmill.js';
import type { BenchContext, WorkloadReport } from './context.js';
import { checkExactlyOnce, drain, enqueueAll, withPlace } from './drain.js';
import { eachRun, spreadCells } from './runs.js';
import { median, ratio } from '../stats.js';

/**
 * WR retention: can retention keep up with the workers? N no-op tasks enqueued and drained by one
 * worker process (as W1), then, on the same place, every one of them deleted with its events and
 * attempts by `runRetention` (batches of 100, each its own transaction) with the policy's clock a
 * minute ahead, so all N have expired. Reports tasks deleted/s next to the drain's tasks/s of the
 * same run, and their ratio; retention keeps up with a busy system only when it deletes well
 * faster than the workers finish tasks. taskmill's stores only (the peers have no such API).
 */
export async function wr(ctx: BenchContext): Promise<WorkloadReport> {
  const { n, chunk, concurrency } = ctx.config;
  const systems = ctx.systems.filter((s) => s.family === 'taskmill' && !s.tuned);
  const runs = await eachRun(ctx, 'WR', systems, (system) =>
    withPlace(ctx, system, async (place) => {
      const producer = await system.producer(place);
      try {
        await enqueueAll(producer, n, chunk);
      } finally {
        await producer.close();
      }
      const { rate, results } = await drain(ctx, system, place, n);
      if (!(await checkExactlyOnce(ctx, 'WR', system, place, n, results))) return { drain: NaN, deleted: NaN };
      const store = openStore(place);
      const tm = manager(store);
      try {
        const t0 = performance.now();
        const deleted = await tm.runRetention({ expire_time: 1, now: Date.now() + 60_000 });
        const seconds = (performance.now() - t0) / 1000;
        const left = (await store.queryTasks({ limit: 1 })).items.length;
        // every task had at least its created, claimed and completed events and one attempt
        if (deleted.tasks_deleted !== n || deleted.attempts_deleted !== n || deleted.events_deleted < 3 * n || left !== 0) {
          ctx.failures.push(`WR ${system.name}: retention deleted ${JSON.stringify(deleted)} of ${n} tasks; ${left > 0 ? 'tasks' : 'no task'} left`);
          return { drain: rate, deleted: NaN };
        }
        return { drain: rate, deleted: n / seconds, events: deleted.events_deleted };
      } finally {
        await tm.stop();
        await store.close();
      }
    }),
  );
  const of = (name: string, key: 'drain' | 'deleted') => runs.get(name)!.map((r) => r[key]).filter(Number.isFinite);
  const rows = systems.map((s) => [
    s.name,
    ...spreadCells(of(s.name, 'drain'), 0),
    ...spreadCells(of(s.name, 'deleted'), 0),
    of(s.name, 'drain').length && of(s.name, 'deleted').length ? ratio(median(of(s.name, 'deleted')), median(of(s.name, 'drain'))) : '—',
  ]);
  return {
    id: 'WR',
    metrics: Object.fromEntries(systems.map((s) => [s.name, { drain: of(s.name, 'drain'), deleted: of(s.name, 'deleted') }])),
    title: `WR retention: tasks deleted/s against the drain's tasks/s, N = ${n.toLocaleString('en-US')}`,
    method: `${n.toLocaleString('en-US')} no-op tasks enqueued and drained by one worker process at concurrency ${concurrency} (as W1), then all of them deleted with their events and attempts by one \`runRetention\` (batches of 100, each its own transaction; the policy's clock a minute ahead, so every task has expired). No worker runs during the deletion. Each run checks that all N tasks and their attempts were deleted and nothing is left.`,
    table: markdownTable(['system', 'drain tasks/s (median)', 'min–max', 'tasks deleted/s (median)', 'min–max', 'deleted ÷ drain'], rows),
  };
}
