import { expect } from 'vitest';
import { ValidationError } from '@taskmill/core';
import { appDatabase } from '../src/app-transactions.js';
import { backends, sharedBackends } from '../src/backends.js';
import { describeBackends, waitForStatus } from '../src/harness.js';
import { spawnEnqueuer, type EnqueueProcess } from '../src/processes.js';

/** A handler that records the payloads it ran with and can be held until `release()`. */
function recorder() {
  const seen: unknown[] = [];
  let release!: () => void;
  let gate: Promise<void> | null = null;
  return {
    seen,
    hold() {
      gate = new Promise((r) => (release = r));
    },
    release: () => release(),
    handler: async (task: { payload: unknown }) => {
      seen.push(task.payload);
      if (gate) await gate;
      return null;
    },
  };
}

describeBackends('debounce and replace', backends(), (env) => {
  env.test("on_duplicate 'replace' gives the pending task the new payload, keeps its id, and writes task_replaced", async () => {
    const tm = await env.isolated();
    tm.use('sync', () => null);
    const id = await tm.async('sync', { n: 1 }, { unique_key: 'user-1', delay: 3600, priority: 2 });
    expect(await tm.async('sync', { n: 2 }, { unique_key: 'user-1', on_duplicate: 'replace', priority: 7 })).toBe(id);
    expect(await tm.getTasks({ name: 'sync' })).toHaveLength(1);
    const task = (await tm.getTask(id))!;
    expect(task).toMatchObject({ payload: { n: 2 }, priority: 2, status: 'pending', last_event_type: 'task_replaced' });
    const events = await tm.getTaskEvents(id, { event_type: 'task_replaced' });
    expect(events).toHaveLength(1);
    expect(events[0].metadata).toMatchObject({ payload_replaced: true, next_run_time: task.next_run_time, previous_next_run_time: task.next_run_time });
    // a cron task between runs takes the payload for its next runs, and keeps its schedule
    tm.use('nightly', () => null);
    const cron = await tm.cron('nightly', '0 3 * * *', { to: 'a' }, { unique_key: 'nightly' });
    const due = (await tm.getTask(cron))!.next_run_time;
    expect(await tm.cron('nightly', '0 4 * * *', { to: 'b' }, { unique_key: 'nightly', on_duplicate: 'replace' })).toBe(cron);
    expect(await tm.getTask(cron)).toMatchObject({ payload: { to: 'b' }, cron_expr: '0 3 * * *', next_run_time: due });
  });

  env.test('debounce: the task runs once, after the last duplicate, with the last payload when replacing', async () => {
    const tm = await env.isolated();
    const job = recorder();
    tm.use('reindex', job.handler);
    await tm.start();
    const options = { unique_key: 'doc-1', debounce: 1, on_duplicate: 'replace' } as const;
    const id = await tm.async('reindex', { edit: 0 }, options);
    for (let edit = 1; edit <= 5; edit++) expect(await tm.async('reindex', { edit }, options)).toBe(id);
    const done = await waitForStatus(tm, id, 'completed');
    expect(job.seen).toEqual([{ edit: 5 }]);
    const pushes = await tm.getTaskEvents(id, { event_type: 'task_replaced' });
    // each duplicate found the task still pending; the run is at or after the last push's due time
    expect(pushes).toHaveLength(5);
    const lastDue = pushes[pushes.length - 1].metadata!.next_run_time as number;
    expect(done.next_run_time).toBe(lastDue);
    const [attempt] = await tm.getTaskAttempts(id);
    expect(attempt.started_at).toBeGreaterThanOrEqual(lastDue);
    expect(await tm.getTasks({ name: 'reindex' })).toHaveLength(1);
  });

  env.test('a running task is not changed: replace returns its id; a debounce (scope pending) enqueues a follow-up', async () => {
    const tm = await env.isolated();
    const job = recorder();
    job.hold();
    tm.use('sync', job.handler);
    await tm.start();
    const id = await tm.async('sync', { v: 1 }, { unique_key: 'k' });
    await waitForStatus(tm, id, 'running');
    expect(await tm.async('sync', { v: 2 }, { unique_key: 'k', on_duplicate: 'replace' })).toBe(id);
    expect((await tm.getTask(id))!.payload).toEqual({ v: 1 });
    expect(await tm.getTaskEvents(id, { event_type: 'task_replaced' })).toHaveLength(0);
    const debounced = await tm.async('sync', { v: 3 }, { unique_key: 'd', debounce: 0 });
    await waitForStatus(tm, debounced, 'running');
    const followUp = await tm.async('sync', { v: 4 }, { unique_key: 'd', debounce: 0, on_duplicate: 'replace' });
    expect(followUp).not.toBe(debounced);
    job.release();
    await waitForStatus(tm, id, 'completed');
    await waitForStatus(tm, debounced, 'completed');
    await waitForStatus(tm, followUp, 'completed');
    expect(job.seen).toEqual(expect.arrayContaining([{ v: 1 }, { v: 3 }, { v: 4 }]));
    expect(job.seen).toHaveLength(3);
  });

  env.test('asyncMany: later duplicates of one key fold into the first item: one task, the last payload, the latest time', async () => {
    const tm = await env.isolated();
    tm.use('sync', () => null);
    const ids = await tm.asyncMany([
      { name: 'sync', payload: { i: 0 }, options: { unique_key: 'x', debounce: 60 } },
      { name: 'sync', payload: { i: 1 } },
      { name: 'sync', payload: { i: 2 }, options: { unique_key: 'x', debounce: 600, on_duplicate: 'replace' } },
      { name: 'sync', payload: { i: 3 }, options: { unique_key: 'x', debounce: 60, on_duplicate: 'replace' } },
    ]);
    expect(ids[2]).toBe(ids[0]);
    expect(ids[3]).toBe(ids[0]);
    const task = (await tm.getTask(ids[0]))!;
    expect(task.payload).toEqual({ i: 3 });
    // the 600 s push won over the two 60 s ones (the due time is computed a moment before the write's clock)
    expect(task.next_run_time - task.created_at).toBeGreaterThan(60_000);
    expect((await tm.getTaskEvents(ids[0])).map((e) => e.event_type)).toEqual(['task_created']);
  });

  env.test('bad debounce and on_duplicate values are a ValidationError and write nothing', async () => {
    const tm = await env.isolated();
    tm.use('a', () => null);
    const bad: Array<Record<string, unknown>> = [
      { debounce: 5 },
      { unique_key: 'k', debounce: -1 },
      { unique_key: 'k', debounce: Number.NaN },
      { unique_key: 'k', debounce: Number.POSITIVE_INFINITY },
      { unique_key: 'k', debounce: '5' },
      { unique_key: 'k', debounce: null },
      { unique_key: 'k', debounce: 10 * 365 * 24 * 3600 + 1 },
      { unique_key: 'k', debounce: 5, delay: 5 },
      { unique_key: 'k', debounce: 5, on_duplicate: 'error' },
      { unique_key: 'k', debounce: 5, unique_scope: 'period', unique_period: 60 },
      { unique_key: 'k', on_duplicate: 'REPLACE' },
      { unique_key: 'k', on_duplicate: 'update' },
      { on_duplicate: 'replace' },
    ];
    await tm.async('a', { keep: true }, { unique_key: 'k' });
    const before = await tm.getTasks();
    for (const options of bad) {
      await expect(tm.async('a', { n: 1 }, options as never), JSON.stringify(options)).rejects.toBeInstanceOf(ValidationError);
      await expect(tm.asyncMany([{ name: 'a' }, { name: 'a', options: options as never }])).rejects.toBeInstanceOf(ValidationError);
    }
    await expect(tm.cron('a', '* * * * *', {}, { unique_key: 'c', debounce: 5 } as never)).rejects.toBeInstanceOf(ValidationError);
    expect(await tm.getTasks()).toEqual(before);
    expect(await tm.getTaskEvents(before[0].id)).toHaveLength(1);
  });
});

