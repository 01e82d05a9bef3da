import { expect } from 'vitest';
import {
  ConfigurationError,
  HandlerNotFoundError,
  InvalidCronError,
  InvalidHandlerError,
  SerializationError,
  TaskManager,
  ValidationError,
} from '@taskmill/core';
import { backends } from '../src/backends.js';
import { describeBackends, waitForStatus } from '../src/harness.js';

const MIN = 60_000;

describeBackends('submission', backends(), (env) => {
  env.test('async() stores the task with handler defaults overridden by task options', async () => {
    const tm = await env.isolated({ max_retries: 4, retry_interval: 2, timeout: 30 });
    tm.use('plain', () => 1);
    tm.use('configured', { handler: () => 1, timeout: 90, max_retries: 2, retry_interval: 7, priority: 5 });
    const before = Date.now();
    const a = await tm.async('plain', { n: 1 });
    const b = await tm.async('configured', { n: 2 });
    const c = await tm.async('configured', { n: 3 }, { priority: -3, timeout: 5, max_retries: 0, retry_interval: 0.5, tag: 'batch-1', delay: 60 });
    const [ta, tb, tc] = await Promise.all([tm.getTask(a), tm.getTask(b), tm.getTask(c)]);
    expect(ta).toMatchObject({ name: 'plain', type: 'async', status: 'pending', payload: { n: 1 }, priority: 0, timeout: 30, max_retries: 4, retry_interval: 2, tag: null, stage: 0, attempt: 0 });
    expect(tb).toMatchObject({ priority: 5, timeout: 90, max_retries: 2, retry_interval: 7 });
    expect(tc).toMatchObject({ priority: -3, timeout: 5, max_retries: 0, retry_interval: 0.5, tag: 'batch-1' });
    expect(tc!.next_run_time).toBeGreaterThanOrEqual(before + MIN);
    expect(ta!.next_run_time).toBeLessThanOrEqual(Date.now());
    const events = await tm.getTaskEvents(a);
    expect(events.map((e) => e.event_type)).toEqual(['task_created']);
    expect(events[0]).toMatchObject({ to_status: 'pending', root_id: a, metadata: { name: 'plain', type: 'async', tag: null } });
  });

  env.test('a tag or name containing quotes or SQL round-trips as data', async () => {
    const tm = await env.isolated();
    const evil = `x'); DROP TABLE taskmill_tasks; -- "q" \\ ñ 🚀`;
    tm.use(evil, () => 'ok');
    const id = await tm.async(evil, { s: evil }, { tag: evil });
    expect(await tm.getTasksByTag(evil)).toHaveLength(1);
    expect(await tm.getTasksByName(evil)).toHaveLength(1);
    expect(await tm.getTasks({ tag: `x' OR '1'='1` })).toHaveLength(0);
    const t = await tm.getTask(id);
    expect(t).toMatchObject({ name: evil, tag: evil, payload: { s: evil } });
    expect(await tm.getTaskStatsByTag(evil)).toEqual([{ tag: evil, name: evil, status: 'pending', count: 1 }]);
    await tm.start();
    await waitForStatus(tm, id, 'completed');
  });

  env.test('asyncMany enqueues many tasks in one transaction, all or nothing', async () => {
    const tm = await env.isolated();
    tm.use('a', () => null);
    const ids = await tm.asyncMany(Array.from({ length: 250 }, (_, i) => ({ name: 'a', payload: { i }, options: { priority: i % 3 } })));
    expect(ids).toHaveLength(250);
    expect(new Set(ids).size).toBe(250);
    expect((await tm.getTask(ids[17]))!.payload).toEqual({ i: 17 });
    await expect(tm.asyncMany([{ name: 'a', payload: 1 }, { name: 'nope' as 'a', payload: 2 }])).rejects.toBeInstanceOf(HandlerNotFoundError);
    await expect(tm.asyncMany([{ name: 'a', payload: 1 }, { name: 'a', payload: { f: () => 1 } }])).rejects.toBeInstanceOf(SerializationError);
    expect(await tm.getTasks()).toHaveLength(250);
    expect(await tm.asyncMany([])).toEqual([]);
  });

  env.test('bad input to async() gets a typed error and writes nothing', async () => {
    const tm = await env.isolated();
    tm.use('t', () => null);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const cases: Array<[unknown, unknown, unknown, new (...a: any[]) => Error, RegExp]> = [
      ['missing', {}, {}, HandlerNotFoundError, /No handler registered for task: missing/],
      ['t', {}, { delay: -1 }, ValidationError, /delay must be a non-negative/],
      ['t', {}, { delay: '5' }, ValidationError, /delay/],
      ['t', {}, { delay: Number.NaN }, ValidationError, /delay/],
      ['t', {}, { timeout: -1 }, ValidationError, /timeout/],
      ['t', {}, { timeout: 'x' }, ValidationError, /timeout/],
      ['t', {}, { max_retries: -1 }, ValidationError, /max_retries/],
      ['t', {}, { max_retries: 1.5 }, ValidationError, /max_retries/],
      ['t', {}, { retry_interval: -2 }, ValidationError, /retry_interval/],
      ['t', {}, { retry_interval: '1' }, ValidationError, /retry_interval/],
      ['t', {}, { priority: 1.5 }, ValidationError, /priority must be an integer/],
      ['t', {}, { priority: Number.POSITIVE_INFINITY }, ValidationError, /priority/],
      ['t', {}, { priority: '3' }, ValidationError, /priority/],
      ['t', {}, { tag: 42 }, ValidationError, /tag must be a string/],
      ['t', {}, { retries: 3 }, ValidationError, /Unknown async option "retries"/],
      ['t', { f() {} }, {}, SerializationError, /function/],
      ['t', { n: 10n }, {}, SerializationError, /BigInt/],
      ['t', cyclic, {}, SerializationError, /cycle/],
      ['t', { m: new Map() }, {}, SerializationError, /Map/],
      ['t', () => 1, {}, SerializationError, /function/],
    ];
    for (const [name, payload, options, type, message] of cases) {
      const p = tm.async(name as 't', payload, options as never);
      await expect(p, `${String(name)} ${JSON.stringify(options)}`).rejects.toBeInstanceOf(type);
      await expect(p).rejects.toThrow(message);
    }
    expect(await tm.getTasks()).toEqual([]);
    // negative priorities are valid
    await expect(tm.async('t', {}, { priority: -20 })).resolves.toBeTypeOf('number');
  });

  env.test('cron() validates the expression and time zone, and schedules the next occurrence', async () => {
    const tm = await env.isolated();
    tm.use('tick', () => 'ok');
    await expect(tm.cron('tick', 'not a cron')).rejects.toBeInstanceOf(InvalidCronError);
    await expect(tm.cron('tick', '61 * * * *')).rejects.toThrow(/Invalid cron expression: 61 \* \* \* \*/);
    await expect(tm.cron('tick', '0 9 * * *', {}, { tz: 'Mars/Olympus' })).rejects.toBeInstanceOf(InvalidCronError);
    await expect(tm.cron('missing' as 'tick', '* * * * *')).rejects.toBeInstanceOf(HandlerNotFoundError);
    await expect(tm.cron('tick', '* * * * *', {}, { delay: 5 } as never)).rejects.toBeInstanceOf(ValidationError);
    expect(await tm.getTasks()).toEqual([]);

    const utc = await tm.cron('tick', '0 9 * * *', { a: 1 });
    const tokyo = await tm.cron('tick', '0 9 * * *', { a: 2 }, { tz: 'Asia/Tokyo', tag: 'tz' });
    const [u, t] = await Promise.all([tm.getTask(utc), tm.getTask(tokyo)]);
    expect(u).toMatchObject({ type: 'cron', cron_expr: '0 9 * * *', cron_tz: 'UTC', status: 'pending' });
    expect(new Date(u!.next_run_time).getUTCHours()).toBe(9);
    expect(new Date(t!.next_run_time).getUTCHours()).toBe(0); // 09:00 in Tokyo is 00:00 UTC
    expect(u!.next_run_time).toBeGreaterThan(Date.now());
  });
});

