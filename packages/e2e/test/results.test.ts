import { expect, it } from 'vitest';
import { ERROR_CODES, TaskManager, type Store } from '@taskmill/core';
import { backends, sharedBackends } from '../src/backends.js';
import { describeBackends, waitFor } from '../src/harness.js';
import { spawnEventsProcess } from '../src/processes.js';

/*
 * tm.result() (docs/behaviour.md#results): every outcome a waiter can get, in this process and in
 * another that never starts, bad input, and what 1,000 waiters cost.
 */

/** The code a rejected wait gets, or `{value}`. */
async function settle(p: Promise<unknown>): Promise<{ value?: unknown; code?: string }> {
  try {
    return { value: await p };
  } catch (error) {
    return { code: (error as { code?: string }).code ?? 'uncoded' };
  }
}

describeBackends('results', backends(), (env) => {
  env.test('result() resolves with the result or rejects with failed, cancelled, timed out, not found, and at once for a cron task', async () => {
    const tm = await env.isolated({ event_poll_interval: 20 });
    tm.use('ok', (task) => ({ doubled: (task.payload as { n: number }).n * 2 }));
    tm.use('bad', { handler: () => Promise.reject(new Error('boom')), max_retries: 2 });
    tm.use('tick', () => null);
    const ok = await tm.async('ok', { n: 21 });
    const bad = await tm.async('bad', {});
    const later = await tm.async('ok', { n: 1 }, { delay: 3600 });
    const never = await tm.async('ok', { n: 2 }, { delay: 3600 });
    const cron = await tm.cron('tick', '0 0 1 1 *');
    const waits = {
      ok: settle(tm.result(ok)),
      bad: settle(tm.result(bad)),
      cancelled: settle(tm.result(later)),
      timedOut: settle(tm.result(never, { timeout: 0.3 })),
      missing: settle(tm.result(987654)),
      cron: settle(tm.result(cron)),
    };
    expect(await waits.missing).toEqual({ code: ERROR_CODES.TASK_NOT_FOUND });
    expect(await waits.cron).toEqual({ code: ERROR_CODES.NOT_AWAITABLE });
    expect(await waits.timedOut).toEqual({ code: ERROR_CODES.RESULT_TIMEOUT });
    expect((await tm.getTask(never))!.status).toBe('pending'); // the wait's timeout leaves the task alone
    await tm.start();
    await tm.cancelTask(later, { reason: 'not needed' });
    expect(await waits.ok).toEqual({ value: { doubled: 42 } });
    expect(await waits.bad).toEqual({ code: ERROR_CODES.TASK_FAILED });
    expect(await waits.cancelled).toEqual({ code: ERROR_CODES.TASK_CANCELLED });
    // an already finished task answers at once, with the error text kept
    const failed = (await tm.result(bad).catch((e: unknown) => e)) as { error?: string; message?: string };
    expect(failed).toMatchObject({ code: ERROR_CODES.TASK_FAILED, message: `Task ${bad} failed: boom` });
    expect(failed.error).toMatch(/^Error: boom\n/); // the stored error text, stack included
    const cancelled = await tm.result(later).catch((e: unknown) => e as { reason?: string });
    expect(cancelled).toMatchObject({ code: ERROR_CODES.TASK_CANCELLED, reason: 'not needed' });
    expect(await tm.result(ok, { timeout: 0 })).toEqual({ doubled: 42 });
  });

  env.test('a paused task and a suspended workflow parent are waited for until they finish', async () => {
    const tm = await env.isolated({ event_poll_interval: 20 });
    tm.use('child', () => 'c');
    tm.use('parent', (task, next) => (task.stage === 0 ? next([{ name: 'child' }]) : { children: (task.result as unknown[]).length }));
    tm.use('ok', () => 'done');
    const parent = await tm.async('parent', {});
    const paused = await tm.async('ok', {});
    await tm.pauseTask(paused);
    const waits = [tm.result(parent), tm.result(paused)];
    await tm.start();
    expect(await waits[0]).toEqual({ children: 1 });
    // still waiting while paused: a short wait times out, the long one keeps going
    await expect(tm.result(paused, { timeout: 0.2 })).rejects.toMatchObject({ code: ERROR_CODES.RESULT_TIMEOUT });
    await tm.resumeTask(paused);
    expect(await waits[1]).toBe('done');
  });

  env.test('bad input is a ValidationError and writes nothing; stop() ends the waits', async () => {
    const tm = await env.isolated();
    tm.use('ok', () => 1);
    const id = await tm.async('ok', {});
    const before = await tm.getTaskEvents(id);
    for (const bad of ['abc', -1, 0, 1.5, null, {}, '1 OR 1=1']) {
      await expect(tm.result(bad as never)).rejects.toMatchObject({ code: ERROR_CODES.VALIDATION });
    }
    for (const options of [{ timeout: -1 }, { timeout: 'x' }, { timeout: Number.NaN }, { timeout: 1e12 }, { timeuot: 1 }, 'x', []]) {
      await expect(tm.result(id, options as never)).rejects.toMatchObject({ code: ERROR_CODES.VALIDATION });
    }
    expect(await tm.getTaskEvents(id)).toEqual(before);
    const pending = await tm.async('ok', {}, { delay: 3600 });
    const waiting = settle(tm.result(pending));
    await tm.start();
    await tm.stop();
    expect(await waiting).toEqual({ code: ERROR_CODES.LIFECYCLE });
    await expect(tm.result(pending)).rejects.toMatchObject({ code: ERROR_CODES.LIFECYCLE });
  });
});

