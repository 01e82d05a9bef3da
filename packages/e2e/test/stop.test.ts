import { expect } from 'vitest';
import { backends } from '../src/backends.js';
import { describeBackends, waitForStatus } from '../src/harness.js';
import { managerWithReader } from '../src/shared-database.js';

describeBackends('stop()', backends(), (env) => {
  env.test('a second stop() called while the first is draining resolves only once the manager has stopped', async () => {
    const tm = await env.isolated({ shutdown_timeout: 10_000 });
    let finished = false;
    tm.use('slow', async () => {
      await new Promise((r) => setTimeout(r, 400));
      finished = true;
      return 'done';
    });
    const id = await tm.async('slow', {});
    await tm.start();
    await waitForStatus(tm, id, 'running');
    const first = tm.stop();
    const second = tm.stop();
    await second;
    expect(tm.state).toBe('stopped');
    expect(finished).toBe(true);
    await first;
    const third = tm.stop(); // after the fact: resolves at once, still stopped
    await third;
    expect(tm.state).toBe('stopped');
  });

  env.test('stop() before start() is a no-op: the manager stays usable and start() afterwards runs tasks', async () => {
    const tm = await env.isolated();
    tm.use('t', (task) => ({ echo: task.payload }));
    await tm.stop(); // before anything was opened
    expect(tm.state).toBe('init');
    const id = await tm.async('t', { n: 1 });
    await tm.stop(); // after the store was opened for the enqueue
    expect(tm.state).toBe('init');
    expect(await tm.getTask(id)).toMatchObject({ status: 'pending', payload: { n: 1 } });
    await tm.start();
    expect(tm.state).toBe('running');
    expect(await waitForStatus(tm, id, 'completed')).toMatchObject({ result: { echo: { n: 1 } } });
  });

  env.test('the task_recovered event written at the stop() deadline names the pod of the manager that stopped', async () => {
    const { tm, reader } = await managerWithReader(env, { pod_id: 'pod-at-deadline', shutdown_timeout: 200 });
    tm.use('stuck', (task) => new Promise((resolve) => task.signal.addEventListener('abort', () => resolve(null))));
    const id = await tm.async('stuck', {});
    await tm.start();
    await waitForStatus(tm, id, 'running');
    await tm.stop();
    expect(await reader.getTask(id)).toMatchObject({ status: 'pending', retry_count: 0 });
    const events = (await reader.queryTaskEvents(id, {})).items;
    expect(events.at(-1)).toMatchObject({
      event_type: 'task_recovered',
      metadata: {
        recovery_reason: 'shutdown_timeout',
        recovered_from_worker_id: tm.options.worker_id,
        recovered_by_worker_id: tm.options.worker_id,
        recovered_by_pod_id: 'pod-at-deadline',
      },
    });
  });
});
