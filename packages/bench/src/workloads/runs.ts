import { median, ratio, spread } from '../stats.js';
import type { JobSystem } from '../systems/types.js';
import type { BenchContext } from './context.js';

/**
 * Run `measure` `runs` times on every system, round-robin (run 1 of every system, then run 2…)
 * so that a slow minute of the machine hits all systems alike. A failed run is logged, counted in
 * `ctx.failures`, and leaves a gap.
 */
export async function eachRun<T>(
  ctx: BenchContext,
  workload: string,
  systems: JobSystem[],
  measure: (system: JobSystem, run: number) => Promise<T>,
  runs = ctx.config.runs,
): Promise<Map<string, T[]>> {
  const out = new Map<string, T[]>(systems.map((s) => [s.name, []]));
  for (let run = 1; run <= runs; run++) {
    for (const system of systems) {
      const t0 = Date.now();
      try {
        const value = await measure(system, run);
        out.get(system.name)!.push(value);
        ctx.log(`${workload} run ${run}/${runs} ${system.name}: ${JSON.stringify(value)} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      } catch (error) {
        const message = `${workload} run ${run} ${system.name} failed: ${(error as Error).stack ?? error}`;
        ctx.failures.push(message);
        ctx.log(message);
      }
    }
  }
  return out;
}

/**
 * Cells of the ratio columns: for a taskmill row, median(taskmill) / median(peer) for each peer;
 * for a peer row, dashes.
 */
export function ratioCells(system: JobSystem, peers: JobSystem[], value: (name: string) => number[]): string[] {
  if (system.family !== 'taskmill') return peers.map(() => '—');
  const mine = value(system.name);
  return peers.map((peer) => {
    const theirs = value(peer.name);
    return mine.length && theirs.length ? ratio(median(mine), median(theirs)) : '—';
  });
}

/** `median` and `min–max` cells of some runs. */
export function spreadCells(values: number[], digits = 1): string[] {
  const s = spread(values, digits);
  return [s.median, s.range];
}
