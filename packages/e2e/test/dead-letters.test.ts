import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { HandlerNotFoundError, InvalidHandlerError, PermanentError, ValidationError, type TaskManager } from '@taskmill/core';
import { backends, sharedBackends } from '../src/backends.js';
import { freezeInsideTransaction, sqliteWriteLocked } from '../src/faults.js';
import { describeBackends, waitFor, waitForStatus } from '../src/harness.js';
import { spawnWorker, type WorkerProcess } from '../src/processes.js';
import { taskRowLocked } from '../src/row-locks.js';

/*
 * Non-retryable failures and dead letters through the TaskManager (docs/behaviour.md#non-retryable-failures,
 * #dead-letters), on every store.
 */

interface DeadLetter {
  task_id: number;
  name: string;
  payload: unknown;
  error: string;
  attempts: number;
  non_retryable: boolean;
}

/** Short leases so recovery and heartbeat timeouts show up within a couple of seconds. */
const HB = { worker_heartbeat_interval: 200, worker_heartbeat_timeout: 1000 } as const;

const letters = async (tm: TaskManager<any>, name = 'dead') => (await tm.getTasks({ name })).map((task) => task.payload as DeadLetter);

describeBackends('non-retryable failures', backends(), (env) => {
  env.test('a handler that throws PermanentError fails its task for good on the first attempt, whatever max_retries allows', async () => {
    const tm = await env.isolated();
    let runs = 0;
    tm.use('send', {
      handler: () => {
        runs++;
        throw new PermanentError(new Error('mailbox does not exist'));
      },
      max_retries: 5,
    });
    await tm.start();
    const id = await tm.async('send', { to: 'nobody@example.com' });
    const task = await waitForStatus(tm, id, 'permanently_failed');
    expect(runs).toBe(1);
    expect(task).toMatchObject({ retry_count: 0, attempt: 1 });
    expect(task.error).toMatch(/^PermanentError: mailbox does not exist\n/);
    const events = await tm.getTaskEvents(id);
    expect(events.find((e) => e.event_type === 'task_failed')?.metadata).toMatchObject({ retryable: false });
    expect(events.at(-1)).toMatchObject({ event_type: 'task_permanently_failed', metadata: { non_retryable: true } });
    expect(await tm.getTaskAttempts(id)).toMatchObject([{ attempt: 1, outcome: 'failed', error: expect.stringMatching(/^PermanentError: /) }]);
  });

  env.test('an error that only carries the PermanentError code is not retried either, and its text is marked', async () => {
    const tm = await env.isolated();
    tm.use('foreign', {
      handler: () => {
        throw Object.assign(new Error('from another copy'), { code: 'TASKMILL_PERMANENT' });
      },
      max_retries: 3,
    });
    await tm.start();
    const id = await tm.async('foreign');
    const task = await waitForStatus(tm, id, 'permanently_failed');
    expect(task).toMatchObject({ attempt: 1 });
    expect(task.error).toMatch(/^PermanentError: Error: from another copy/);
  });

  env.test('a cron task that throws PermanentError is paused, not failed for good', async () => {
    const tm = await env.isolated();
    tm.use('nightly', () => {
      throw new PermanentError('configuration is wrong');
    });
    const id = await tm.cron('nightly', '* * * * * *');
    await tm.start();
    const task = await waitForStatus(tm, id, 'paused');
    expect(task.attempt).toBe(1);
    expect((await tm.getTaskEvents(id)).at(-1)).toMatchObject({ event_type: 'task_paused', metadata: { non_retryable: true } });
  });

  env.test('an ordinary error is still retried', async () => {
    const tm = await env.isolated();
    tm.use('flaky', { handler: () => { throw new Error('try again'); }, max_retries: 2, retry_interval: 0 });
    await tm.start();
    const id = await tm.async('flaky');
    expect(await waitForStatus(tm, id, 'permanently_failed')).toMatchObject({ attempt: 2, retry_count: 1 });
  });
});

