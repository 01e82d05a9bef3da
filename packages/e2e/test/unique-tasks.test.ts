import { expect } from 'vitest';
import { DuplicateTaskError, ValidationError } from '@taskmill/core';
import { backends, sharedBackends } from '../src/backends.js';
import { describeBackends, waitForStatus } from '../src/harness.js';
import { spawnEnqueuer, type EnqueueProcess } from '../src/processes.js';

describeBackends('unique tasks', backends(), (env) => {
  env.test('a duplicate enqueue returns the holder id; other names and keys are separate tasks', async () => {
    const tm = await env.isolated();
    tm.use('sync', () => null);
    tm.use('other', () => null);
    const a = await tm.async('sync', { n: 1 }, { unique_key: 'user-1' });
    expect(await tm.async('sync', { n: 2 }, { unique_key: 'user-1' })).toBe(a);
    const b = await tm.async('sync', {}, { unique_key: 'user-2' });
    const c = await tm.async('other', {}, { unique_key: 'user-1' });
    expect(new Set([a, b, c]).size).toBe(3);
    expect(await tm.getTask(a)).toMatchObject({ payload: { n: 1 }, unique_key: 'user-1', unique_scope: 'unfinished', unique_until: null });
    expect(await tm.getTaskEvents(a)).toHaveLength(1);
  });

  env.test("on_duplicate 'error' throws DuplicateTaskError with the holder id; in asyncMany the whole batch writes nothing", async () => {
    const tm = await env.isolated();
    tm.use('sync', () => null);
    const a = await tm.async('sync', {}, { unique_key: 'k' });
    const error = await tm.async('sync', {}, { unique_key: 'k', on_duplicate: 'error' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DuplicateTaskError);
    expect(error).toMatchObject({ taskId: a, code: 'TASKMILL_DUPLICATE_TASK' });
    await expect(
      tm.asyncMany([{ name: 'sync' }, { name: 'sync', options: { unique_key: 'fresh' } }, { name: 'sync', options: { unique_key: 'k', on_duplicate: 'error' } }]),
    ).rejects.toBeInstanceOf(DuplicateTaskError);
    expect(await tm.getTasks()).toHaveLength(1);
  });

  env.test('asyncMany: a duplicate inside one batch returns the first one’s id', async () => {
    const tm = await env.isolated();
    tm.use('sync', () => null);
    const ids = await tm.asyncMany([
      { name: 'sync', payload: { i: 0 }, options: { unique_key: 'x' } },
      { name: 'sync', payload: { i: 1 } },
      { name: 'sync', payload: { i: 2 }, options: { unique_key: 'x' } },
    ]);
    expect(ids[2]).toBe(ids[0]);
    expect(ids[1]).not.toBe(ids[0]);
    expect(await tm.getTasks()).toHaveLength(2);
  });

  env.test('cron with a unique_key registers once: registering again returns the same task', async () => {
    const tm = await env.isolated();
    tm.use('nightly', () => null);
    const a = await tm.cron('nightly', '0 3 * * *', {}, { unique_key: 'nightly' });
    const b = await tm.cron('nightly', '0 3 * * *', {}, { unique_key: 'nightly' });
    expect(b).toBe(a);
    expect(await tm.getTasks({ name: 'nightly' })).toHaveLength(1);
  });

  env.test("scope 'pending' frees the key once the task runs; 'period' keeps it after completion", async () => {
    const tm = await env.isolated();
    tm.use('p', () => null);
    tm.use('w', () => null);
    const first = await tm.async('p', {}, { unique_key: 'k', unique_scope: 'pending' });
    const windowed = await tm.async('w', {}, { unique_key: 'k', unique_scope: 'period', unique_period: 3600 });
    const until = (await tm.getTask(windowed))!.unique_until!;
    expect(until).toBeGreaterThan(Date.now() + 3_500_000);
    await tm.start();
    await waitForStatus(tm, first, 'completed');
    await waitForStatus(tm, windowed, 'completed');
    expect(await tm.async('p', {}, { unique_key: 'k', unique_scope: 'pending' })).not.toBe(first);
    expect(await tm.async('w', {}, { unique_key: 'k', unique_scope: 'period', unique_period: 3600 })).toBe(windowed);
  });

  env.test('bad unique options are a ValidationError and write nothing', async () => {
    const tm = await env.isolated();
    tm.use('a', () => null);
    const bad: Array<Record<string, unknown>> = [
      { unique_key: '' },
      { unique_key: 42 },
      { unique_key: null },
      { unique_key: 'x'.repeat(256) },
      { unique_key: 'k', unique_scope: 'forever' },
      { unique_key: 'k', unique_scope: 'period' },
      { unique_key: 'k', unique_scope: 'period', unique_period: 0 },
      { unique_key: 'k', unique_scope: 'period', unique_period: -5 },
      { unique_key: 'k', unique_scope: 'period', unique_period: Number.NaN },
      { unique_key: 'k', unique_scope: 'period', unique_period: '60' },
      { unique_key: 'k', unique_period: 60 },
      { unique_key: 'k', unique_scope: 'pending', unique_period: 60 },
      { unique_key: 'k', on_duplicate: 'ignore' },
      { unique_scope: 'pending' },
      { on_duplicate: 'error' },
    ];
    for (const options of bad) {
      await expect(tm.async('a', {}, options as never), JSON.stringify(options)).rejects.toBeInstanceOf(ValidationError);
      await expect(tm.asyncMany([{ name: 'a' }, { name: 'a', options: options as never }])).rejects.toBeInstanceOf(ValidationError);
      await expect(tm.cron('a', '* * * * *', {}, options as never)).rejects.toBeInstanceOf(ValidationError);
    }
    expect(await tm.getTasks()).toHaveLength(0);
    expect(await tm.async('a', {}, { unique_key: 'x'.repeat(255) })).toBeGreaterThan(0);
  });
});

describeBackends('unique tasks across processes', sharedBackends(), (env) => {
  env.test('4 processes × 50 enqueues of one key end with exactly one task, and every call got its id', async () => {
    const tm = await env.isolated();
    tm.use('race', () => null);
    await tm.setup();
    const procs: EnqueueProcess[] = [];
    try {
      for (let i = 0; i < 4; i++) procs.push(await spawnEnqueuer({ connection: env.db().processConnection, name: 'race', key: 'the-one', count: 50 }));
      const results = await Promise.all(procs.map((p) => p.go()));
      const tasks = await tm.getTasks({ name: 'race' });
      expect(tasks).toHaveLength(1);
      expect(results.flat()).toHaveLength(200);
      expect(new Set(results.flat())).toEqual(new Set([tasks[0].id]));
      expect(await tm.getTaskEvents(tasks[0].id)).toHaveLength(1);
    } finally {
      for (const p of procs) p.kill();
    }
  }, 180_000);
});
