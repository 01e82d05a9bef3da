import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import {
  InvalidTransitionError,
  LimitExceededError,
  LIMITS,
  SerializationError,
  TaskFinishedError,
  TaskManager,
  TaskNotFoundError,
  ValidationError,
  type ReceivedSignal,
  type TaskContext,
  type TaskEvent,
} from '@taskmill/core';
import { backends, sharedBackends } from '../src/backends.js';
import { describeBackends, FAST, waitFor, waitForStatus } from '../src/harness.js';
import { spawnWorker, type WorkerProcess } from '../src/processes.js';

/** How late a wait may end after its due time in a process that knows of it (a timer, not a poll). */
const PROMPT_MS = 1000;

const last = (events: TaskEvent[], type: string) => events.filter((e) => e.event_type === type).pop();

describeBackends('durable sleep', backends(), (env) => {
  env.test('a sleep holds no slot: with max_concurrent_tasks 1 another task runs meanwhile, and the sleeper resumes at stage 1 on time', async () => {
    // the maintenance sweep runs every 5 s here: only the timer the sleep set can wake it on time
    const tm = await env.isolated({ max_concurrent_tasks: 1, task_heartbeat_interval: 5000 });
    const runs: Array<{ stage: number; at: number }> = [];
    tm.use('sleeper', (task) => {
      runs.push({ stage: task.stage, at: Date.now() });
      return task.stage === 0 ? task.sleep(1.5) : 'rested';
    });
    tm.use('quick', () => 'ran');
    const id = await tm.async('sleeper');
    await tm.start();
    const sleeping = await waitForStatus(tm, id, 'suspended');
    expect(sleeping).toMatchObject({ suspend_reason: 'sleep', stage: 0 });
    expect(sleeping.wake_at).toBe(sleeping.next_run_time);
    const quick = await tm.async('quick');
    await waitForStatus(tm, quick, 'completed');
    expect((await tm.getTask(id))?.status).toBe('suspended'); // still asleep, its slot free
    const done = await waitForStatus(tm, id, 'completed', 10_000);
    expect(done).toMatchObject({ stage: 1, result: 'rested', wake_at: null });
    expect(runs.map((r) => r.stage)).toEqual([0, 1]);
    const events = await tm.getTaskEvents(id);
    expect(events.map((e) => e.event_type)).toEqual([
      'task_created', 'task_claimed', 'task_started', 'task_suspended', 'task_resumed', 'task_claimed', 'task_started', 'task_completed',
    ]);
    const suspended = last(events, 'task_suspended')!;
    const resumed = last(events, 'task_resumed')!;
    expect(suspended.metadata).toMatchObject({ suspend_reason: 'sleep', wake_at: sleeping.wake_at });
    expect(resumed.metadata).toMatchObject({ resume_reason: 'sleep_elapsed', wake_at: sleeping.wake_at });
    expect(resumed.event_time - sleeping.wake_at!).toBeGreaterThanOrEqual(0);
    expect(resumed.event_time - sleeping.wake_at!).toBeLessThan(PROMPT_MS);
    // 1.5 s from the handler's return, which the write of its outcome follows by a few ms
    expect(sleeping.wake_at! - suspended.event_time).toBeLessThanOrEqual(1500);
    expect(sleeping.wake_at! - suspended.event_time).toBeGreaterThan(1300);
    expect((await tm.getTaskAttempts(id)).map((a) => a.outcome)).toEqual(['suspended', 'completed']);
  });

  env.test('a sleep until a Date; resumeTask wakes a sleeper early, pauseTask is refused and cancelTask ends it', async () => {
    const tm = await env.isolated();
    tm.use('until', (task) => (task.stage === 0 ? task.sleep(new Date(Date.now() + 700)) : task.stage));
    tm.use('long', (task) => (task.stage === 0 ? task.sleep(3600) : 'woken early'));
    const [until, early, cancelled] = [await tm.async('until'), await tm.async('long'), await tm.async('long')];
    await tm.start();
    expect(await waitForStatus(tm, until, 'completed')).toMatchObject({ result: 1 });
    await waitForStatus(tm, early, 'suspended');
    await waitForStatus(tm, cancelled, 'suspended');
    await expect(tm.pauseTask(early)).rejects.toBeInstanceOf(InvalidTransitionError);
    await tm.resumeTask(early);
    expect(await waitForStatus(tm, early, 'completed')).toMatchObject({ result: 'woken early', stage: 1 });
    expect(last(await tm.getTaskEvents(early), 'task_resumed')?.metadata).toMatchObject({ resume_reason: 'manual' });
    await tm.cancelTask(cancelled);
    expect(await tm.getTask(cancelled)).toMatchObject({ status: 'permanently_failed', wake_at: null, suspend_reason: null });
  });

  env.test('a bad sleep fails the attempt with a ValidationError and suspends nothing', async () => {
    const tm = await env.isolated();
    const bad: Record<string, () => unknown> = {
      negative: () => -1,
      infinite: () => Infinity,
      nan: () => Number.NaN,
      'beyond the delay limit': () => LIMITS.max_delay_seconds + 1,
      'a date past year 9999': () => new Date(LIMITS.max_time_ms),
      'an invalid date': () => new Date('nope'),
      'a string': () => '10',
    };
    tm.use('bad', { handler: (task) => task.sleep(bad[(task.payload as { kind: string }).kind]() as number), max_retries: 1 });
    const ids = await tm.asyncMany(Object.keys(bad).map((kind) => ({ name: 'bad', payload: { kind } })));
    await tm.start();
    for (const id of ids) {
      const failed = await waitForStatus(tm, id, 'permanently_failed');
      expect(failed.error).toMatch(/^ValidationError: Sleep/);
      expect(failed.wake_at).toBeNull();
      expect((await tm.getTaskEvents(id)).some((e) => e.event_type === 'task_suspended')).toBe(false);
    }
  });
});

