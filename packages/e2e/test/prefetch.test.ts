import { expect } from 'vitest';
import { type AsyncOptions, ConfigurationError, LIMITS, TaskManager, type Store, type TaskId, type TaskStatus } from '@taskmill/core';
import { backends } from '../src/backends.js';
import { describeBackends, waitFor, waitForStatus, type BackendContext } from '../src/harness.js';
import { managerWithReader } from '../src/shared-database.js';

/** A promise a test resolves when it lets the handlers waiting on it return. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/**
 * A started manager with one slot and a prefetch queue: a blocking task (priority 10) holds the
 * slot until `release.open()`, and a quick one (priority 0), claimed with it, waits in the queue;
 * both are `running` in the store. `started` lists the quick handlers that ran.
 */
async function blockedQueue(env: BackendContext, blockOptions: AsyncOptions, quickOptions: AsyncOptions) {
  const tm = await env.isolated({ max_concurrent_tasks: 1, prefetch_tasks: 4 });
  const release = gate();
  const started: TaskId[] = [];
  tm.use('block', async () => {
    await release.opened;
    return 'unblocked';
  });
  tm.use('quick', (task) => {
    started.push(task.id);
    return 'ran';
  });
  // claimed in priority order: the blocker takes the only slot, the quick task waits in the queue
  const blocker = await tm.async('block', {}, { ...blockOptions, priority: 10 });
  const queued = await tm.async('quick', {}, { ...quickOptions, priority: 0 });
  await tm.start();
  await waitFor(async () => (await tm.getTask(queued))?.status === 'running' && (await tm.getTask(blocker))?.status === 'running', {
    what: 'both tasks running in the store',
  });
  return { tm, release, started, blocker, queued };
}

async function countIn(reader: Pick<Store, 'queryTasks'>, status: TaskStatus): Promise<number> {
  return (await reader.queryTasks({ status })).items.length;
}