describeBackends('dead letters', backends(), (env) => {
  env.test('a task that fails for good enqueues one dead letter with its id, name, payload and last error; a handler consumes it', async () => {
    const tm = await env.isolated();
    const seen: DeadLetter[] = [];
    tm.use('charge', { handler: () => { throw new Error('card declined'); }, max_retries: 2, retry_interval: 0, dead_letter: 'dead' });
    tm.use('dead', (task) => {
      seen.push(task.payload as DeadLetter);
      return null;
    });
    await tm.start();
    const id = await tm.async('charge', { order: 42 });
    await waitFor(async () => (await tm.getTasks({ name: 'dead', status: 'completed' })).length === 1, { what: 'the dead letter to run' });
    expect(await tm.getTask(id)).toMatchObject({ status: 'permanently_failed', dead_letter: 'dead' });
    expect(seen[0]).toMatchObject({ task_id: id, name: 'charge', payload: { order: 42 }, attempts: 2, non_retryable: false });
    expect(seen[0].error).toMatch(/^Error: card declined/);
    const [letter] = await tm.getTasks({ name: 'dead' });
    expect(letter).toMatchObject({ status: 'completed', dead_letter: null });
    expect((await tm.getTaskEvents(letter.id))[0]).toMatchObject({ event_type: 'task_created', metadata: { dead_letter_of: id } });
    expect((await tm.getTaskEvents(id)).at(-1)).toMatchObject({ event_type: 'task_permanently_failed', metadata: { dead_letter: 'dead', retry_exhausted: true } });
    expect(await letters(tm)).toHaveLength(1);
  });

  env.test('PermanentError dead-letters at once; an option given with the task overrides the handler, null turns it off', async () => {
    const tm = await env.isolated();
    tm.use('lookup', { handler: () => { throw new PermanentError('404'); }, max_retries: 4, dead_letter: 'dead' });
    tm.use('dead', () => null);
    tm.use('elsewhere', () => null);
    const a = await tm.async('lookup', { n: 1 });
    const b = await tm.async('lookup', { n: 2 }, { dead_letter: 'elsewhere' });
    const c = await tm.async('lookup', { n: 3 }, { dead_letter: null });
    expect((await tm.getTask(c))?.dead_letter).toBeNull();
    await tm.start();
    for (const id of [a, b, c]) await waitForStatus(tm, id, 'permanently_failed');
    await waitFor(async () => (await tm.getTasks({ status: 'completed' })).length === 2, { what: 'both dead letters to run' });
    expect(await letters(tm)).toMatchObject([{ task_id: a, payload: { n: 1 }, attempts: 1, non_retryable: true, error: expect.stringMatching(/^PermanentError: 404/) }]);
    expect(await letters(tm, 'elsewhere')).toMatchObject([{ task_id: b, payload: { n: 2 } }]);
    expect(await tm.getTasks()).toHaveLength(5);
  });

  env.test('a cancelled task and a paused cron task write no dead letter', async () => {
    const tm = await env.isolated();
    tm.use('job', { handler: () => null, dead_letter: 'dead' });
    tm.use('nightly', { handler: () => { throw new PermanentError('no'); }, dead_letter: 'dead' });
    tm.use('dead', () => null);
    const id = await tm.async('job', {}, { delay: 3600 });
    await tm.cancelTask(id);
    const cron = await tm.cron('nightly', '* * * * * *');
    expect((await tm.getTask(cron))?.dead_letter).toBeNull();
    await tm.start();
    await waitForStatus(tm, cron, 'paused');
    expect(await tm.getTasks({ name: 'dead' })).toEqual([]);
  });

  env.test('a workflow child that fails for good is dead-lettered; its parent goes on with the child\u2019s error', async () => {
    const tm = await env.isolated();
    tm.use('parent', {
      handler: (task, next) => (task.stage === 0 ? next([{ name: 'child', payload: { part: 1 } }]) : { results: task.result }),
      dead_letter: 'parent-dead',
    });
    tm.use('child', { handler: () => { throw new PermanentError('bad part'); }, dead_letter: 'dead' });
    tm.use('dead', () => null);
    tm.use('parent-dead', () => null);
    await tm.start();
    const id = await tm.async('parent');
    const parent = await waitForStatus(tm, id, 'completed');
    const [child] = await tm.getChildTasks(id);
    expect(await letters(tm)).toMatchObject([{ task_id: child.id, name: 'child', payload: { part: 1 } }]);
    expect(parent.result).toMatchObject({ results: [{ task_id: child.id, error: expect.stringMatching(/^PermanentError: bad part/) }] });
    expect(await tm.getTasks({ name: 'parent-dead' })).toEqual([]);
  });

  env.test('bad dead_letter values are typed errors and write nothing', async () => {
    const tm = await env.isolated();
    tm.use('job', () => null);
    expect(() => tm.use('self', { handler: () => null, dead_letter: 'self' })).toThrow(ValidationError);
    expect(() => tm.use('num', { handler: () => null, dead_letter: 42 as never })).toThrow(ValidationError);
    expect(() => tm.use('empty', { handler: () => null, dead_letter: '' })).toThrow(ValidationError);
    expect(() => tm.use('long', { handler: () => null, dead_letter: 'x'.repeat(256) })).toThrow(ValidationError);
    expect(() => tm.use('typo', { handler: () => null, deadLetter: 'x' } as never)).toThrow(InvalidHandlerError);
    expect(() => tm.getTaskInfo('self')).toThrow(HandlerNotFoundError);
    await expect(tm.async('job', {}, { dead_letter: 'job' })).rejects.toBeInstanceOf(ValidationError);
    await expect(tm.async('job', {}, { dead_letter: ['dead'] as never })).rejects.toBeInstanceOf(ValidationError);
    await expect(tm.asyncMany([{ name: 'job' }, { name: 'job', options: { dead_letter: '' } }])).rejects.toBeInstanceOf(ValidationError);
    await expect(tm.cron('job', '0 3 * * *', {}, { dead_letter: 'dead' } as never)).rejects.toBeInstanceOf(ValidationError);
    expect(await tm.getTasks()).toEqual([]);
  });
});

