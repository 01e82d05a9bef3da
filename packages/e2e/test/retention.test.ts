import { describe, expect, it, vi } from 'vitest';
import { ConfigurationError, TaskManager, ValidationError, type Store, type TaskId } from '@taskmill/core';
import { backends, sharedBackends } from '../src/backends.js';
import { FAST, describeBackends, waitFor, waitForStatus } from '../src/harness.js';

/*
 * Retention through the TaskManager (docs/behaviour.md#retention, #maintenance): which tasks go, with their events and
 * attempts; which never go; how policies merge and fail; automatic sweeps and their timing.
 * Policies carry `now` in the future instead of tests sleeping until tasks expire.
 */

function blocker() {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  return { gate, release };
}

const ZERO = { tasks_deleted: 0, events_deleted: 0, attempts_deleted: 0 };
const later = (seconds: number) => Date.now() + seconds * 1000;

/** The task is gone, and so is every audit row of it. */
async function expectGone(tm: TaskManager<any>, id: TaskId): Promise<void> {
  expect(await tm.getTask(id)).toBeNull();
  expect(await tm.getTaskEvents(id)).toEqual([]);
  expect(await tm.getTaskAttempts(id)).toEqual([]);
}

/** The task is there with its audit rows. */
async function expectKept(tm: TaskManager<any>, id: TaskId, status?: string): Promise<void> {
  const task = await tm.getTask(id);
  expect(task, `task ${id}`).not.toBeNull();
  if (status) expect(task!.status).toBe(status);
  expect((await tm.getTaskEvents(id)).length).toBeGreaterThan(0);
}

describe('retention options', () => {
  it('are known, defaulted as fib-flow does, and fill expire_time into rules that lack one', () => {
    const memory = new TaskManager({ dbConnection: 'sqlite::memory:' });
    expect(memory.options.retention).toEqual([{ expire_time: 3600, statuses: ['completed', 'permanently_failed'] }]);
    expect(memory.options.expire_time).toBe(3600);
    expect(memory.options.retention_interval).toBe(300000);
    const file = new TaskManager({ dbConnection: 'sqlite:/tmp/never-opened.db' });
    expect(file.options.retention).toEqual([{ expire_time: 86400, statuses: ['completed', 'permanently_failed'] }]);
    const paused = new TaskManager({ dbConnection: 'sqlite::memory:', expire_time: 60, retention: { statuses: ['paused'] }, retention_interval: 1000 });
    expect(paused.options.retention).toEqual([{ expire_time: 60, statuses: ['paused'] }]);
    expect(paused.options.retention_interval).toBe(1000);
    // the sweeper's slice and pause: min(1 s, half the interval) and twice that (at most the interval), or as given
    expect([memory.options.retention_time_budget, memory.options.retention_pause]).toEqual([1000, 2000]);
    expect([paused.options.retention_time_budget, paused.options.retention_pause]).toEqual([500, 1000]);
    const tuned = new TaskManager({ dbConnection: 'sqlite::memory:', retention_time_budget: 250, retention_pause: 5000 });
    expect([tuned.options.retention_time_budget, tuned.options.retention_pause]).toEqual([250, 5000]);
    const shortcut = new TaskManager({ dbConnection: 'sqlite::memory:', retention: 120 });
    expect(shortcut.options.retention).toEqual([{ expire_time: 120, statuses: ['completed', 'permanently_failed'] }]);
    const split = new TaskManager({
      dbConnection: 'sqlite::memory:',
      expire_time: 10,
      retention: [{ statuses: ['completed'] }, { expire_time: 1000, statuses: ['permanently_failed'] }],
    });
    expect(split.options.retention).toEqual([
      { expire_time: 10, statuses: ['completed'] },
      { expire_time: 1000, statuses: ['permanently_failed'] },
    ]);
    expect(split.options.expire_time).toBe(10);
    for (const off of [{ expire_time: null }, { expire_time: false }, { retention: false }, { retention: { expire_time: null } }] as const) {
      const tm = new TaskManager({ dbConnection: 'sqlite::memory:', ...off });
      expect(tm.options.retention).toEqual([]);
      expect(tm.options.expire_time).toBeNull();
    }
  });

  it('reject bad values at construction with a ConfigurationError naming the problem', () => {
    const bad: [Record<string, unknown>, string][] = [
      [{ expire_time: 0 }, 'Option expire_time must be a positive number'],
      [{ expire_time: '1d' }, 'Option expire_time must be a positive number'],
      [{ retention: { expire_time: -5 } }, 'retention expire_time must be a positive number'],
      [{ retention: { statuses: [] } }, 'retention statuses must be a non-empty array'],
      [{ retention: { statuses: ['completed', 'running'] } }, 'Unsupported retention status: running'],
      [{ retention: { expire: 60 } }, 'Unknown retention option "expire"'],
      [{ retention: 'weekly' }, 'retention policy must be a number of seconds'],
      [{ retention: [{ statuses: ['completed'] }, { statuses: ['completed', 'paused'] }] }, 'Retention status completed is in more than one rule'],
      [{ retention_interval: 0 }, 'Option retention_interval must be a positive number of ms'],
      [{ retention_interval: 2 ** 31 }, 'Option retention_interval must be a positive number of ms, at most 2147483647'],
      [{ retention_time_budget: 0 }, 'Option retention_time_budget must be a positive number of ms'],
      [{ retention_time_budget: '1s' }, 'Option retention_time_budget must be a positive number of ms'],
      [{ retention_pause: -1 }, 'Option retention_pause must be a positive number of ms'],
      [{ retention_pause: 2 ** 31 }, 'Option retention_pause must be a positive number of ms, at most 2147483647'],
    ];
    for (const [options, message] of bad) {
      const make = () => new TaskManager({ dbConnection: 'sqlite::memory:', ...options } as never);
      expect(make, JSON.stringify(options)).toThrow(ConfigurationError);
      expect(make, JSON.stringify(options)).toThrow(message);
    }
  });
});