describeBackends('prefetch_tasks', backends(), (env) => {
  env.test('with max_concurrent_tasks 2 and prefetch_tasks 8, more tasks are running in the store than handlers run, at most 2 handlers run at once, and each of 60 tasks runs once', async () => {
    const tm = await env.isolated({ max_concurrent_tasks: 2, prefetch_tasks: 8 });
    const runs = new Map<TaskId, number>();
    let inHandler = 0;
    let mostAtOnce = 0;
    const release = gate();
    tm.use('job', async (task) => {
      runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
      inHandler++;
      mostAtOnce = Math.max(mostAtOnce, inHandler);
      try {
        await release.opened;
        await new Promise((resolve) => setTimeout(resolve, 2)); // overlap with the next handlers
      } finally {
        inHandler--;
      }
      return task.payload;
    });
    const ids = await tm.asyncMany(Array.from({ length: 60 }, (_, n) => ({ name: 'job', payload: { n } })));
    await tm.start();
    // the two handlers hold their slots; the claim took 2 + 8, so 10 are running in the database
    await waitFor(async () => inHandler === 2 && (await tm.getTasks({ status: 'running' })).length > 2, {
      what: 'more tasks running in the store than handlers running',
    });
    expect((await tm.getTasks({ status: 'running' })).length).toBe(10);
    expect(inHandler).toBe(2);
    release.open();
    await waitFor(async () => (await tm.getTasks({ status: 'completed' })).length === ids.length, { timeout: 60_000, what: 'every task to complete' });
    expect(runs.size).toBe(ids.length);
    expect([...runs.values()].every((count) => count === 1)).toBe(true);
    expect(mostAtOnce).toBe(2);
    const tasks = await Promise.all(ids.map((id) => tm.getTask(id)));
    tasks.forEach((task, n) => expect(task).toMatchObject({ status: 'completed', attempt: 1, result: { n } }));
  });

  env.test('a prefetched task whose timeout passes while it waits for a slot times out by the retry rules and its handler never starts', async () => {
    const { tm, release, started, blocker, queued } = await blockedQueue(env, { timeout: 60 }, { timeout: 1, max_retries: 2, retry_interval: 3600 });
    const timedOut = await waitForStatus(tm, queued, 'timeout', 20_000);
    // attempts are left: the retry waits retry_interval (retry_count grows when the retry is claimed)
    expect(timedOut).toMatchObject({ attempt: 1, retry_count: 0 });
    expect(timedOut.next_run_time).toBeGreaterThan(Date.now() + 3000_000);
    expect(timedOut.error).toMatch(/timeout|timed out/i);
    expect((await tm.getTaskAttempts(queued)).map((a) => a.outcome)).toEqual(['timeout']);
    release.open();
    await waitForStatus(tm, blocker, 'completed');
    // a task enqueued now runs after anything still queued: once it has run, the timed-out one was not started
    const later = await tm.async('quick', {}, { priority: 0 });
    await waitForStatus(tm, later, 'completed');
    expect(started).toEqual([later]);
    expect(await tm.getTask(queued)).toMatchObject({ status: 'timeout', attempt: 1 });
  });

  env.test('pauseTask() of a prefetched task drops it from the queue: it stays paused and its handler never starts', async () => {
    const { tm, release, started, blocker, queued } = await blockedQueue(env, {}, {});
    await tm.pauseTask(queued);
    release.open();
    await waitForStatus(tm, blocker, 'completed');
    const later = await tm.async('quick', {}, { priority: 0 });
    await waitForStatus(tm, later, 'completed');
    expect(started).toEqual([later]);
    expect(await tm.getTask(queued)).toMatchObject({ status: 'paused' });
  });

  env.test('stop() hands queued tasks back at once while the running handler drains; a second manager runs them and none runs twice', async () => {
    const { tm, second, reader } = await managerWithReader(env, { max_concurrent_tasks: 1, prefetch_tasks: 5, shutdown_timeout: 20_000 });
    const release = gate();
    const ranBy = new Map<TaskId, string[]>();
    const handler = (who: string) => async (task: { id: TaskId }) => {
      ranBy.set(task.id, [...(ranBy.get(task.id) ?? []), who]);
      if (who === 'first') await release.opened;
      return who;
    };
    tm.use('job', handler('first'));
    const ids = await tm.asyncMany(Array.from({ length: 6 }, (_, n) => ({ name: 'job', payload: { n } })));
    await tm.start();
    await waitFor(async () => (await countIn(reader, 'running')) === 6 && ranBy.size === 1, { what: 'one handler in and five tasks queued' });
    const stopping = tm.stop();
    // handed back while the first handler still holds stop() up
    await waitFor(async () => (await countIn(reader, 'pending')) === 5, { what: 'the queued tasks pending again' });
    expect(tm.state).toBe('stopping');
    expect(await countIn(reader, 'running')).toBe(1);
    release.open();
    await stopping;
    const [ranFirst] = [...ranBy.keys()];
    expect(await reader.getTask(ranFirst!)).toMatchObject({ status: 'completed', result: 'first' });
    const handedBack = ids.filter((id) => id !== ranFirst);
    for (const id of handedBack) {
      expect(await reader.getTask(id)).toMatchObject({ status: 'pending', retry_count: 0 });
      expect((await reader.queryTaskAttempts(id, {})).items.map((a) => a.outcome)).toEqual(['interrupted']);
    }
    const tm2 = second({ max_concurrent_tasks: 2, prefetch_tasks: 2 });
    tm2.use('job', handler('second'));
    await tm2.start();
    await waitFor(async () => (await countIn(reader, 'completed')) === ids.length, { what: 'every task to complete' });
    expect([...ranBy.entries()].sort(([a], [b]) => Number(a) - Number(b))).toEqual(
      ids.map((id) => [id, [id === ranFirst ? 'first' : 'second']]).sort(([a], [b]) => Number(a) - Number(b)),
    );
  });

  env.test('a superseded worker starts none of its queued tasks when its slot frees: the new worker of its pod recovered them and runs each once', async () => {
    // the old worker renews its lease (and learns it is fenced) every 50 ms; its task heartbeat,
    // which would drop the recovered tasks from its queue as lost, is 30 s away: only the fence
    // keeps them from starting
    const lease = { pod_id: 'pod-q', worker_heartbeat_interval: 50, worker_heartbeat_timeout: 60_000, task_heartbeat_interval: 30_000, task_heartbeat_timeout: 60_000 };
    const errors: string[] = [];
    const onError = (error: unknown, where: string) => void errors.push(`${where}: ${(error as Error).message}`);
    const { tm: old, second, reader } = await managerWithReader(env, { ...lease, max_concurrent_tasks: 1, prefetch_tasks: 4, onError });
    const release = gate();
    const ranBy = new Map<TaskId, string[]>();
    let oldReturned = false;
    old.use('job', async (task) => {
      ranBy.set(task.id, [...(ranBy.get(task.id) ?? []), 'old']);
      await release.opened;
      oldReturned = true;
      return 'old';
    });
    const ids = await old.asyncMany(Array.from({ length: 5 }, (_, n) => ({ name: 'job', payload: { n } })));
    await old.start();
    await waitFor(async () => (await countIn(reader, 'running')) === 5 && ranBy.size === 1, { what: 'one handler in and four tasks queued' });
    const [blocked] = [...ranBy.keys()];

    const restarted = second({ pod_id: 'pod-q', max_concurrent_tasks: 5 });
    restarted.use('job', (task) => {
      ranBy.set(task.id, [...(ranBy.get(task.id) ?? []), 'new']);
      return 'new';
    });
    await restarted.start();
    await waitFor(async () => (await countIn(reader, 'completed')) === 5, { what: 'the new worker to complete all five' });
    for (const id of ids) expect(await reader.getTask(id)).toMatchObject({ status: 'completed', result: 'new' });
    // twenty of the old worker's lease renewals: it has seen that it was superseded
    await new Promise((resolve) => setTimeout(resolve, 1000));
    release.open();
    await waitFor(() => oldReturned, { what: "the old worker's handler to return" });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(Object.fromEntries(ranBy)).toEqual(Object.fromEntries(ids.map((id) => [id, id === blocked ? ['old', 'new'] : ['new']])));
    // the old worker's outcome was discarded: the new worker's stands
    expect(await reader.getTask(blocked!)).toMatchObject({ status: 'completed', result: 'new' });
    await old.stop();
    // what the old worker reported: its discarded outcome, and the queued tasks it handed back at
    // stop() and was refused (all five had been recovered)
    expect(errors.length).toBeGreaterThan(0);
    for (const error of errors) expect(error).toMatch(/^fenced write: Discarded the outcome of task \d+/);
  });

  env.test('bad values of prefetch_tasks throw ConfigurationError at construction', async () => {
    await env.isolated();
    const dbConnection = env.db().dbConnection;
    for (const value of [-1, 1.5, Number.NaN, '3', 1e9, Number.POSITIVE_INFINITY, null, LIMITS.max_prefetch_tasks + 1]) {
      let made: TaskManager | undefined;
      const make = () => (made = new TaskManager({ dbConnection, prefetch_tasks: value as number }));
      expect(make, String(value)).toThrow(ConfigurationError);
      expect(make, String(value)).toThrow(/prefetch_tasks/);
      expect(made).toBeUndefined();
    }
    for (const value of [0, 1, LIMITS.max_prefetch_tasks]) {
      expect(new TaskManager({ dbConnection, prefetch_tasks: value }).options.prefetch_tasks).toBe(value);
    }
    expect(new TaskManager({ dbConnection }).options.prefetch_tasks).toBe(0);
  });

  env.test('prefetch_tasks 0 (the default) claims only for free slots', async () => {
    const tm = await env.isolated({ max_concurrent_tasks: 2 });
    let inHandler = 0;
    const release = gate();
    tm.use('job', async () => {
      inHandler++;
      await release.opened;
      inHandler--;
      return 'done';
    });
    const ids = await tm.asyncMany(Array.from({ length: 6 }, (_, n) => ({ name: 'job', payload: { n } })));
    await tm.start();
    await waitFor(() => inHandler === 2, { what: 'two handlers running' });
    expect((await tm.getTasks({ status: 'running' })).length).toBe(2);
    expect((await tm.getTasks({ status: 'pending' })).length).toBe(4);
    release.open();
    await waitFor(async () => (await tm.getTasks({ status: 'completed' })).length === ids.length, { what: 'every task to complete' });
  });
});