describeBackends('dead letters with killed workers', sharedBackends(), (env) => {
  env.test('a worker SIGKILLed on its last attempt: another process times the task out and writes exactly one dead letter', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'taskmill-dead-'));
    let victim: WorkerProcess | undefined;
    try {
      // the enqueuer knows the handler's options (its dead letter), and never runs tasks
      const enqueuer = await env.isolated();
      enqueuer.use('doomed', { handler: () => null, dead_letter: 'doomed-dead', max_retries: 1 });
      victim = await spawnWorker({ connection: env.db().processConnection, sideEffects: join(dir, 'victim.log'), managerOptions: { ...HB, poll_interval: 50 }, deadLetters: true });
      const id = await enqueuer.async('doomed', { order: 7 });
      await waitFor(async () => (await enqueuer.getTask(id))?.status === 'running', { what: 'the victim to run the task' });
      victim.child.kill('SIGKILL');

      // two other processes' worth of sweepers, neither with the handler of `doomed`, one consuming dead letters
      const options = { ...HB, recover_running_jobs: false, task_heartbeat_interval: 100, task_heartbeat_timeout: 1000 };
      const consumer = env.manager(options);
      const seen: DeadLetter[] = [];
      consumer.use('doomed-dead', (task) => {
        seen.push(task.payload as DeadLetter);
        return null;
      });
      const other = env.manager(options);
      other.use('unrelated', () => null);
      await Promise.all([consumer.start(), other.start()]);

      const failed = await waitForStatus(consumer, id, 'permanently_failed');
      expect(failed.error).toBe('Task heartbeat timed out');
      await waitFor(() => seen.length > 0, { what: 'the dead letter to run' });
      // both sweepers go on sweeping: still one letter once a later task has gone through
      const later = await other.async('unrelated');
      await waitForStatus(other, later, 'completed');
      expect(seen).toEqual([{ task_id: id, name: 'doomed', payload: { order: 7 }, error: 'Task heartbeat timed out', attempts: 1, non_retryable: false }]);
      expect(await consumer.getTasks({ name: 'doomed-dead' })).toHaveLength(1);
    } finally {
      victim?.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  env.test('a worker SIGKILLed while it writes PermanentError outcomes: every task ends with exactly one dead letter', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'taskmill-dead-'));
    let victim: WorkerProcess | undefined;
    // enough work that the victim is still claiming and failing tasks for the whole of
    // freezeInsideTransaction's 400 tries: with 50 (2 s of handlers) it could run out of tasks
    // before a try caught it inside a transaction, and then no try ever could (one CI run in
    // many, on SQLite, where a write transaction lasts well under a millisecond)
    const TASKS = 300;
    try {
      const tm = await env.isolated({ ...HB });
      const seen: DeadLetter[] = [];
      tm.use('doomed-now', { handler: () => { throw new PermanentError('cannot succeed'); }, dead_letter: 'doomed-dead' });
      tm.use('doomed-dead', (task) => {
        seen.push(task.payload as DeadLetter);
        return null;
      });
      const ids = await tm.asyncMany(Array.from({ length: TASKS }, (_, i) => ({ name: 'doomed-now', payload: { i } })));
      const connection = env.db().processConnection;
      // no task heartbeats in the victim: the only transactions that lock a task row of its are
      // its claims and its outcomes
      victim = await spawnWorker({
        connection,
        sideEffects: join(dir, 'victim.log'),
        managerOptions: { ...HB, poll_interval: 50, max_concurrent_tasks: 1, task_heartbeat_interval: 60_000, task_heartbeat_timeout: 120_000 },
        work_ms: 40,
        deadLetters: true,
      });
      const v = victim;
      await waitFor(async () => (await tm.getTasks({ status: 'permanently_failed' })).length >= 2, { what: 'the victim to fail two tasks' });
      // frozen while a transaction of it holds a lock: on the servers, a row of a task it just ran
      // (its outcome being written; a claim's task is running by then, so it is not taken for one)
      const locked =
        connection.kind === 'string' && connection.url.startsWith('sqlite:')
          ? () => sqliteWriteLocked(connection.url)
          : async () => {
              for (const task of await tm.getTasks({ status: 'running', worker_id: v.worker_id })) if (await taskRowLocked(connection, task.id)) return true;
              return false;
            };
      await freezeInsideTransaction(victim, connection, locked);
      victim.child.kill('SIGKILL');

      await tm.start(); // recovers the victim's task once its lease has lapsed, runs the rest
      for (const id of ids) await waitForStatus(tm, id, 'permanently_failed', 60_000);
      await waitFor(() => seen.length >= TASKS, { timeout: 60_000, what: 'every dead letter to run' });
      const letters = await tm.getTasks({ name: 'doomed-dead' });
      expect(letters.map((t) => (t.payload as DeadLetter).task_id).sort((a, b) => a - b)).toEqual([...ids].sort((a, b) => a - b));
      expect(seen).toHaveLength(TASKS);
    } finally {
      victim?.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