describeBackends('retention', backends(), (env) => {
  env.test('deletes expired completed and permanently_failed tasks with their events and attempts; paused is opt-in; live statuses are never deleted', async () => {
    const tm = await env.isolated({ expire_time: 1, retry_interval: 3600 });
    const hold = blocker();
    tm.use({
      ok: () => 'done',
      boom: () => {
        throw new Error('boom');
      },
      hold: () => hold.gate,
      wait: (task) => (task.stage === 0 ? task.suspend({ reason: 'needs_approval' }) : 'approved'),
      slow: (task) => new Promise((resolve) => task.signal.addEventListener('abort', resolve)),
      tick: () => 1,
    });
    const completed = await tm.async('ok', {});
    const permanentlyFailed = await tm.async('boom', {}, { max_retries: 1 });
    const failed = await tm.async('boom', {}, { max_retries: 3 });
    const timedOut = await tm.async('slow', {}, { max_retries: 3, timeout: 0.3 });
    const running = await tm.async('hold', {});
    const suspended = await tm.async('wait', {});
    const pending = await tm.async('ok', {}, { delay: 3600 });
    const paused = await tm.cron('tick', '0 0 1 1 *', {});
    await tm.pauseTask(paused);
    await tm.start();
    await waitForStatus(tm, completed, 'completed');
    await waitForStatus(tm, permanentlyFailed, 'permanently_failed');
    await waitForStatus(tm, failed, 'failed');
    await waitForStatus(tm, timedOut, 'timeout');
    await waitForStatus(tm, running, 'running');
    await waitForStatus(tm, suspended, 'suspended');

    const result = await tm.runRetention({ now: later(10) });
    expect(result.tasks_deleted).toBe(2);
    expect(result.attempts_deleted).toBe(2);
    expect(result.events_deleted).toBeGreaterThanOrEqual(8);
    await expectGone(tm, completed);
    await expectGone(tm, permanentlyFailed);
    for (const [id, status] of [
      [failed, 'failed'],
      [timedOut, 'timeout'],
      [running, 'running'],
      [suspended, 'suspended'],
      [pending, 'pending'],
      [paused, 'paused'],
    ] as const) {
      await expectKept(tm, id, status);
    }

    // paused only when asked for
    expect((await tm.runRetention({ statuses: ['paused'], now: later(10) })).tasks_deleted).toBe(1);
    await expectGone(tm, paused);

    // even the widest policy, far in the future, leaves live tasks alone
    expect(await tm.runRetention({ statuses: ['completed', 'permanently_failed', 'paused'], now: later(10 * 365 * 86400) })).toEqual(ZERO);
    for (const id of [failed, timedOut, running, suspended, pending]) await expectKept(tm, id);
    hold.release();
    await waitForStatus(tm, running, 'completed');
  });

  env.test('a workflow loses only the rows that qualify themselves; the rest keeps working', async () => {
    const tm = await env.isolated({ expire_time: 1 });
    const hold = blocker();
    tm.use({
      parent: (task, next) => (task.stage === 0 ? next([{ name: 'child', payload: { hold: false } }, { name: 'child', payload: { hold: true } }]) : task.result),
      child: async (task) => {
        if ((task.payload as { hold: boolean }).hold) await hold.gate;
        return 'c';
      },
    });
    const parent = await tm.async('parent', {});
    await tm.start();
    await waitForStatus(tm, parent, 'suspended');
    const children = await waitFor(async () => {
      const list = await tm.getChildTasks(parent);
      return list.length === 2 && list.some((c) => c.status === 'completed') && list.some((c) => c.status === 'running') ? list : null;
    });
    const done = children.find((c) => c.status === 'completed')!.id;
    const busy = children.find((c) => c.status === 'running')!.id;

    expect((await tm.runRetention({ now: later(10) })).tasks_deleted).toBe(1);
    await expectGone(tm, done);
    await expectKept(tm, parent, 'suspended');
    await expectKept(tm, busy, 'running');

    hold.release();
    const finished = await waitForStatus(tm, parent, 'completed');
    expect(finished.result).toHaveLength(2);
    expect((await tm.runRetention({ now: later(10) })).tasks_deleted).toBe(2);
    await expectGone(tm, parent);
    await expectGone(tm, busy);
  });

  env.test('invalid policies throw typed errors and delete nothing', async () => {
    const tm = await env.isolated({ expire_time: 1 });
    tm.use('ok', () => 1);
    const id = await tm.async('ok', {});
    await tm.start();
    await waitForStatus(tm, id, 'completed');
    const bad: [unknown, string][] = [
      [0, 'retention expire_time must be a positive number'],
      [{ expire_time: Number.NaN }, 'retention expire_time must be a positive number'],
      [{ statuses: [] }, 'retention statuses must be a non-empty array'],
      [{ statuses: 'completed' }, 'retention statuses must be a non-empty array'],
      [{ statuses: ['completed', 'pending'] }, 'Unsupported retention status: pending'],
      [[{ expire_time: 1 }, { expire_time: 1, statuses: ['suspended'] }], 'Unsupported retention status: suspended'],
      [{ now: 'tomorrow' }, 'retention now must be a time in ms since the epoch'],
      [{ expire: 1 }, 'Unknown retention option "expire"'],
      ['1', 'retention policy must be a number of seconds'],
    ];
    for (const [policy, message] of bad) {
      await expect(tm.runRetention(policy as never), JSON.stringify(policy)).rejects.toThrow(ValidationError);
      await expect(tm.runRetention(policy as never), JSON.stringify(policy)).rejects.toThrow(message);
    }
    await expectKept(tm, id, 'completed');
  });

  env.test('merges a policy over the configured one: a number is the expire_time, an object keeps what it does not name', async () => {
    const tm = await env.isolated({ expire_time: 3600 });
    tm.use('ok', () => 1);
    const id = await tm.async('ok', {});
    await tm.start();
    await waitForStatus(tm, id, 'completed');
    expect(await tm.runRetention()).toEqual(ZERO); // configured: an hour, not yet
    expect(await tm.runRetention({ now: later(60) })).toEqual(ZERO);
    expect(await tm.runRetention({ statuses: ['permanently_failed'], now: later(7200) })).toEqual(ZERO);
    await expectKept(tm, id, 'completed');
    // a bare number replaces the expire_time; the task is far less than 3600 s old but older than 0.001 s
    await waitFor(async () => (await tm.runRetention(0.001)).tasks_deleted === 1);
    await expectGone(tm, id);
  });

  env.test('keeps failures longer than successes with one rule per group of statuses', async () => {
    const tm = await env.isolated({
      retention: [
        { expire_time: 60, statuses: ['completed'] },
        { expire_time: 3600, statuses: ['permanently_failed'] },
      ],
    });
    tm.use({ ok: () => 1, boom: () => Promise.reject(new Error('no')) });
    const ok = await tm.async('ok', {});
    const boom = await tm.async('boom', {}, { max_retries: 1 });
    await tm.start();
    await waitForStatus(tm, ok, 'completed');
    await waitForStatus(tm, boom, 'permanently_failed');
    expect((await tm.runRetention({ now: later(120) })).tasks_deleted).toBe(1);
    await expectGone(tm, ok);
    await expectKept(tm, boom, 'permanently_failed');
    expect((await tm.runRetention({ now: later(3700) })).tasks_deleted).toBe(1);
    await expectGone(tm, boom);
  });

  env.test('drains more tasks than one batch holds', async () => {
    const tm = await env.isolated({ expire_time: 1, max_concurrent_tasks: 50 });
    tm.use('ok', () => 1);
    const ids = await tm.asyncMany(Array.from({ length: 250 }, (_, i) => ({ name: 'ok' as const, payload: { i } })));
    await tm.start();
    await waitFor(async () => (await tm.getTasksByStatus('completed')).length === 250, { timeout: 60_000, what: '250 completed tasks' });
    const result = await tm.runRetention({ now: later(10) });
    expect(result.tasks_deleted).toBe(250);
    expect(result.attempts_deleted).toBe(250);
    expect(result.events_deleted).toBeGreaterThanOrEqual(250 * 4);
    expect(await tm.getTasks()).toEqual([]);
    for (const id of [ids[0], ids[137], ids[249]]) await expectGone(tm, id);
  });

  env.test('a disabled policy deletes nothing and schedules no sweep', async () => {
    const tm = await env.isolated({ retention: false, retention_interval: 200 });
    tm.use('ok', () => 1);
    const id = await tm.async('ok', {});
    await tm.start();
    await waitForStatus(tm, id, 'completed');
    expect(tm.nextRetentionSweepAt).toBeNull();
    expect(await tm.runRetention({ now: later(10) })).toEqual(ZERO);
    await new Promise((r) => setTimeout(r, 500));
    await expectKept(tm, id, 'completed');
    // an explicit expire_time still works on demand
    expect((await tm.runRetention({ expire_time: 1, now: later(10) })).tasks_deleted).toBe(1);
  });

  env.test('sweeps automatically: first a full retention_interval after start, then every interval; a manual run pushes the next one away', async () => {
    const INTERVAL = 1500;
    const tm = await env.isolated({ expire_time: 0.05, retention_interval: INTERVAL });
    tm.use('ok', () => 1);
    const first = await tm.async('ok', {});
    const startedAt = Date.now();
    await tm.start();
    expect(tm.nextRetentionSweepAt).toBeGreaterThanOrEqual(startedAt + INTERVAL);
    await waitForStatus(tm, first, 'completed');
    await waitFor(async () => (await tm.getTask(first)) === null, { interval: 10, what: 'the first sweep' });
    const firstSweep = Date.now();
    expect(firstSweep - startedAt).toBeGreaterThanOrEqual(INTERVAL);
    await expectGone(tm, first);

    // completed just after the first sweep: only the second one can take it
    const second = await tm.async('ok', {});
    await waitForStatus(tm, second, 'completed');
    await waitFor(async () => (await tm.getTask(second)) === null, { interval: 10, what: 'the second sweep' });
    expect(Date.now() - firstSweep).toBeGreaterThanOrEqual(INTERVAL - 100);

    const ranAt = Date.now();
    await tm.runRetention();
    expect(tm.nextRetentionSweepAt).toBeGreaterThanOrEqual(ranAt + INTERVAL);
  });

  env.test('expiry is judged on the database clock: a process 30 s ahead deletes no task finished less than expire_time ago', async () => {
    // Date.now() shifted is a process whose clock runs ahead; the store's serverTime is not shifted
    const realNow = Date.now.bind(Date);
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() + 30_000);
    try {
      const INTERVAL = 300;
      const tm = await env.isolated({ expire_time: 20, retention_interval: INTERVAL, retention_time_budget: 100, retention_pause: 100 });
      tm.use('ok', () => 1);
      const id = await tm.async('ok', {});
      await tm.start();
      await waitForStatus(tm, id, 'completed');
      // two automatic sweeps after the task completed: on the local clock it was 30 s old, past its 20 s
      const firstDue = tm.nextRetentionSweepAt!;
      await waitFor(() => tm.nextRetentionSweepAt! >= firstDue + 2 * INTERVAL, { what: 'two automatic sweeps' });
      await expectKept(tm, id, 'completed');
      expect(await tm.runRetention()).toEqual(ZERO);
      await expectKept(tm, id, 'completed');
      // on the database's clock the task did finish: once idle longer than a policy asks, it goes
      await new Promise((r) => setTimeout(r, 300));
      expect((await tm.runRetention(0.2)).tasks_deleted).toBe(1);
      await expectGone(tm, id);
    } finally {
      vi.restoreAllMocks();
    }
  });
});

