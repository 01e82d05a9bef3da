import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { InvalidHandlerError, ValidationError, type TaskManager } from '@taskmill/core';
import { backends, sharedBackends } from '../src/backends.js';
import { describeBackends, waitFor, waitForStatus } from '../src/harness.js';
import { spawnWorker, type WorkerProcess } from '../src/processes.js';

/*
 * Isolated handlers (docs/behaviour.md#isolated-handlers): `use(name, { module, isolate: 'thread' })`
 * runs the module's handler in a worker thread. What a handler's task object offers works across
 * the boundary, a crash of the thread is a failed attempt, and a handler that spins the CPU does
 * not stall its worker.
 */

const HANDLERS = new URL('../src/isolated/handlers.mjs', import.meta.url);
const NAMED = new URL('../src/isolated/named-export.mjs', import.meta.url);
const NO_HANDLER = new URL('../src/isolated/no-handler.mjs', import.meta.url);

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'taskmill-isolated-'));
}

function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, 'utf8').trim().split('\n').filter(Boolean) : [];
}

async function onlyAttempt(tm: TaskManager, id: number) {
  const attempts = await tm.getTaskAttempts(id);
  expect(attempts).toHaveLength(1);
  return attempts[0];
}

describeBackends('isolated handlers', backends(), (env) => {
  env.test('bad module or isolate options throw typed errors at use() and register nothing', async () => {
    const tm = await env.isolated();
    const bad: [unknown, typeof ValidationError | typeof InvalidHandlerError, RegExp][] = [
      [{ module: 'relative/handlers.mjs' }, ValidationError, /module of img must be a file: URL or an absolute path/],
      [{ module: 42 }, ValidationError, /module of img must be a file: URL or an absolute path; got number/],
      [{ module: new URL('https://example.com/handlers.mjs') }, ValidationError, /must be a file: URL or an absolute path; got https:/],
      [{ module: join(tmpdir(), 'taskmill-no-such-module.mjs') }, ValidationError, /module of img is not a file: /],
      [{ module: fileURLToPath(new URL('../src/isolated', import.meta.url)) }, ValidationError, /module of img is not a file: /],
      [{ module: HANDLERS, isolate: 'process' }, ValidationError, /isolate of img must be one of: thread; got "process"/],
      [{ module: HANDLERS, handler: () => null }, InvalidHandlerError, /gives both handler and module/],
      [{ handler: () => null, isolate: 'thread' }, InvalidHandlerError, /isolate of task img needs module/],
      [{ module: HANDLERS, max_concurrent_tasks: 0 }, ValidationError, /max_concurrent_tasks of img/],
    ];
    for (const [config, type, message] of bad) {
      const error = (() => {
        try {
          tm.use('img', config as never);
        } catch (e) {
          return e;
        }
      })();
      expect(error, JSON.stringify(config)).toBeInstanceOf(type);
      expect((error as Error).message).toMatch(message);
      expect(() => tm.getTaskInfo('img')).toThrow(/No task registered/);
    }
    // a bad entry in the map form registers none of the others
    expect(() => tm.use({ good: { module: HANDLERS }, img: { module: 'nope.mjs' } } as never)).toThrow(ValidationError);
    expect(() => tm.getTaskInfo('good')).toThrow(/No task registered/);
    expect(await tm.getTasks()).toEqual([]);
    // a path string and a file: URL string are both taken
    tm.use('by-path', { module: fileURLToPath(HANDLERS), description: 'path' });
    tm.use('by-url-string', { module: HANDLERS.href });
    expect(tm.getTaskInfo('by-path')).toEqual({ name: 'by-path', description: 'path' });
  });

  env.test('payload, task fields, progress and checkpoints, and the result cross the thread boundary', async () => {
    const tm = await env.isolated();
    tm.use('img', { module: HANDLERS, isolate: 'thread' });
    tm.use('named', { module: NAMED });
    await tm.start();
    const echo = await tm.async('img', { case: 'echo', sizes: [64, 128], nested: { a: 'ü' } });
    const notes = await tm.async('img', { case: 'notes' });
    const json = await tm.async('img', { case: 'to-json' });
    const named = await tm.async('named', { n: 7 });

    const done = await waitForStatus(tm, echo, 'completed');
    expect(done.result).toMatchObject({ payload: { case: 'echo', sizes: [64, 128], nested: { a: 'ü' } }, id: echo, name: 'img', attempt: 1, stage: 0, isMainThread: false });
    expect((done.result as { threadId: number }).threadId).toBeGreaterThan(0);

    const noted = await waitForStatus(tm, notes, 'completed');
    const result = noted.result as Record<string, any>;
    // the ids the main thread's writes resolved to, the task object updated in the thread, and a refused note
    expect(result.seen).toEqual({ stage: 'resize', text: 'halfway', percent: 50 });
    expect(result.refused).toEqual({ name: 'ValidationError', code: 'TASKMILL_VALIDATION', message: 'progress_percent must be a number between 0 and 100' });
    const events = await tm.getTaskEvents(notes);
    const byId = new Map(events.map((e) => [e.id, e]));
    expect(byId.get(result.progressId)).toMatchObject({ event_type: 'task_progress', message: 'halfway', metadata: { stage_name: 'resize', progress_percent: 50 } });
    expect(byId.get(result.checkpointId)).toMatchObject({ event_type: 'task_checkpoint', message: 'saved the thumbnail', metadata: { code: 'saved', bytes: 10 } });
    expect(byId.get(result.percentId)).toMatchObject({ event_type: 'task_progress', metadata: { progress_percent: 75 } });
    expect(noted).toMatchObject({ current_stage_name: 'resize', progress_text: 'halfway', progress_percent: 75 });

    // toJSON() runs as JSON.stringify would run it in-process
    expect((await waitForStatus(tm, json, 'completed')).result).toEqual({ custom: 'custom json', when: '1970-01-01T00:00:00.000Z', nested: ['item 0'] });
    expect((await waitForStatus(tm, named, 'completed')).result).toEqual({ named: true, n: 7 });
  });

  env.test('checkTimeout() throws in the thread once the timeout passed, and task.signal aborts when the main side ends the attempt', async () => {
    const tm = await env.isolated();
    const dir = tempDir();
    try {
      tm.use('img', { module: HANDLERS, timeout: 1, max_retries: 1 });
      tm.use('waiter', { module: HANDLERS, max_retries: 1 });
      await tm.start();
      const timed = await tm.async('img', { case: 'check-timeout', log: join(dir, 'timeout.log') });
      const signalled = await tm.async('waiter', { case: 'signal', log: join(dir, 'signal.log') });

      await waitForStatus(tm, timed, 'permanently_failed');
      expect((await onlyAttempt(tm, timed)).outcome).toBe('timeout');
      const [thrown] = lines(join(dir, 'timeout.log')).map((l) => JSON.parse(l));
      expect(thrown).toMatchObject({ first: 'did not throw', name: 'TaskTimeoutError', code: 'TASKMILL_TIMEOUT' });

      await waitFor(() => lines(join(dir, 'signal.log'))[0] === 'waiting', { what: 'the signal handler to start' });
      await tm.cancelTask(signalled);
      const aborted = await waitFor(() => lines(join(dir, 'signal.log'))[1], { what: 'the thread to see its signal abort' });
      expect(JSON.parse(aborted)).toMatchObject({ aborted: true, reason: expect.any(String) });
      expect((await onlyAttempt(tm, signalled)).outcome).toBe('cancelled');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  env.test('thrown errors and unstorable results fail the attempt with the same text as in-process', async () => {
    const tm = await env.isolated();
    tm.use('img', { module: HANDLERS, max_retries: 1 });
    tm.use('local', {
      max_retries: 1,
      handler: async (task) => {
        const mod = (await import(HANDLERS.href)) as { default: (t: unknown, n: unknown) => unknown };
        return mod.default(task, () => undefined);
      },
    });
    await tm.start();
    const thrown = await tm.async('img', { case: 'throw' });
    const cases = ['map', 'function'] as const;
    const isolated = await Promise.all(cases.map((c) => tm.async('img', { case: c })));
    const local = await Promise.all(cases.map((c) => tm.async('local', { case: c })));

    const error = (await waitForStatus(tm, thrown, 'permanently_failed')).error!;
    // the thread's stack, first line `Error: message`
    expect(error.split('\n')[0]).toBe('Error: thumbnail too large');
    expect(error).toContain('handlers.mjs');
    expect((await onlyAttempt(tm, thrown)).outcome).toBe('failed');

    // a PermanentError thrown in the thread is not retried, although retries are left
    tm.use('img-retried', { module: HANDLERS, max_retries: 3 });
    const permanent = await tm.async('img-retried', { case: 'permanent' });
    expect((await waitForStatus(tm, permanent, 'permanently_failed')).error!.split('\n')[0]).toBe('PermanentError: address does not exist');
    expect((await onlyAttempt(tm, permanent)).outcome).toBe('failed');

    for (const [i, c] of cases.entries()) {
      const fromThread = (await waitForStatus(tm, isolated[i], 'permanently_failed')).error!;
      const inProcess = (await waitForStatus(tm, local[i], 'permanently_failed')).error!;
      expect(fromThread, c).toMatch(/^SerializationError: Result of task \d+ \(img\) is not JSON-serialisable: /);
      if (c === 'map') expect(fromThread.replace(/task \d+ \(img\)/, 'T')).toBe(inProcess.replace(/task \d+ \(local\)/, 'T'));
    }
  });

  env.test('a crashed or hung thread fails its attempt, is replaced, and the worker runs on', async () => {
    const tm = await env.isolated();
    // one thread at a time: the next task can only run once the broken one has been replaced
    tm.use('img', { module: HANDLERS, max_concurrent_tasks: 1, max_retries: 1, timeout: 2 });
    tm.use('missing', { module: NO_HANDLER, max_retries: 1 });
    tm.use('local', () => ({ ran: true }));
    await tm.start();
    const exited = await tm.async('img', { case: 'exit' });
    await waitForStatus(tm, exited, 'permanently_failed');
    const uncaught = await tm.async('img', { case: 'uncaught' });
    await waitForStatus(tm, uncaught, 'permanently_failed');
    const hung = await tm.async('img', { case: 'spin-forever' });
    await waitForStatus(tm, hung, 'permanently_failed');
    const after = await tm.async('img', { case: 'echo' });
    const local = await tm.async('local');
    const missing = await tm.async('missing');

    expect(await onlyAttempt(tm, exited)).toMatchObject({ outcome: 'failed', error: expect.stringMatching(/^Error: Isolated handler of task \d+ \(img\) crashed: its thread exited with code 3$/) });
    expect(await onlyAttempt(tm, uncaught)).toMatchObject({
      outcome: 'failed',
      error: expect.stringMatching(/^Error: Isolated handler of task \d+ \(img\) crashed: uncaught error in its thread: Error: thrown outside the handler/),
    });
    expect((await onlyAttempt(tm, hung)).outcome).toBe('timeout');
    expect((await waitForStatus(tm, after, 'completed')).result).toMatchObject({ isMainThread: false });
    expect((await waitForStatus(tm, local, 'completed')).result).toEqual({ ran: true });
    expect((await waitForStatus(tm, missing, 'permanently_failed')).error).toMatch(/^InvalidHandlerError: Module file:.*no-handler\.mjs exports no handler/);
    expect(tm.state).toBe('running');
  });

  env.test('an isolated workflow parent spawns children with next() and resumes; task.suspend() suspends', async () => {
    const tm = await env.isolated();
    tm.use('img', { module: HANDLERS });
    tm.use('child', (task) => ({ doubled: (task.payload as { n: number }).n * 2 }));
    await tm.start();
    const parent = await tm.async('img', { case: 'workflow' });
    const suspended = await tm.async('img', { case: 'suspend' });
    const done = await waitForStatus(tm, parent, 'completed');
    expect((done.result as { children: { result: unknown }[] }).children.map((c) => c.result)).toEqual([{ doubled: 2 }, { doubled: 4 }]);
    expect(await tm.getChildTasks(parent)).toHaveLength(2);
    expect(await waitForStatus(tm, suspended, 'suspended')).toMatchObject({ suspend_reason: 'needs approval' });
  });
});

describeBackends('isolated handler at stop()', sharedBackends(), (env) => {
  env.test('stop() gives up on a spinning isolated handler: its attempt is handed back and its thread ended, never reported overdue', async () => {
    const errors: string[] = [];
    const tm = await env.isolated({ shutdown_timeout: 300, onError: (error, where) => errors.push(`${where}: ${(error as Error).message}`) });
    tm.use('img', { module: HANDLERS });
    await tm.start();
    const id = await tm.async('img', { case: 'spin-forever' });
    await waitForStatus(tm, id, 'running');
    await tm.stop();
    const reader = env.manager(); // a stopped manager answers no queries (hence a database another manager can open)
    expect(await onlyAttempt(reader, id)).toMatchObject({ outcome: 'interrupted' });
    expect((await reader.getTask(id))!.status).toBe('pending');
    expect(errors.filter((e) => e.startsWith('overdue handler'))).toEqual([]);
  });
});

/*
 * The point of isolation. The worker process runs `spin`, which busy-waits three leases in a
 * worker thread, and `count`, in-process tasks that each run longer than the task heartbeat
 * timeout. A second manager, which runs nothing, sweeps: it would reap the worker once its lease
 * lapsed, and time out any task whose heartbeat stopped.
 *
 * Without isolation this test fails (checked by hand): run it with TASKMILL_E2E_SPIN_IN_PROCESS=1,
 * which registers the same function in-process; the blocked worker is reaped and its tasks run twice.
 */
const LEASE = 2000;
const SHORT = {
  poll_interval: 50,
  worker_heartbeat_interval: 200,
  worker_heartbeat_timeout: LEASE,
  task_heartbeat_interval: 200,
  task_heartbeat_timeout: LEASE,
} as const;

describeBackends('isolated handler spinning the CPU', sharedBackends(), (env) => {
  env.test('spinning for three leases, its worker is not reaped, every task keeps its heartbeat, each runs once', async () => {
    const observer = await env.isolated(SHORT);
    await observer.start();
    // enqueues only (never started): a manager needs a handler to enqueue a name, the observer must not run them
    const client = env.manager();
    client.use('spin', () => null);
    client.use('count', () => null);
    const dir = tempDir();
    let worker: WorkerProcess | undefined;
    try {
      worker = await spawnWorker({
        connection: env.db().processConnection,
        sideEffects: join(dir, 'worker.log'),
        managerOptions: { ...SHORT, max_concurrent_tasks: 4 },
        work_ms: LEASE + 500,
        spin: process.env.TASKMILL_E2E_SPIN_IN_PROCESS ? 'in-process' : 'isolated',
      });
      const { worker_id } = worker;
      const spin = await client.async('spin', { ms: 3 * LEASE });
      await waitFor(async () => (await observer.getTask(spin))?.status === 'running', { what: 'the spin to start' });
      const counts = await client.asyncMany(Array.from({ length: 3 }, (_, i) => ({ name: 'count', payload: { i } })));

      // done, or run a second time (recovered from a reaped worker): then the checks below say what went wrong
      await waitFor(async () => (await observer.getTask(spin))?.status === 'completed' || (await observer.getTaskAttempts(spin)).length > 1, {
        timeout: 60_000,
        what: 'the spin to complete or run again',
      });
      const spinAttempt = await onlyAttempt(observer, spin);
      expect(spinAttempt).toMatchObject({ outcome: 'completed', worker_id });
      const spun = (await observer.getTask(spin))!;
      expect(spun.result).toMatchObject({ isMainThread: false, spun_ms: 3 * LEASE });
      for (const id of counts) {
        await waitForStatus(observer, id, 'completed', 60_000);
        const attempt = await onlyAttempt(observer, id);
        expect(attempt).toMatchObject({ outcome: 'completed', worker_id });
        // these ran, and heart-beated past the task heartbeat timeout, while the thread spun
        expect(attempt.ended_at!).toBeLessThan(spinAttempt.ended_at!);
      }
      for (const id of [spin, ...counts]) expect((await observer.getTaskEvents(id)).map((e) => e.event_type)).not.toContain('task_recovered');
      expect(await observer.getWorker(worker_id)).toMatchObject({ status: 'active' });
      expect(lines(join(dir, 'worker.log')).sort()).toEqual(counts.map(String).sort());
    } finally {
      await worker?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