describeBackends('signals', backends(), (env) => {
  /** `waiter`: waits for `payload.signal` (timeout `payload.timeout`), then returns what it received. */
  const useWaiter = (tm: TaskManager, gate?: () => boolean) =>
    tm.use('waiter', async (task) => {
      const { signal, timeout } = task.payload as { signal: string; timeout?: number };
      if (task.stage === 0) {
        if (gate) await waitFor(gate, { timeout: 30_000 });
        return task.waitForSignal(signal, timeout === undefined ? {} : { timeout });
      }
      return task.received_signal;
    });

  env.test('a signal sent after the wait resumes the task at stage 1 with its data', async () => {
    const tm = await env.isolated({ task_heartbeat_interval: 5000 });
    useWaiter(tm);
    const id = await tm.async('waiter', { signal: 'shipped', timeout: 3600 });
    await tm.start();
    const waiting = await waitForStatus(tm, id, 'suspended');
    expect(waiting).toMatchObject({ suspend_reason: 'signal', awaited_signal: 'shipped', received_signal: null });
    const sent = await tm.signal(id, 'shipped', { tracking: 'ZX-1' });
    expect(sent.resumed).toBe(true);
    const done = await waitForStatus(tm, id, 'completed');
    const received = done.result as ReceivedSignal;
    expect(received).toMatchObject({ name: 'shipped', timed_out: false, data: { tracking: 'ZX-1' }, signal_id: sent.signal_id });
    expect(done.received_signal).toEqual(received);
    const events = await tm.getTaskEvents(id);
    expect(events.map((e) => e.event_type).slice(3, 6)).toEqual(['task_suspended', 'task_signal_received', 'task_resumed']);
    expect(last(events, 'task_suspended')?.metadata).toMatchObject({ suspend_reason: 'signal', signal: 'shipped' });
    expect(last(events, 'task_signal_received')?.metadata).toEqual({ signal: 'shipped', signal_id: sent.signal_id, resumed: true });
    expect(last(events, 'task_resumed')?.metadata).toMatchObject({ resume_reason: 'signal', signal: 'shipped', signal_id: sent.signal_id });
  });

  env.test('a signal sent before the wait is kept: the wait ends at once with it', async () => {
    const tm = await env.isolated();
    let open = false;
    useWaiter(tm, () => open);
    const id = await tm.async('waiter', { signal: 'approved' });
    await tm.start();
    await waitForStatus(tm, id, 'running');
    expect(await tm.signal(id, 'approved', 'yes')).toMatchObject({ resumed: false });
    expect(await tm.signal(id, 'other')).toMatchObject({ resumed: false });
    open = true;
    const done = await waitForStatus(tm, id, 'completed');
    expect(done.result).toMatchObject({ name: 'approved', data: 'yes', timed_out: false });
    const types = (await tm.getTaskEvents(id)).map((e) => e.event_type);
    expect(types.filter((t) => t === 'task_signal_received')).toHaveLength(2);
    expect(types.slice(-5)).toEqual(['task_suspended', 'task_resumed', 'task_claimed', 'task_started', 'task_completed']);
  });

  env.test('a signal wait that times out resumes with received_signal.timed_out, on time', async () => {
    const tm = await env.isolated({ task_heartbeat_interval: 5000 });
    useWaiter(tm);
    const id = await tm.async('waiter', { signal: 'never', timeout: 0.8 });
    await tm.start();
    const waiting = await waitForStatus(tm, id, 'suspended');
    const done = await waitForStatus(tm, id, 'completed');
    expect(done.result).toEqual({ name: 'never', timed_out: true, data: null, signal_id: null, sent_at: null });
    const resumed = last(await tm.getTaskEvents(id), 'task_resumed')!;
    expect(resumed.metadata).toMatchObject({ resume_reason: 'signal_timeout', signal: 'never', wake_at: waiting.wake_at });
    expect(resumed.event_time - waiting.wake_at!).toBeLessThan(PROMPT_MS);
  });

  env.test('a signal to a finished or unknown task, or with bad input, is a typed error and writes nothing', async () => {
    const tm = await env.isolated();
    tm.use('done', () => 'ok');
    tm.use('doomed', { handler: () => Promise.reject(new Error('no')), max_retries: 1 });
    useWaiter(tm);
    const [done, doomed, waiting] = [await tm.async('done'), await tm.async('doomed'), await tm.async('waiter', { signal: 'go' })];
    await tm.start();
    await waitForStatus(tm, done, 'completed');
    await waitForStatus(tm, doomed, 'permanently_failed');
    await waitForStatus(tm, waiting, 'suspended');
    const eventCounts = async () => Promise.all([done, doomed, waiting].map(async (id) => (await tm.getTaskEvents(id)).length));
    const before = await eventCounts();
    await expect(tm.signal(done, 'go')).rejects.toBeInstanceOf(TaskFinishedError);
    await expect(tm.signal(doomed, 'go')).rejects.toMatchObject({ code: 'TASKMILL_TASK_FINISHED' });
    await expect(tm.signal(987_654_321, 'go')).rejects.toBeInstanceOf(TaskNotFoundError);
    for (const id of [1.5, -1, 'abc', null]) await expect(tm.signal(id as number, 'go')).rejects.toBeInstanceOf(ValidationError);
    for (const name of ['', 'x'.repeat(256), 'a\u0000b', 42]) await expect(tm.signal(waiting, name as string)).rejects.toBeInstanceOf(ValidationError);
    await expect(tm.signal(waiting, 'go', { n: 1n })).rejects.toBeInstanceOf(SerializationError);
    await expect(tm.signal(waiting, 'go', { f: Number.NaN })).rejects.toBeInstanceOf(SerializationError);
    await expect(tm.signal(waiting, 'go', 'x'.repeat(LIMITS.max_payload_bytes + 1))).rejects.toBeInstanceOf(LimitExceededError);
    expect(await eventCounts()).toEqual(before);
    expect(await tm.getTask(waiting)).toMatchObject({ status: 'suspended', awaited_signal: 'go' });
    // a name of exactly 255 characters is fine
    expect(await tm.signal(waiting, 'y'.repeat(255))).toMatchObject({ resumed: false });
  });

  env.test('a bad waitForSignal fails the attempt with a ValidationError', async () => {
    const tm = await env.isolated();
    const bad: Record<string, (task: TaskContext) => unknown> = {
      'empty name': (t) => t.waitForSignal(''),
      'long name': (t) => t.waitForSignal('x'.repeat(256)),
      'negative timeout': (t) => t.waitForSignal('go', { timeout: -1 }),
      'infinite timeout': (t) => t.waitForSignal('go', { timeout: Infinity }),
    };
    tm.use('bad', { handler: (task) => bad[(task.payload as { kind: string }).kind](task) as never, max_retries: 1 });
    const ids = await tm.asyncMany(Object.keys(bad).map((kind) => ({ name: 'bad', payload: { kind } })));
    await tm.start();
    for (const id of ids) expect((await waitForStatus(tm, id, 'permanently_failed')).error).toMatch(/^ValidationError: Signal/);
  });

  env.test("task.suspend() refuses the reasons 'sleep' and 'signal' (a plain suspension has no wake time or signal name)", async () => {
    const tm = await env.isolated();
    tm.use('fake', { handler: (task) => task.suspend({ reason: (task.payload as { reason: string }).reason }), max_retries: 1 });
    const ids = await tm.asyncMany(['sleep', 'signal', ' sleep '].map((reason) => ({ name: 'fake', payload: { reason } })));
    const other = await tm.async('fake', { reason: 'review' });
    await tm.start();
    for (const id of ids) expect((await waitForStatus(tm, id, 'permanently_failed')).error).toMatch(/^ValidationError: Suspension reason '(sleep|signal)' is reserved/);
    expect(await waitForStatus(tm, other, 'suspended')).toMatchObject({ suspend_reason: 'review' });
  });

  env.test('a signal racing the suspension that waits for it, from another connection, is never lost (many rounds)', async () => {
    const tm = await env.isolated({ max_concurrent_tasks: 4 });
    const sender = env.backend.name === 'sqlite-memory' ? tm : new TaskManager({ dbConnection: await env.db().peerConnection(), ...FAST });
    try {
      const rounds = 30;
      const orders: boolean[] = [];
      const returning = new Map<number, () => void>();
      tm.use('racer', async (task) => {
        if (task.stage === 0) {
          // hold until the test lets go, then suspend while the signal is on its way
          await new Promise<void>((resolve) => returning.set(task.id, resolve));
          return task.waitForSignal('go', { timeout: 3600 });
        }
        return (task.received_signal as ReceivedSignal).data;
      });
      await tm.start();
      for (let round = 0; round < rounds; round++) {
        const id = await tm.async('racer', { round });
        await waitFor(() => returning.get(id), { what: `racer ${id} to run` });
        // the handler returns and its outcome is written while the signal is sent: either may commit first
        returning.get(id)!();
        if (round % 3 === 1) await new Promise((r) => setImmediate(r));
        orders.push((await sender.signal(id, 'go', round)).resumed);
        expect((await waitForStatus(tm, id, 'completed', 10_000)).result, `round ${round}`).toBe(round);
      }
      // both orders happened: the signal came first (kept, then taken by the wait) and the wait came first
      // (measured: the signal resumed the task in 10 to 19 of 30 rounds, depending on the store)
      expect(orders.filter(Boolean).length, 'rounds where the wait committed first').toBeGreaterThan(0);
      expect(orders.filter((resumed) => !resumed).length, 'rounds where the signal committed first').toBeGreaterThan(0);
    } finally {
      if (sender !== tm) await sender.stop();
    }
  });
});