describeBackends('retention across workers', sharedBackends(), (env) => {
  env.test('a failing sweep goes to onError, and the next sweep still runs', async () => {
    await env.isolated(); // only for its database
    const real = await env.db().openPeerStore();
    let failures = 1;
    // the real store, except that its first purge fails as a lost connection would
    const store = new Proxy(real, {
      get(target, prop) {
        if (prop === 'purgeExpiredTasks') {
          return async (input: Parameters<Store['purgeExpiredTasks']>[0]) => {
            if (failures-- > 0) throw new Error('purge failed');
            return target.purgeExpiredTasks(input);
          };
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const errors: [unknown, string][] = [];
    const tm = new TaskManager({ dbConnection: store, ...FAST, expire_time: 0.05, retention_interval: 400, onError: (e, where) => errors.push([e, where]) });
    tm.use('ok', () => 1);
    const id = await tm.async('ok', {});
    try {
      await tm.start();
      await waitForStatus(tm, id, 'completed');
      await waitFor(async () => (await tm.getTask(id)) === null, { interval: 10, what: 'a sweep after the failed one' });
      expect(errors.filter(([, where]) => where === 'retention').map(([e]) => (e as Error).message)).toEqual(['purge failed']);
      expect(failures).toBeLessThan(0);
      expect(tm.state).toBe('running');
    } finally {
      await tm.stop();
      await real.close();
    }
  });

  env.test('workers running retention at once delete each task once and count it once', async () => {
    const tm = await env.isolated({ expire_time: 1, max_concurrent_tasks: 50 });
    tm.use('ok', () => 1);
    await tm.asyncMany(Array.from({ length: 300 }, (_, i) => ({ name: 'ok' as const, payload: { i } })));
    await tm.start();
    await waitFor(async () => (await tm.getTasksByStatus('completed')).length === 300, { timeout: 60_000, what: '300 completed tasks' });
    // peers with connections of their own, as separate worker processes would have
    const peers = [
      new TaskManager({ dbConnection: await env.db().peerConnection(), expire_time: 1 }),
      new TaskManager({ dbConnection: await env.db().peerConnection(), expire_time: 1 }),
    ];
    try {
      const now = later(10);
      const results = await Promise.all([tm, ...peers].map((m) => m.runRetention({ now })));
      expect(results.reduce((sum, r) => sum + r.tasks_deleted, 0)).toBe(300);
      expect(results.reduce((sum, r) => sum + r.attempts_deleted, 0)).toBe(300);
      expect(await tm.getTasks()).toEqual([]);
    } finally {
      await Promise.all(peers.map((m) => m.stop()));
    }
  });
});
