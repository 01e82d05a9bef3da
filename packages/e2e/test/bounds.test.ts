import { expect } from 'vitest';
import { ConfigurationError, LIMITS, TaskManager, ValidationError } from '@taskmill/core';
import { backends } from '../src/backends.js';
import { describeBackends, waitForStatus } from '../src/harness.js';

const beyond: Array<[string, Record<string, number>]> = [
  ['delay', { delay: 1e300 }],
  ['delay', { delay: LIMITS.max_delay_seconds + 1 }],
  ['timeout', { timeout: 1e12 }],
  ['timeout', { timeout: LIMITS.max_duration_seconds + 1 }],
  ['retry_interval', { retry_interval: 1e12 }],
  ['max_retries', { max_retries: LIMITS.max_retries + 1 }],
  ['priority', { priority: 2 ** 40 }],
  ['priority', { priority: LIMITS.priority.max + 1 }],
  ['priority', { priority: LIMITS.priority.min - 1 }],
];

describeBackends('documented bounds', backends(), (env) => {
  env.test('delay, timeout, retry_interval, max_retries and priority beyond their bounds throw a ValidationError and write nothing', async () => {
    const tm = await env.isolated();
    tm.use('t', () => 1);
    for (const [key, options] of beyond) {
      await expect(tm.async('t', {}, options), key).rejects.toThrow(ValidationError);
      await expect(tm.async('t', {}, options), key).rejects.toThrow(key);
      await expect(tm.asyncMany([{ name: 't' }, { name: 't', options }]), key).rejects.toThrow(ValidationError);
      if (key !== 'delay') await expect(tm.cron('t', '* * * * *', {}, options), key).rejects.toThrow(ValidationError);
    }
    expect(await tm.getTasks()).toEqual([]);
  });

  env.test('the bounds themselves are accepted and read back unchanged on every store', async () => {
    const tm = await env.isolated();
    tm.use('t', () => 1);
    const top = await tm.async('t', {}, {
      delay: LIMITS.max_delay_seconds,
      timeout: LIMITS.max_duration_seconds,
      retry_interval: LIMITS.max_duration_seconds,
      max_retries: LIMITS.max_retries,
      priority: LIMITS.priority.max,
    });
    const bottom = await tm.async('t', {}, { priority: LIMITS.priority.min, delay: LIMITS.max_delay_seconds });
    expect(await tm.getTask(top)).toMatchObject({
      timeout: LIMITS.max_duration_seconds,
      retry_interval: LIMITS.max_duration_seconds,
      max_retries: LIMITS.max_retries,
      priority: LIMITS.priority.max,
    });
    expect((await tm.getTask(bottom))!.priority).toBe(LIMITS.priority.min);
  });

  env.test('handler defaults and constructor options beyond their bounds are rejected with typed errors', async () => {
    const tm = await env.isolated();
    expect(() => tm.use('a', { handler: () => 1, timeout: 1e12 })).toThrow(ValidationError);
    expect(() => tm.use('b', { handler: () => 1, priority: 2 ** 40 })).toThrow(ValidationError);
    expect(() => tm.use('c', { handler: () => 1, retry_interval: 1e12 })).toThrow(ValidationError);
    expect(() => tm.use('d', { handler: () => 1, max_retries: LIMITS.max_retries + 1 })).toThrow(ValidationError);
    const dbConnection = env.db().dbConnection;
    for (const [key, value] of [
      ['timeout', 1e12],
      ['retry_interval', 1e12],
      ['max_retries', LIMITS.max_retries + 1],
      ['poll_interval', 1e12],
      ['task_heartbeat_interval', LIMITS.max_interval_ms + 1],
      ['task_heartbeat_timeout', 1e300],
      ['worker_heartbeat_interval', 1e12],
      ['worker_heartbeat_timeout', 1e12],
      ['shutdown_timeout', 1e12],
    ] as const) {
      expect(() => new TaskManager({ dbConnection, [key]: value }), key).toThrow(ConfigurationError);
      expect(() => new TaskManager({ dbConnection, [key]: value }), key).toThrow(key);
    }
  });

  env.test('a child definition beyond the bounds fails the parent attempt with a clear error and creates no child', async () => {
    const tm = await env.isolated();
    tm.use('child', () => 'c');
    tm.use('parent-priority', (_task, next) => next({ name: 'child', priority: 2 ** 40 }));
    tm.use('parent-timeout', (_task, next) => next({ name: 'child', timeout: 1e12 }));
    const p1 = await tm.async('parent-priority', {}, { max_retries: 1 });
    const p2 = await tm.async('parent-timeout', {}, { max_retries: 1 });
    await tm.start();
    expect((await waitForStatus(tm, p1, ['permanently_failed', 'suspended', 'completed'])).error).toMatch(/priority/);
    expect((await waitForStatus(tm, p2, ['permanently_failed', 'suspended', 'completed'])).error).toMatch(/timeout/);
    expect(await tm.getTasksByName('child')).toEqual([]);
  });
});
