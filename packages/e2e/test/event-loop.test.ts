import { expect } from 'vitest';
import { backends } from '../src/backends.js';
import { describeBackends } from '../src/harness.js';

/*
 * A worker draining a long queue must keep yielding to the event loop: its worker and task
 * heartbeats, attempt timeouts and IPC all run on timers. With a synchronous driver (SQLite) and
 * synchronous handlers, a claim loop that only awaits settled promises never gives timers a turn
 * until the queue is empty, so the worker's lease lapses and peers recover its tasks.
 */

const TASKS = 2000;

describeBackends('event loop', backends(), (env) => {
  env.test(`while a worker drains ${TASKS} synchronous no-op tasks, timers keep firing`, async () => {
    const tm = await env.isolated({ max_concurrent_tasks: 10 });
    tm.use('noop', () => null);
    await tm.asyncMany(Array.from({ length: TASKS }, (_, i) => ({ name: 'noop', payload: { i } })));
    let done = 0;
    const allDone = new Promise<void>((resolve) =>
      tm.use('noop', () => {
        done += 1;
        if (done === TASKS) resolve();
        return null;
      }),
    );
    const ticks: number[] = [];
    const ticker = setInterval(() => ticks.push(Date.now()), 10);
    const started = Date.now();
    try {
      await tm.start();
      await allDone;
    } finally {
      clearInterval(ticker);
    }
    const finished = Date.now();
    const marks = [started, ...ticks.filter((t) => t <= finished), finished];
    const longestGap = Math.max(...marks.slice(1).map((t, i) => t - marks[i]));
    console.log(`[${env.backend.name}] ${TASKS} tasks in ${finished - started} ms; longest timer gap ${longestGap} ms`);
    // generous for a loaded 2-core machine; a starved loop shows the whole drain as one gap
    expect(longestGap).toBeLessThan(Math.max(500, (finished - started) / 4));
  }, 120_000);
});