describeBackends('debounce and replace inside an application transaction', sharedBackends(), (env) => {
  env.test('tm.within(tx): a replacement commits with the transaction, and a rollback leaves the holder as it was', async () => {
    const tm = await env.isolated();
    tm.use('sync', () => null);
    await tm.setup();
    const id = await tm.async('sync', { v: 1 }, { unique_key: 'k', debounce: 3600 });
    const due = (await tm.getTask(id))!.next_run_time;
    const app = await appDatabase(env.backend, env.db());
    try {
      const options = { unique_key: 'k', debounce: 7200, on_duplicate: 'replace' } as const;
      expect(await app.run('rollback', (tx) => tm.within(tx).async('sync', { v: 2 }, options))).toBe(id);
      expect(await tm.getTask(id)).toMatchObject({ payload: { v: 1 }, next_run_time: due });
      expect(await app.run('commit', (tx) => tm.within(tx).async('sync', { v: 3 }, options))).toBe(id);
      const task = (await tm.getTask(id))!;
      expect(task.payload).toEqual({ v: 3 });
      expect(task.next_run_time).toBeGreaterThan(due);
      expect(await tm.getTaskEvents(id, { event_type: 'task_replaced' })).toHaveLength(1);
    } finally {
      await app.close();
    }
  });
});

describeBackends('debounce across processes', sharedBackends(), (env) => {
  env.test('4 processes × 25 debounced replacements of one key: one task, run once, with the last payload, after the last push', async () => {
    const tm = await env.isolated();
    const job = recorder();
    tm.use('race', job.handler);
    await tm.setup();
    const count = 25;
    const procs: EnqueueProcess[] = [];
    try {
      const options = { debounce: 1, on_duplicate: 'replace' };
      for (let i = 0; i < 4; i++) procs.push(await spawnEnqueuer({ connection: env.db().processConnection, name: 'race', key: 'the-one', count, options }));
      const results = await Promise.all(procs.map((p) => p.go()));
      const tasks = await tm.getTasks({ name: 'race' });
      expect(tasks).toHaveLength(1);
      const id = tasks[0].id;
      expect(new Set(results.flat())).toEqual(new Set([id]));
      // nothing claims it before the worker starts: every duplicate but the first insert replaced it
      const pushes = await tm.getTaskEvents(id, { event_type: 'task_replaced', limit: 1000 });
      expect(pushes).toHaveLength(4 * count - 1);
      const lastDue = Math.max(...pushes.map((e) => e.metadata!.next_run_time as number));
      expect(tasks[0].next_run_time).toBe(lastDue);
      await tm.start();
      const done = await waitForStatus(tm, id, 'completed', 30_000);
      // the last write of all is some process's last call: the payload the run saw
      expect(job.seen).toHaveLength(1);
      expect(job.seen[0]).toMatchObject({ i: count - 1 });
      expect(done.payload).toEqual(job.seen[0]);
      const attempts = await tm.getTaskAttempts(id);
      expect(attempts).toHaveLength(1);
      expect(attempts[0].started_at).toBeGreaterThanOrEqual(lastDue);
    } finally {
      for (const p of procs) p.kill();
    }
  }, 180_000);
});
