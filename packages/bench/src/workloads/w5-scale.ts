import { median, ratio } from '../stats.js';
import { fillPending } from '../systems/taskmill.js';
import type { JobSystem, Place } from '../systems/types.js';
import { markdownTable } from '../table.js';
import type { BenchContext, WorkloadReport } from './context.js';
import { drain, withPlace } from './drain.js';
import { eachRun, spreadCells } from './runs.js';

/**
 * W5 scale: does claiming slow down as the queue grows? One worker process runs the first M tasks
 * of a table holding `small` pending tasks, then of one holding `large`; the ratio large ÷ small
 * of the tasks/s is the figure (1.0 = no slow-down). taskmill's stores only. The large table is
 * filled once per store and each run takes M tasks off it, so it holds `large` − (run − 1) × M.
 */
export async function w5(ctx: BenchContext): Promise<WorkloadReport> {
  const { w5Small, w5Large, w5Measure } = ctx.config;
  const m = Math.min(w5Measure, w5Small);
  const systems = ctx.systems.filter((s) => s.family === 'taskmill' && !s.tuned);
  const timed = async (system: JobSystem, place: Place) => (await drain(ctx, system, place, m, { markAt: m })).rate;

  const small = await eachRun(ctx, `W5 (${w5Small.toLocaleString('en-US')} pending)`, systems, (system) =>
    withPlace(ctx, system, async (place) => {
      await fillPending(system, place, w5Small);
      return timed(system, place);
    }),
  );

  const large = new Map<string, number[]>();
  const fillSeconds = new Map<string, number>();
  for (const system of systems) {
    await withPlace(ctx, system, async (place) => {
      const t0 = Date.now();
      await fillPending(system, place, w5Large);
      fillSeconds.set(system.name, (Date.now() - t0) / 1000);
      ctx.log(`W5 ${system.name}: filled ${w5Large.toLocaleString('en-US')} pending tasks in ${fillSeconds.get(system.name)!.toFixed(1)} s`);
      const runs = await eachRun(ctx, `W5 (${w5Large.toLocaleString('en-US')} pending)`, [system], () => timed(system, place));
      large.set(system.name, runs.get(system.name)!);
    }).catch((error) => {
      ctx.failures.push(`W5 ${system.name} large fill failed: ${(error as Error).message}`);
      ctx.log(`W5 ${system.name} large fill failed: ${(error as Error).stack}`);
    });
  }

  const rows = systems.map((s) => {
    const a = small.get(s.name) ?? [];
    const b = large.get(s.name) ?? [];
    return [
      s.name,
      ...spreadCells(a, 0),
      ...spreadCells(b, 0),
      a.length && b.length ? ratio(median(b), median(a)) : '—',
      fillSeconds.has(s.name) ? `${fillSeconds.get(s.name)!.toFixed(0)} s` : '—',
    ];
  });
  const k = (x: number) => x.toLocaleString('en-US');
  return {
    id: 'W5',
    metrics: Object.fromEntries(systems.map((s) => [s.name, { small: small.get(s.name) ?? [], large: large.get(s.name) ?? [] }])),
    title: `W5 scale: claim throughput with ${k(w5Large)} pending tasks vs with ${k(w5Small)} (tasks/s of the first ${k(m)})`,
    method: `Pending no-op tasks written straight into the tasks table (one enqueued through \`async()\`, copied by the database), then one worker process at concurrency ${ctx.config.concurrency} runs ${k(m)} of them; tasks/s to the ${k(m)}-th handler start. The ${k(w5Small)}-task table is made fresh for each run; the ${k(w5Large)}-task table once per store, each run taking ${k(m)} off it. taskmill's stores only (peers not measured in W5).`,
    table: markdownTable(
      ['system', `tasks/s, ${k(w5Small)} pending (median)`, 'min–max', `tasks/s, ${k(w5Large)} pending (median)`, 'min–max', 'ratio large ÷ small', 'fill time'],
      rows,
    ),
  };
}
