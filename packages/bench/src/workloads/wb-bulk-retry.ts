import { markdownTable } from '../table.js';
import { manager, openStore } from '../systems/taskmill.js';
import type { Store } from '@taskmill/contracts';
import type { BenchContext, WorkloadReport } from './context.js';
import { checkExactlyOnce, drain, enqueueAll, withPlace } from './drain.js';
import { eachRun, spreadCells } from './runs.js';
import { median, ratio } from '../stats.js';

/** The name of the tasks the bulk retry takes: no worker process has a handler for it, so they wait once retried. */
const TARGET = 'bulk-target';

/** Completed tasks of the drain's name (the workers' output so far). */
async function completed(store: Store): Promise<number> {
  return (await store.getTaskStatsByTag(undefined, 'completed')).filter((s) => s.name === 'noop').reduce((sum, s) => sum + s.count, 0);
}

/**
 * WB bulk retry: does a bulk retry of many tasks (docs/behaviour.md#bulk-actions) slow the workers
 * down? On one place: a drain of M no-op tasks by one worker process alone (as W1), then N tasks
 * of another name made permanently failed (by a bulk cancel), then a second drain of M tasks
 * during which, once the worker has started, this process runs `bulk('retry')` over the N tasks
 * (batches of 500, each its own transaction). The workers' rate during the bulk run is the
 * completed tasks counted in the store at its start and end over its duration. taskmill's stores
 * only (the peers have no such API). No target: the figures are printed.
 */
export async function wb(ctx: BenchContext): Promise<WorkloadReport> {
  const { chunk, concurrency, wbN: n, wbDrain: m } = ctx.config;
  const systems = ctx.systems.filter((s) => s.family === 'taskmill' && !s.tuned);
  const notes: string[] = [];
  const runs = await eachRun(ctx, 'WB', systems, (system) =>
    withPlace(ctx, system, async (place) => {
      const producer = await system.producer(place);
      const store = openStore(place);
      const tm = manager(store);
      try {
        await enqueueAll(producer, m, chunk);
        const alone = await drain(ctx, system, place, m);
        if (!(await checkExactlyOnce(ctx, 'WB', system, place, m, alone.results))) return { alone: NaN, during: NaN, bulk: NaN };
        tm.use(TARGET, () => null);
        for (let from = 0; from < n; from += 100_000) {
          await tm.asyncMany(Array.from({ length: Math.min(100_000, n - from) }, () => ({ name: TARGET })));
        }
        const cancelled = await tm.bulk('cancel', { name: TARGET }, { batch_size: 2000 });
        if (cancelled.changed !== n) throw new Error(`bulk cancel changed ${cancelled.changed} of ${n}`);
        await enqueueAll(producer, m, chunk, (i) => ({ i: m + i }));
        const second = drain(ctx, system, place, m);
        let drained: Awaited<typeof second> | undefined;
        void second.then((d) => (drained = d), () => undefined);
        const deadline = Date.now() + 60_000;
        while ((await completed(store)) <= m) {
          if (Date.now() > deadline) throw new Error(`${system.name}: the second drain did not start within 60 s`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        const c0 = await completed(store);
        const t0 = performance.now();
        const result = await tm.bulk('retry', { name: TARGET, status: 'permanently_failed' });
        const seconds = (performance.now() - t0) / 1000;
        const c1 = await completed(store);
        if (result.changed !== n) throw new Error(`bulk retry changed ${result.changed} of ${n}`);
        if (drained !== undefined || c1 >= 2 * m) notes.push(`${system.name}: the second drain ended before the bulk retry did (raise BENCH_WB_DRAIN); its rate during the bulk run is understated.`);
        await second;
        return { alone: alone.rate, during: (c1 - c0) / seconds, bulk: n / seconds };
      } finally {
        await tm.stop();
        await store.close();
        await producer.close();
      }
    }),
  );
  const of = (name: string, key: 'alone' | 'during' | 'bulk') => runs.get(name)!.map((r) => r[key]).filter(Number.isFinite);
  const rows = systems.map((s) => [
    s.name,
    ...spreadCells(of(s.name, 'alone'), 0),
    ...spreadCells(of(s.name, 'during'), 0),
    of(s.name, 'alone').length && of(s.name, 'during').length ? ratio(median(of(s.name, 'during')), median(of(s.name, 'alone'))) : '—',
    ...spreadCells(of(s.name, 'bulk'), 0),
  ]);
  return {
    id: 'WB',
    metrics: Object.fromEntries(systems.map((s) => [s.name, { alone: of(s.name, 'alone'), during: of(s.name, 'during'), bulk: of(s.name, 'bulk') }])),
    title: `WB bulk retry: the workers' tasks/s while ${n.toLocaleString('en-US')} tasks are retried in bulk`,
    method: `${m.toLocaleString('en-US')} no-op tasks drained by one worker process at concurrency ${concurrency} (as W1): "alone". Then ${n.toLocaleString('en-US')} tasks of another name made permanently failed (a bulk cancel) and ${m.toLocaleString('en-US')} more no-op tasks drained; once that drain has started, this process runs \`tm.bulk('retry', { name, status: 'permanently_failed' })\` (batches of 500, each its own transaction) over the ${n.toLocaleString('en-US')}: "during" is the no-op tasks completed in the store between its start and its end, over its duration. The retried tasks have no handler in the worker process, so they only wait.`,
    table: markdownTable(['system', 'workers tasks/s alone (median)', 'min–max', 'during the bulk retry (median)', 'min–max', 'during ÷ alone', 'bulk retried tasks/s (median)', 'min–max'], rows),
    notes,
  };
}