describeBackends('configuration', backends().slice(0, 1), (env) => {
  env.test('the constructor validates options and never connects', async () => {
    expect(() => new TaskManager(undefined as never)).toThrow(ConfigurationError);
    expect(() => new TaskManager({} as never)).toThrow(/TaskManager requires an explicit dbConnection/);
    expect(() => new TaskManager({ dbConnection: null } as never)).toThrow(ConfigurationError);
    expect(() => new TaskManager({ dbConnection: 'oracle://x' })).toThrow(/Unsupported dbConnection/);
    expect(() => new TaskManager({ dbConnection: 'just-a-path.db' })).toThrow(ConfigurationError);
    expect(() => new TaskManager({ dbConnection: 'sqlite::memory:', dbType: 'mysql' })).toThrow(/does not match/);
    expect(() => new TaskManager({ dbConnection: 'sqlite::memory:', poll_interval: -5 })).toThrow(/poll_interval/);
    expect(() => new TaskManager({ dbConnection: 'sqlite::memory:', max_concurrent_tasks: 0 })).toThrow(/max_concurrent_tasks/);
    expect(() => new TaskManager({ dbConnection: 'sqlite::memory:', bogus: 1 } as never)).toThrow(/Unknown TaskManager option "bogus"/);
    // a path in a directory that does not exist: constructing must not touch it
    const tm = new TaskManager({ dbConnection: 'sqlite:///path/to/custom/db.sqlite' });
    expect(tm.state).toBe('init');
    expect(tm.options).toMatchObject({ poll_interval: 1000, max_retries: 3, retry_interval: 0, timeout: 60, max_concurrent_tasks: 10, task_heartbeat_interval: 5000, task_heartbeat_timeout: 30000, recover_running_jobs: true, shutdown_timeout: 30000, pod_id: null });
    expect(tm.options.worker_id).toMatch(/^worker-/);
    await tm.stop();
    // dbType aliases are accepted when consistent
    expect(() => new TaskManager({ dbConnection: 'psql://u@h/db', dbType: 'postgres' })).not.toThrow();
  });

  env.test('handlers: three forms of use(), bad forms rejected, unuse() counts, getTaskInfo()', async () => {
    const tm = await env.isolated();
    tm.use('fn', () => 1);
    tm.use('obj', { handler: () => 2, description: 'object form', priority: 3 });
    tm.use({ m1: () => 3, m2: { handler: () => 4 } });
    expect(tm.getTaskInfo('obj')).toEqual({ name: 'obj', description: 'object form' });
    expect(tm.getTaskInfo('m1')).toEqual({ name: 'm1', description: '' });
    expect(() => tm.getTaskInfo('none')).toThrow(/No task registered with name: none/);
    expect(() => tm.use('bad', 42 as never)).toThrow(InvalidHandlerError);
    expect(() => tm.use('bad', { handler: 'x' } as never)).toThrow(/Handler must be a function or an object with handler property/);
    expect(() => tm.use('bad', { handler: () => 1, parameters: {} } as never)).toThrow(/Handler schema is no longer supported for task: bad/);
    expect(() => tm.use('bad', { handler: () => 1, output: {} } as never)).toThrow(InvalidHandlerError);
    expect(() => tm.use('bad', { handler: () => 1, timeout: -1 })).toThrow(ValidationError);
    expect(() => tm.use({ ok: () => 1, broken: 5 } as never)).toThrow(InvalidHandlerError);
    expect(() => tm.getTaskInfo('ok')).toThrow(); // a bad entry in a map registers nothing
    expect(tm.unuse('fn')).toBe(1);
    expect(tm.unuse('fn')).toBe(0);
    expect(tm.unuse(['m1', 'm2', 'zzz'])).toBe(2);
    await expect(tm.async('fn', {})).rejects.toBeInstanceOf(HandlerNotFoundError);
  });
});
