import type { FlowOptions, JobSystem, Payload, Place, Producer } from '../systems/types.js';
import type { ChildResult } from '../worker-child.js';
import { spawnWorker, until } from '../worker-process.js';
import type { BenchContext } from './context.js';

/** Enqueue payloads 0..n-1 with the batch API, `chunk` per call; resolves to tasks/s. */
export async function enqueueAll(producer: Producer, n: number, chunk: number, payload: (i: number) => Payload = (i) => ({ i })): Promise<number> {
  const t0 = performance.now();
  for (let from = 0; from < n; from += chunk) {
    const batch: Payload[] = [];
    for (let i = from; i < Math.min(n, from + chunk); i++) batch.push(payload(i));
    await producer.enqueueMany(batch);
  }
  return n / ((performance.now() - t0) / 1000);
}

/** A drain's outcome. */
export interface Drain {
  /** Tasks per second from the first worker's start to the last handler start. */
  rate: number;
  /** ms from the first worker's start to the first handler start (start-up, first claim). */
  startupMs: number;
  results: ChildResult[];
}

/**
 * Start `processes` worker processes together on a place holding `n` tasks, wait until they have
 * run `n` handlers, stop them gracefully and collect what they saw. Start-up (loading modules) is
 * not timed: the clock starts when the first process is told to go and creates its worker.
 */
export async function drain(
  ctx: BenchContext,
  system: JobSystem,
  place: Place,
  n: number,
  options: { processes?: number; rssEveryTasks?: number; countStatements?: boolean; markAt?: number; flow?: FlowOptions; timeoutMs?: number } = {},
): Promise<Drain> {
  const workers = await Promise.all(
    Array.from({ length: options.processes ?? 1 }, () =>
      spawnWorker({
        system: system.name,
        place,
        concurrency: ctx.config.concurrency,
        rssEveryTasks: options.rssEveryTasks,
        countStatements: options.countStatements,
        markAt: options.markAt,
        flow: options.flow,
      }),
    ),
  );
  try {
    await Promise.all(workers.map((w) => w.go()));
    // generous: 60 s plus 20 tasks/s, far below any system's rate here (a rate-limited drain says its own)
    await until(() => workers.reduce((sum, w) => sum + w.count, 0) >= n, options.timeoutMs ?? 60_000 + n * 50, `${system.name} to run ${n} tasks`);
  } catch (error) {
    await Promise.all(workers.map((w) => w.stop().catch(() => null)));
    throw error;
  }
  const results = await Promise.all(workers.map((w) => w.stop()));
  const start = Math.min(...results.map((r) => r.startAt));
  const end = options.markAt ? Math.max(...results.map((r) => r.markedAt)) : Math.max(...results.map((r) => r.lastAt));
  return { rate: n / ((end - start) / 1000), startupMs: Math.min(...results.map((r) => r.firstAt)) - start, results };
}

/**
 * Exactly once: every payload number 0..n-1 ran once, no number twice, and the store holds no
 * unfinished task. Violations go to `ctx.failures` (the bench then exits non-zero).
 */
export async function checkExactlyOnce(ctx: BenchContext, label: string, system: JobSystem, place: Place, n: number, results: ChildResult[]): Promise<boolean> {
  const seen = new Uint8Array(n);
  let duplicates = 0;
  let strays = 0;
  let distinct = 0;
  for (const r of results) {
    for (const i of r.ids) {
      if (!Number.isInteger(i) || i < 0 || i >= n) strays++;
      else if (seen[i]) duplicates++;
      else {
        seen[i] = 1;
        distinct++;
      }
    }
  }
  const unfinished = await system.unfinished(place);
  const problems: string[] = [];
  if (duplicates) problems.push(`${duplicates} tasks ran more than once`);
  if (distinct < n) problems.push(`${n - distinct} tasks never ran`);
  if (strays) problems.push(`${strays} unknown payloads`);
  if (unfinished) problems.push(`${unfinished} tasks not completed in the store after a graceful stop`);
  if (problems.length === 0) return true;
  fail(ctx, 'EXACTLY-ONCE VIOLATION', `${label} ${system.name}: ${problems.join('; ')} (handler runs per process: ${results.map((r) => r.count).join(', ')})`);
  return false;
}

/** Record a violation in `ctx.failures` (the bench then exits non-zero) and log it under `kind`. */
export function fail(ctx: BenchContext, kind: string, message: string): void {
  ctx.failures.push(message);
  ctx.log(`${kind}: ${message}`);
}

/** Run `fn` on a fresh place of `system`, destroying the place afterwards whatever happens. */
export async function withPlace<T>(ctx: BenchContext, system: JobSystem, fn: (place: Place) => Promise<T>): Promise<T> {
  const place = await system.create(ctx.runId());
  try {
    return await fn(place);
  } finally {
    await system.destroy(place).catch((error) => ctx.log(`cleanup of ${system.name} failed: ${(error as Error).message}`));
  }
}

/** Sleep. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
