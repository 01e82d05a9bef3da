import { expect } from 'vitest';
import { ConfigurationError, TaskManager, ValidationError } from '@taskmill/core';
import { backends } from '../src/backends.js';
import { describeBackends, waitForStatus } from '../src/harness.js';

/*
 * Retry backoff strategies: per manager, per handler and per task; the wait persisted as the
 * task's next_run_time, shown in the failure event, and honoured exactly (docs/behaviour.md#retries for `fixed`).
 */
describeBackends('retry backoff', backends(), (env) => {
  env.test('an exponential handler backoff doubles each wait, capped, and no retry starts before its next_run_time', async () => {
    const tm = await env.isolated();
    const starts: number[] = [];
    tm.use('flaky', {
      handler: () => {
        starts.push(Date.now());
        if (starts.length < 4) throw new Error(`boom ${starts.length}`);
        return 'ok';
      },
      max_retries: 5,
      retry_interval: 0.1,
      retry_backoff: 'exponential',
      retry_max_interval: 0.3,
    });
    const id = await tm.async('flaky');
    expect(await tm.getTask(id)).toMatchObject({ retry_backoff: 'exponential', retry_max_interval: 0.3, retry_jitter: 0, retry_interval: 0.1 });
    await tm.start();
    await waitForStatus(tm, id, 'completed');
    const events = await tm.getTaskEvents(id);
    const failures = events.filter((e) => e.event_type === 'task_failed');
    expect(failures.map((e) => e.metadata!.retry_delay)).toEqual([0.1, 0.2, 0.3]);
    expect(failures.map((e) => (e.metadata!.next_run_time as number) - e.event_time)).toEqual([100, 200, 300]);
    const retryStarts = events.filter((e) => e.event_type === 'task_retry_started');
    expect(retryStarts).toHaveLength(3);
    for (let i = 0; i < 3; i++) expect(retryStarts[i].event_time).toBeGreaterThanOrEqual(failures[i].metadata!.next_run_time as number);
    for (let i = 1; i < 4; i++) expect(starts[i] - starts[i - 1]).toBeGreaterThanOrEqual([0, 100, 200, 300][i] - 5);
  });

  env.test('task options override the handler backoff, and manager options are the defaults', async () => {
    const tm = await env.isolated({ retry_backoff: 'exponential', retry_max_interval: 60, retry_jitter: 0.1 });
    tm.use('plain', () => 1);
    tm.use('fixed', { handler: () => 1, retry_backoff: 'fixed', retry_jitter: 0 });
    const a = await tm.async('plain');
    const b = await tm.async('fixed');
    const c = await tm.async('fixed', {}, { retry_backoff: 'exponential', retry_max_interval: null, retry_jitter: 0.5 });
    expect(await tm.getTask(a)).toMatchObject({ retry_backoff: 'exponential', retry_max_interval: 60, retry_jitter: 0.1 });
    expect(await tm.getTask(b)).toMatchObject({ retry_backoff: 'fixed', retry_max_interval: 60, retry_jitter: 0 });
    expect(await tm.getTask(c)).toMatchObject({ retry_backoff: 'exponential', retry_max_interval: null, retry_jitter: 0.5 });
  });

  env.test('children take their backoff from their definition or their handler', async () => {
    const tm = await env.isolated();
    tm.use('kid', { handler: () => 1, retry_backoff: 'exponential' });
    let kids: number[] = [];
    tm.use('parent', (task, next) => {
      if (task.stage === 0) return next([{ name: 'kid' }, { name: 'kid', retry_backoff: 'fixed', retry_jitter: 0.2 }]);
      kids = (task.result as Array<{ task_id: number }>).map((r) => r.task_id);
      return 'done';
    });
    const id = await tm.async('parent');
    await tm.start();
    await waitForStatus(tm, id, 'completed');
    expect(await tm.getTask(kids[0])).toMatchObject({ retry_backoff: 'exponential', retry_jitter: 0 });
    expect(await tm.getTask(kids[1])).toMatchObject({ retry_backoff: 'fixed', retry_jitter: 0.2 });
  });

  env.test('bad backoff options are typed errors and write nothing', async () => {
    const tm = await env.isolated();
    tm.use('job', () => 1);
    const bad: Array<Record<string, unknown>> = [
      { retry_backoff: 'linear' },
      { retry_backoff: null },
      { retry_max_interval: 0 },
      { retry_max_interval: -1 },
      { retry_max_interval: Number.NaN },
      { retry_max_interval: '10' },
      { retry_max_interval: 400 * 24 * 3600 },
      { retry_jitter: 1.5 },
      { retry_jitter: -0.1 },
      { retry_jitter: Infinity },
    ];
    for (const options of bad) {
      await expect(tm.async('job', {}, options), JSON.stringify(options)).rejects.toBeInstanceOf(ValidationError);
      await expect(tm.asyncMany([{ name: 'job' }, { name: 'job', options }])).rejects.toBeInstanceOf(ValidationError);
      await expect(tm.cron('job', '* * * * *', {}, options)).rejects.toBeInstanceOf(ValidationError);
      expect(() => tm.use('other', { handler: () => 1, ...options })).toThrow(ValidationError);
      expect(() => new TaskManager({ dbConnection: env.db().dbConnection, ...options })).toThrow(ConfigurationError);
    }
    expect((await tm.getTasks({})).length).toBe(0);
  });
});
