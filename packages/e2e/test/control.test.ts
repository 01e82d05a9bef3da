import { expect } from 'vitest';
import { InvalidTransitionError, LifecycleError, TaskNotFoundError, ValidationError } from '@taskmill/core';
import { backends, sharedBackends } from '../src/backends.js';
import { describeBackends, waitFor, waitForStatus } from '../src/harness.js';

function blocker() {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  return { gate, release };
}

describeBackends('lifecycle and control', backends(), (env) => {
  env.test('start() after stop() throws; stop() twice is harmless; DB calls after stop throw', async () => {
    const tm = await env.isolated();
    tm.use('t', () => 1);
    await tm.start();
    await tm.start(); // already running: ignored
    expect(tm.state).toBe('running');
    await tm.stop();
    await tm.stop();
    expect(tm.state).toBe('stopped');
    await expect(tm.start()).rejects.toBeInstanceOf(LifecycleError);
    await expect(tm.start()).rejects.toThrow('Cannot restart a stopped TaskManager');
    await expect(tm.async('t', {})).rejects.toBeInstanceOf(LifecycleError);
  });

  env.test('pause() holds new claims, in-flight work finishes, resume() continues; use()/unuse() never unpause', async () => {
    const tm = await env.isolated();
    const b = blocker();
    const ran: number[] = [];
    tm.use('w', async (task) => {
      ran.push(task.id);
      if ((task.payload as { block?: boolean }).block) await b.gate;
    });
    const first = await tm.async('w', { block: true });
    await tm.start();
    await waitForStatus(tm, first, 'running');
    tm.pause();
    const second = await tm.async('w', {});
    tm.use('other', () => 1); // must not re-open the gate
    tm.unuse('other');
    b.release();
    await waitForStatus(tm, first, 'completed');
    await new Promise((r) => setTimeout(r, 300));
    expect((await tm.getTask(second))!.status).toBe('pending');
    expect(tm.isPaused).toBe(true);
    tm.resume();
    await waitForStatus(tm, second, 'completed');
    expect(ran).toEqual([first, second]);
  });

  env.test('pauseTask on a running task aborts its signal, closes the attempt as paused and discards the late result; resumeTask reruns it at stage 0', async () => {
    const tm = await env.isolated();
    let runs = 0;
    let aborted = false;
    tm.use('long', async (task) => {
      runs++;
      if (runs === 1) {
        await new Promise<void>((r) => task.signal.addEventListener('abort', () => { aborted = true; r(); }));
        return 'late';
      }
      return 'second run';
    });
    const id = await tm.async('long', {});
    await tm.start();
    await waitForStatus(tm, id, 'running');
    await tm.pauseTask(id);
    expect(aborted).toBe(true);
    await new Promise((r) => setTimeout(r, 150));
    expect(await tm.getTask(id)).toMatchObject({ status: 'paused', result: null });
    expect((await tm.getTaskAttempts(id))[0]).toMatchObject({ outcome: 'paused' });
    await tm.resumeTask(id);
    const t = await waitForStatus(tm, id, 'completed');
    expect(t).toMatchObject({ result: 'second run', stage: 0, attempt: 2 });
    const types = (await tm.getTaskEvents(id)).map((e) => e.event_type);
    expect(types).toContain('task_paused');
    expect(types).not.toContain('task_resumed'); // paused → pending is task_status_changed
    expect(types).toContain('task_status_changed');
  });

  env.test('pauseTask/resumeTask of a pending task; cancelTask; typed errors for missing ids and forbidden transitions', async () => {
    const tm = await env.isolated();
    tm.use('p', () => 'done');
    const id = await tm.async('p', {}, { delay: 3600 });
    await tm.pauseTask(id);
    expect((await tm.getTask(id))!.status).toBe('paused');
    await expect(tm.pauseTask(id)).rejects.toBeInstanceOf(InvalidTransitionError);
    await tm.resumeTask(id);
    const resumed = await tm.getTask(id);
    expect(resumed).toMatchObject({ status: 'pending', retry_count: 0 });
    expect(resumed!.next_run_time).toBeLessThanOrEqual(Date.now());
    await tm.start();
    await waitForStatus(tm, id, 'completed');
    await expect(tm.pauseTask(id)).rejects.toThrow(/Current status: completed/);
    await expect(tm.resumeTask(id)).rejects.toBeInstanceOf(InvalidTransitionError);
    await expect(tm.cancelTask(id)).rejects.toBeInstanceOf(InvalidTransitionError);

    const later = await tm.async('p', {}, { delay: 3600 });
    await tm.cancelTask(later, { reason: 'no longer needed' });
    expect(await tm.getTask(later)).toMatchObject({ status: 'permanently_failed', error: 'no longer needed' });
    expect((await tm.getTaskEvents(later)).at(-1)).toMatchObject({ event_type: 'task_permanently_failed', from_status: 'pending' });

    for (const bad of [999_999, '1 OR 1=1', -1, 1.5, null]) {
      await expect(tm.pauseTask(bad as number)).rejects.toBeInstanceOf(TaskNotFoundError);
      await expect(tm.resumeTask(bad as number)).rejects.toBeInstanceOf(TaskNotFoundError);
      await expect(tm.cancelTask(bad as number)).rejects.toBeInstanceOf(TaskNotFoundError);
    }
    await expect(tm.cancelTask(later, { reason: '   ' })).rejects.toBeInstanceOf(ValidationError);
  });

  env.test('retryTask runs a permanently failed task again with all its attempts, wakes the claim loop, and refuses what it cannot retry', async () => {
    const tm = await env.isolated();
    let calls = 0;
    tm.use('flaky', { handler: () => (++calls === 1 ? Promise.reject(new Error('first run fails')) : 'second run'), max_retries: 1 });
    const id = await tm.async('flaky', {});
    await tm.start();
    await waitForStatus(tm, id, 'permanently_failed');
    await tm.retryTask(id);
    const done = await waitForStatus(tm, id, 'completed');
    expect(done).toMatchObject({ result: 'second run', retry_count: 0 });
    expect(calls).toBe(2);
    expect((await tm.getTaskEvents(id, { event_type: 'task_retry_scheduled' })).map((e) => e.metadata?.manual)).toEqual([true]);
    await expect(tm.retryTask(id)).rejects.toBeInstanceOf(InvalidTransitionError);
    await expect(tm.retryTask('1 OR 1=1' as never)).rejects.toBeInstanceOf(TaskNotFoundError);
    expect(await tm.getTask(id)).toMatchObject({ status: 'completed', result: 'second run' });
  });

  env.test('cancelTask on a running task aborts the handler and its result is discarded', async () => {
    const tm = await env.isolated();
    let finished = false;
    tm.use('c', async (task) => {
      await new Promise((r) => task.signal.addEventListener('abort', r));
      finished = true;
      return 'ignored';
    });
    const id = await tm.async('c', {});
    await tm.start();
    await waitForStatus(tm, id, 'running');
    await tm.cancelTask(id);
    await waitFor(() => finished);
    await new Promise((r) => setTimeout(r, 100));
    expect(await tm.getTask(id)).toMatchObject({ status: 'permanently_failed', error: 'Task cancelled', result: null });
    expect((await tm.getTaskAttempts(id))[0].outcome).toBe('cancelled');
  });
});