describeBackends('results from another process', sharedBackends(), (env) => {
  env.test('a process that never starts gets completed, failed, cancelled, timed-out and unknown-id outcomes', async () => {
    const tm = await env.isolated({ event_poll_interval: 20 });
    tm.use('ok', (task) => ({ n: (task.payload as { n: number }).n }));
    tm.use('bad', { handler: () => Promise.reject(new Error('kaput')), max_retries: 1 });
    const ok = await tm.async('ok', { n: 7 });
    const bad = await tm.async('bad', {});
    const later = await tm.async('ok', { n: 1 }, { delay: 3600 });
    const never = await tm.async('ok', { n: 2 }, { delay: 3600 });
    const waiter = await spawnEventsProcess({
      mode: 'waiter',
      connection: env.db().processConnection,
      waits: [{ id: ok }, { id: bad }, { id: later }, { id: never, timeout: 1 }, { id: 99999999 }],
    });
    // the waiter is set up and waiting before anything finishes
    await new Promise((r) => setTimeout(r, 300));
    await tm.start();
    await tm.cancelTask(later);
    const outcomes = await waiter.outcomes;
    await waiter.kill();
    expect(outcomes).toEqual([
      { id: ok, value: { n: 7 } },
      { id: bad, code: ERROR_CODES.TASK_FAILED, message: `Task ${bad} failed: kaput` },
      { id: later, code: ERROR_CODES.TASK_CANCELLED, message: `Task ${later} was cancelled: Task cancelled` },
      { id: never, code: ERROR_CODES.RESULT_TIMEOUT, message: `Timed out after 1 s waiting for the result of task ${never}` },
      { id: 99999999, code: ERROR_CODES.TASK_NOT_FOUND, message: 'Task 99999999 not found' },
    ]);
  }, 120_000);

  env.test('1,000 waiters in one process cost one probe and one batched read per tick, not a read per task', async () => {
    const worker = await env.isolated({ max_concurrent_tasks: 20, poll_interval: 50 });
    worker.use('ok', (task) => (task.payload as { i: number }).i);
    const ids = await worker.asyncMany(Array.from({ length: 1000 }, (_, i) => ({ name: 'ok', payload: { i } })));
    const calls = { latestEventId: 0, getTaskOutcomes: 0, ids: 0, other: 0 };
    const store = await env.db().openPeerStore();
    const counted = new Proxy(store, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (prop === 'latestEventId') calls.latestEventId++;
          else if (prop === 'getTaskOutcomes') {
            calls.getTaskOutcomes++;
            calls.ids += (args[0] as unknown[]).length;
          } else if (prop !== 'setup' && prop !== 'serverTime' && prop !== 'close' && prop !== 'checkSchema') calls.other++;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    }) as Store;
    const interval = 100;
    const waiterManager = env.manager({ dbConnection: counted, event_poll_interval: interval, poll_interval: 1000 });
    await waiterManager.setup();
    const started = performance.now();
    const results = Promise.all(ids.map((id) => waiterManager.result(id)));
    // idle: nothing finishes for a second
    await new Promise((r) => setTimeout(r, 1000));
    const idleSeconds = (performance.now() - started) / 1000;
    const idle = { ...calls };
    await worker.start();
    const values = await results;
    const seconds = (performance.now() - started) / 1000;
    expect(values).toEqual(ids.map((_, i) => i));
    // one statement per probe, one per outcome read of at most 1,000 ids (see the stores' event-feed.ts)
    const statements = calls.latestEventId + calls.getTaskOutcomes;
    const ticks = seconds / (interval / 1000) + 2;
    console.log(
      `[${env.backend.name}] 1,000 waiters: idle ${idleSeconds.toFixed(2)} s: ${idle.latestEventId} probes + ${idle.getTaskOutcomes} reads; ` +
        `whole run ${seconds.toFixed(2)} s: ${calls.latestEventId} probes + ${calls.getTaskOutcomes} reads = ${(statements / seconds).toFixed(1)} statements/s`,
    );
    expect(calls.other).toBe(0);
    expect(calls.latestEventId).toBeLessThanOrEqual(ticks);
    expect(calls.getTaskOutcomes).toBeLessThanOrEqual(calls.latestEventId + 1);
    // idle, the waiters are read once at first, then at most once per poll_interval (1 s)
    expect(idle.getTaskOutcomes).toBeLessThanOrEqual(3);
    expect(calls.ids / calls.getTaskOutcomes).toBeGreaterThan(1); // batched: many ids per read
    await store.close();
  }, 120_000);
});

it('a wait with a timeout ends even when the store cannot be reached', async () => {
  const tm = new TaskManager({ dbConnection: 'postgres://postgres@127.0.0.1:1/none', poll_interval: 200, onError: () => undefined });
  const started = performance.now();
  await expect(tm.result(1, { timeout: 0.3 })).rejects.toMatchObject({ code: ERROR_CODES.RESULT_TIMEOUT });
  expect(performance.now() - started).toBeLessThan(5_000);
  await tm.stop();
});
