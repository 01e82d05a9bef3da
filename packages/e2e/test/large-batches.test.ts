import { expect } from 'vitest';
import { LIMITS, ValidationError, type Task } from '@taskmill/core';
import { NEW_TASK_DEFAULTS, type NewTask } from '@taskmill/contracts';
import { backends } from '../src/backends.js';
import { describeBackends } from '../src/harness.js';
import { managerWithReader } from '../src/shared-database.js';

/*
 * One asyncMany of up to LIMITS.max_batch_size tasks: written in chunks (every row once, in one
 * transaction), in time linear in its size, giving the event loop turns while it runs, so that a
 * worker enqueueing it keeps its heartbeats. A batch above the maximum is refused before anything
 * is written. Each store once took minutes for 100,000 tasks (a group copied on every change
 * added to it) with the event loop blocked throughout.
 */

const N = LIMITS.max_batch_size;
/** Rows per write chunk of the store kit; the chunk edges are where a bug would show. */
const CHUNK = 1000;

const items = (n: number) => Array.from({ length: n }, (_, i) => ({ name: 'bulk', payload: { i } }));

describeBackends('large batches', backends(), (env) => {
  env.test(`asyncMany of ${N} tasks (the maximum) writes each task and its task_created event exactly once`, async () => {
    const tm = await env.isolated();
    tm.use('bulk', () => null);
    const ids = await tm.asyncMany(items(N));
    expect(ids).toHaveLength(N);
    expect(new Set(ids).size).toBe(N);
    expect(await tm.getTaskStatsByTag()).toEqual([{ tag: null, name: 'bulk', status: 'pending', count: N }]);

    // every row, read back by id order (the input order): each item's payload under its own id
    const seen: Task[] = [];
    let cursor: string | undefined;
    do {
      const page = await tm.queryTasks({ name: 'bulk', limit: 20_000, cursor });
      seen.push(...page.items);
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    expect(seen).toHaveLength(N);
    const wrong = seen.findIndex((task, k) => task.id !== ids[k] || (task.payload as { i: number }).i !== k);
    expect(wrong).toBe(-1);

    for (const k of [0, CHUNK - 1, CHUNK, CHUNK + 1, N / 2, N - 1]) {
      const events = await tm.getTaskEvents(ids[k]);
      expect(events.map((e) => [e.task_id, e.event_type])).toEqual([[ids[k], 'task_created']]);
    }
  }, 180_000);

  env.test('the event loop keeps turning while a large asyncMany is validated and written', async () => {
    const tm = await env.isolated();
    tm.use('bulk', () => null);
    await tm.setup();
    const n = N / 2;
    // a chain of setImmediate callbacks runs once per turn of the event loop: it counts the turns
    // and the longest stretch between two of them
    let turns = 0;
    let last = performance.now();
    let longest = 0;
    let spinning = true;
    const spin = () => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
      turns += 1;
      if (spinning) setImmediate(spin);
    };
    setImmediate(spin);
    let ids: number[];
    try {
      ids = await tm.asyncMany(items(n));
    } finally {
      spinning = false;
    }
    longest = Math.max(longest, performance.now() - last);
    console.log(`[${env.backend.name}] asyncMany of ${n}: ${turns} event-loop turns, longest stretch ${Math.round(longest)} ms`);
    expect(ids).toHaveLength(n);
    // validating, writing the rows and writing the events each give a turn every 1,000 tasks (3 per
    // 1,000 on SQLite, whose statements never wait; more where they wait for the server): ask for
    // half of that, which a write that holds the loop from its first row to its commit never gives
    expect(turns).toBeGreaterThanOrEqual((1.5 * n) / CHUNK);
    // generous for a loaded 2-core machine; a blocked loop showed the whole write (seconds to minutes) as one stretch
    expect(longest).toBeLessThan(2000);
  }, 180_000);

  env.test(`asyncMany of more than ${N} tasks throws a ValidationError and writes nothing; an empty one writes nothing`, async () => {
    const tm = await env.isolated();
    tm.use('bulk', () => null);
    const refused = tm.asyncMany(items(N + 1));
    await expect(refused).rejects.toBeInstanceOf(ValidationError);
    await expect(refused).rejects.toThrow(`asyncMany accepts at most ${N} tasks per call, got ${N + 1}`);
    expect(await tm.getTaskStatsByTag()).toEqual([]);
    expect(await tm.asyncMany([])).toEqual([]);
    expect(await tm.getTaskStatsByTag()).toEqual([]);
  }, 60_000);

  env.test('a batch that fails in a later chunk leaves none of its earlier chunks behind', async () => {
    const { tm, reader } = await managerWithReader(env, {});
    await tm.setup();
    const task = (name: string): NewTask => ({
      name,
      type: 'async',
      payload: '{}',
      priority: 0,
      tag: null,
      next_run_time: Date.now(),
      timeout: 60,
      max_retries: 3,
      retry_interval: 0,
      cron_expr: null,
      cron_tz: null,
      ...NEW_TASK_DEFAULTS,
    });
    // the store refuses a NULL name (NOT NULL column) only when it writes the third chunk
    const tasks = Array.from({ length: 2 * CHUNK + 10 }, () => task('bulk'));
    tasks[2 * CHUNK + 5] = { ...task('bulk'), name: null as unknown as string };
    await expect(reader.createTasks(tasks, Date.now())).rejects.toThrow();
    expect(await reader.getTaskStatsByTag()).toEqual([]);
    expect((await reader.createTasks([task('bulk')], Date.now())).length).toBe(1);
    expect(await reader.getTaskStatsByTag()).toEqual([{ tag: null, name: 'bulk', status: 'pending', count: 1 }]);
  }, 60_000);
});