describeBackends('durable waits in isolated handlers', backends(), (env) => {
  env.test('an isolated handler sleeps and waits for a signal from its worker thread', async () => {
    const tm = await env.isolated();
    tm.use('isolated', { module: new URL('../src/isolated/waits.mjs', import.meta.url), isolate: 'thread' });
    const id = await tm.async('isolated');
    await tm.start();
    await waitFor(async () => (await tm.getTask(id))?.awaited_signal === 'go', { what: 'the isolated handler to sleep, then wait' });
    await tm.signal(id, 'go', { from: 'main' });
    expect(await waitForStatus(tm, id, 'completed')).toMatchObject({ stage: 2, result: { data: { from: 'main' }, isMainThread: false } });
    expect((await tm.getTaskEvents(id)).filter((e) => e.event_type === 'task_resumed').map((e) => e.metadata?.resume_reason)).toEqual(['sleep_elapsed', 'signal']);
  });
});

describeBackends('durable sleep across processes', sharedBackends(), (env) => {
  env.test('a sleep spans a worker restart: the sleeping process is SIGKILLed, a process started later resumes the task at its due time', async () => {
    const tm = await env.isolated();
    tm.use('sleeper', () => null); // enqueue only: this manager never starts
    const dir = mkdtempSync(join(tmpdir(), 'taskmill-sleep-'));
    const workers: WorkerProcess[] = [];
    try {
      // no maintenance tick within the test: the second process must learn of the sleeper at its
      // start and wake it by its timer, not find it at a sweep
      const managerOptions = { poll_interval: 50, task_heartbeat_interval: 60_000, task_heartbeat_timeout: 120_000, worker_heartbeat_interval: 200, worker_heartbeat_timeout: 1000 };
      const first = await spawnWorker({ connection: env.db().processConnection, sideEffects: join(dir, 'first.log'), managerOptions });
      workers.push(first);
      const id = await tm.async('sleeper', { seconds: 6 });
      const sleeping = await waitForStatus(tm, id, 'suspended');
      first.child.kill('SIGKILL');
      await new Promise((resolve) => first.child.once('exit', resolve));
      const second = await spawnWorker({ connection: env.db().processConnection, sideEffects: join(dir, 'second.log'), managerOptions });
      workers.push(second);
      const done = await waitForStatus(tm, id, 'completed', 30_000);
      expect(done).toMatchObject({ stage: 1, result: { woke_by: second.pid } });
      expect(readFileSync(join(dir, 'first.log'), 'utf8')).toMatch(new RegExp(`^sleeper:${id}:0:`));
      expect(readFileSync(join(dir, 'second.log'), 'utf8')).toMatch(new RegExp(`^sleeper:${id}:1:`));
      const resumed = last(await tm.getTaskEvents(id), 'task_resumed')!;
      expect(resumed.metadata).toMatchObject({ resume_reason: 'sleep_elapsed', wake_at: sleeping.wake_at });
      expect(resumed.event_time - sleeping.wake_at!).toBeGreaterThanOrEqual(0);
      expect(resumed.event_time - sleeping.wake_at!).toBeLessThan(PROMPT_MS);
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