// these need a second manager on the same database (a sqlite::memory: database closes with its manager)
describeBackends('graceful stop', sharedBackends(), (env) => {
  env.test('stop() waits for in-flight handlers and persists their outcomes', async () => {
    const tm = await env.isolated();
    tm.use('slowish', async () => {
      await new Promise((r) => setTimeout(r, 300));
      return 'saved';
    });
    const id = await tm.async('slowish', {});
    await tm.start();
    await waitForStatus(tm, id, 'running');
    await tm.stop();
    // read through a second manager: the first one is closed
    const reader = env.manager({ dbConnection: await env.db().peerConnection() });
    expect(await reader.getTask(id)).toMatchObject({ status: 'completed', result: 'saved' });
  });


  env.test('while stop() waits for a handler, its heartbeats go on, so peers do not time it out', async () => {
    const fast = { task_heartbeat_interval: 100, task_heartbeat_timeout: 600 };
    const tm = await env.isolated({ ...fast, shutdown_timeout: 10_000 });
    tm.use('slow', async () => {
      await new Promise((r) => setTimeout(r, 1500));
      return 'finished during stop';
    });
    const peer = env.manager({ ...fast, dbConnection: await env.db().peerConnection() });
    peer.use('other', () => null); // sweeps timeouts, never runs 'slow'
    const id = await tm.async('slow', {}, { max_retries: 1 });
    await tm.start();
    await peer.start();
    await waitForStatus(peer, id, 'running');
    await tm.stop();
    expect(await peer.getTask(id)).toMatchObject({ status: 'completed', result: 'finished during stop' });
  });


  env.test('stop() past shutdown_timeout interrupts handlers: task back to pending, attempt interrupted, no retry used', async () => {
    const tm = await env.isolated({ shutdown_timeout: 200 });
    let signalReason: unknown;
    tm.use('stuck', (task) => new Promise((resolve) => task.signal.addEventListener('abort', () => { signalReason = task.signal.reason; setTimeout(resolve, 50); })));
    const id = await tm.async('stuck', {});
    await tm.start();
    await waitForStatus(tm, id, 'running');
    await tm.stop();
    expect(signalReason).toBeInstanceOf(Error);
    const reader = env.manager({ dbConnection: await env.db().peerConnection() });
    const t = await reader.getTask(id);
    expect(t).toMatchObject({ status: 'pending', retry_count: 0, stage: 0, worker_id: null });
    expect((await reader.getTaskAttempts(id))[0]).toMatchObject({ outcome: 'interrupted' });
    expect((await reader.getTaskEvents(id)).at(-1)).toMatchObject({ event_type: 'task_recovered', metadata: { recovery_reason: 'shutdown_timeout' } });
  });

});
