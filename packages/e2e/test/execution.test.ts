import { expect } from 'vitest';
import { TaskTimeoutError } from '@taskmill/core';
import { backends } from '../src/backends.js';
import { describeBackends, waitFor, waitForStatus } from '../src/harness.js';

describeBackends('execution', backends(), (env) => {
  env.test('a task runs once: completed with its result, one attempt, the event trail in order', async () => {
    const tm = await env.isolated();
    const seen: unknown[] = [];
    tm.use('echo', (task) => {
      seen.push({ payload: task.payload, status: task.status, attempt: task.attempt, worker: task.worker_id, stage: task.stage });
      return { echoed: task.payload };
    });
    const id = await tm.async('echo', { hello: 'world' });
    await tm.start();
    const done = await waitForStatus(tm, id, 'completed');
    expect(done).toMatchObject({ result: { echoed: { hello: 'world' } }, attempt: 1, worker_id: tm.options.worker_id, error: null });
    expect(seen).toEqual([{ payload: { hello: 'world' }, status: 'running', attempt: 1, worker: tm.options.worker_id, stage: 0 }]);
    const events = await tm.getTaskEvents(id);
    expect(events.map((e) => e.event_type)).toEqual(['task_created', 'task_claimed', 'task_started', 'task_completed']);
    expect(events.map((e) => [e.from_status, e.to_status])).toEqual([[null, 'pending'], ['pending', 'running'], ['pending', 'running'], ['running', 'completed']]);
    expect(events[2]).toMatchObject({ attempt: 1, worker_id: tm.options.worker_id });
    const attempts = await tm.getTaskAttempts(id);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ attempt: 1, outcome: 'completed', worker_id: tm.options.worker_id, timeout_flag: false, error: null });
    expect(attempts[0].ended_at).toBeGreaterThanOrEqual(attempts[0].started_at);
    expect((await tm.getTask(id))!.last_event_type).toBe('task_completed');
  });

  env.test('falsy and structured results are stored as returned', async () => {
    const tm = await env.isolated();
    tm.use('ret', (task) => (task.payload as { v: unknown }).v);
    const values = [0, false, '', null, [1, 'two'], { deep: { x: [null] } }];
    const ids = await Promise.all(values.map((v) => tm.async('ret', { v })));
    await tm.start();
    for (const [i, id] of ids.entries()) {
      expect((await waitForStatus(tm, id, 'completed')).result).toEqual(values[i]);
    }
  });

  env.test('retries: max_retries counts every attempt; retry_interval delays the retry; events and attempts record each round', async () => {
    const tm = await env.isolated();
    let calls = 0;
    const times: number[] = [];
    tm.use('flaky', () => {
      calls++;
      times.push(Date.now());
      if (calls < 3) throw new Error(`boom ${calls}`);
      return 'finally';
    });
    const id = await tm.async('flaky', {}, { max_retries: 3, retry_interval: 0.4 });
    await tm.start();
    const done = await waitForStatus(tm, id, 'completed');
    expect(done).toMatchObject({ result: 'finally', retry_count: 2, attempt: 3 });
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(390);
    expect(times[2] - times[1]).toBeGreaterThanOrEqual(390);
    const attempts = await tm.getTaskAttempts(id);
    expect(attempts.map((a) => a.outcome)).toEqual(['failed', 'failed', 'completed']);
    expect(attempts[0].error).toMatch(/^Error: boom 1/);
    const types = (await tm.getTaskEvents(id)).map((e) => e.event_type);
    expect(types).toEqual([
      'task_created',
      'task_claimed', 'task_started', 'task_failed',
      'task_retry_scheduled', 'task_claimed', 'task_started', 'task_retry_started', 'task_failed',
      'task_retry_scheduled', 'task_claimed', 'task_started', 'task_retry_started', 'task_completed',
    ]);
  });

  env.test('retries exhausted: async → permanently_failed, after exactly max_retries executions (0 and 1 mean one)', async () => {
    const tm = await env.isolated();
    const calls = new Map<number, number>();
    tm.use('fail', (task) => {
      calls.set(task.id, (calls.get(task.id) ?? 0) + 1);
      throw new Error('always');
    });
    const [two, one, zero] = await Promise.all([
      tm.async('fail', {}, { max_retries: 2 }),
      tm.async('fail', {}, { max_retries: 1 }),
      tm.async('fail', {}, { max_retries: 0 }),
    ]);
    await tm.start();
    for (const id of [two, one, zero]) await waitForStatus(tm, id, 'permanently_failed');
    expect([calls.get(two), calls.get(one), calls.get(zero)]).toEqual([2, 1, 1]);
    const t = await tm.getTask(two);
    expect(t!.error).toMatch(/^Error: always/);
    const types = (await tm.getTaskEvents(one)).map((e) => e.event_type);
    expect(types.slice(-2)).toEqual(['task_failed', 'task_permanently_failed']);
    const last = (await tm.getTaskEvents(one)).at(-1)!;
    expect(last.metadata).toMatchObject({ retry_exhausted: true });
  });

  env.test('a handler result that cannot be serialised fails that attempt with a clear error', async () => {
    const tm = await env.isolated();
    tm.use('bigint', () => ({ n: 10n }));
    const id = await tm.async('bigint', {}, { max_retries: 1 });
    await tm.start();
    const t = await waitForStatus(tm, id, 'permanently_failed');
    expect(t.error).toMatch(/not JSON-serialisable: a BigInt at \$\.n/);
    expect((await tm.getTaskAttempts(id))[0]).toMatchObject({ outcome: 'failed' });
  });

  env.test('timeout: the attempt is marked timeout at its deadline, the signal aborts, a late result is discarded', async () => {
    const tm = await env.isolated();
    let aborted: unknown = null;
    let finishedLate = false;
    tm.use('slow', async (task) => {
      await new Promise((resolve) => {
        task.signal.addEventListener('abort', () => {
          aborted = task.signal.reason;
          resolve(null);
        });
      });
      await new Promise((r) => setTimeout(r, 100));
      finishedLate = true;
      return 'late';
    });
    const started = Date.now();
    const id = await tm.async('slow', {}, { timeout: 0.5, max_retries: 1 });
    await tm.start();
    const t = await waitForStatus(tm, id, 'permanently_failed');
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(aborted).toBeInstanceOf(TaskTimeoutError);
    await waitFor(() => finishedLate, { what: 'the handler to return late' });
    await new Promise((r) => setTimeout(r, 100));
    const after = await tm.getTask(id);
    expect(after).toMatchObject({ status: 'permanently_failed', result: null });
    expect(t.error).toBe('Task exceeded total timeout limit');
    const attempts = await tm.getTaskAttempts(id);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ outcome: 'timeout', timeout_flag: true });
    const types = (await tm.getTaskEvents(id)).map((e) => e.event_type);
    expect(types.slice(-2)).toEqual(['task_timed_out', 'task_permanently_failed']);
  });

  env.test('a timeout longer than setTimeout can hold (40 days) does not fire early', async () => {
    const tm = await env.isolated();
    tm.use('long-timeout', async () => {
      await new Promise((r) => setTimeout(r, 150));
      return 'fine';
    });
    const id = await tm.async('long-timeout', {}, { timeout: 40 * 86_400, max_retries: 1 });
    await tm.start();
    expect((await waitForStatus(tm, id, ['completed', 'permanently_failed'])).status).toBe('completed');
  });

  env.test('timeout with attempts left is retried; checkTimeout() throws once the timeout has passed', async () => {
    const tm = await env.isolated();
    let runs = 0;
    tm.use('check', async (task) => {
      runs++;
      if (runs === 1) {
        await new Promise((r) => setTimeout(r, 350));
        task.checkTimeout(); // throws: 0.3 s have passed
        return 'unreachable';
      }
      task.checkTimeout(); // does not throw on a fresh attempt
      return 'second';
    });
    const id = await tm.async('check', {}, { timeout: 0.3, max_retries: 2 });
    await tm.start();
    const t = await waitForStatus(tm, id, 'completed');
    expect(t.result).toBe('second');
    const attempts = await tm.getTaskAttempts(id);
    expect(attempts.map((a) => a.outcome)).toEqual(['timeout', 'completed']);
    expect(attempts[0].timeout_flag).toBe(true);
    expect((await tm.getTaskEvents(id)).map((e) => e.event_type)).toContain('task_timed_out');
  });

  env.test('progress(), setProgress() and audit() write events and update the snapshot', async () => {
    const tm = await env.isolated();
    tm.use('steps', async (task) => {
      await task.progress('Downloading', { stage_name: 'download', progress_percent: 20, metadata: { chunk: 1 } });
      await task.setProgress(75);
      const cp = await task.audit('payload_validated', { message: 'Payload validated', metadata: { source: 'crm' } });
      await expect(task.progress({})).rejects.toThrow(/requires stage_name, progress_text, or progress_percent/);
      await expect(task.setProgress(101)).rejects.toThrow(/between 0 and 100/);
      await expect(task.audit('  ')).rejects.toThrow(/must not be empty/);
      await expect(task.audit(5 as never)).rejects.toThrow(/code string or checkpoint object/);
      return { cp, percent: task.progress_percent };
    });
    const id = await tm.async('steps', {});
    await tm.start();
    const t = await waitForStatus(tm, id, 'completed');
    expect(t).toMatchObject({ current_stage_name: 'download', progress_text: 'Downloading', progress_percent: 75 });
    expect((t.result as { percent: number }).percent).toBe(75);
    const notes = (await tm.getTaskEvents(id)).filter((e) => e.event_type === 'task_progress' || e.event_type === 'task_checkpoint');
    expect(notes.map((e) => [e.event_type, e.message, e.attempt])).toEqual([
      ['task_progress', 'Downloading', 1],
      ['task_progress', 'task progress updated', 1],
      ['task_checkpoint', 'Payload validated', 1],
    ]);
    expect(notes[0].metadata).toEqual({ stage_name: 'download', progress_text: 'Downloading', progress_percent: 20, chunk: 1 });
    expect(notes[2].metadata).toEqual({ code: 'payload_validated', source: 'crm' });
    expect(notes[2].id).toBe((t.result as { cp: number }).cp);
  });

  env.test('claim ordering: higher priority first (negatives included), then earliest due; delay gates eligibility', async () => {
    const tm = await env.isolated({ max_concurrent_tasks: 1 });
    const order: string[] = [];
    tm.use('o', (task) => {
      order.push((task.payload as { k: string }).k);
    });
    await tm.async('o', { k: 'neg' }, { priority: -5 });
    await tm.async('o', { k: 'zero-a' });
    await tm.async('o', { k: 'high' }, { priority: 10 });
    await tm.async('o', { k: 'zero-b' });
    await tm.async('o', { k: 'delayed-high' }, { priority: 100, delay: 1.2 });
    await tm.start();
    await waitFor(() => order.length === 5, { what: 'all five tasks' });
    expect(order).toEqual(['high', 'zero-a', 'zero-b', 'neg', 'delayed-high']);
  });

  env.test('max_concurrent_tasks bounds handlers per process, globally and per task type', async () => {
    const tm = await env.isolated({ max_concurrent_tasks: 4 });
    let running = 0;
    let maxRunning = 0;
    let runningCapped = 0;
    let maxCapped = 0;
    const body = async (capped: boolean) => {
      running++;
      if (capped) runningCapped++;
      maxRunning = Math.max(maxRunning, running);
      maxCapped = Math.max(maxCapped, runningCapped);
      await new Promise((r) => setTimeout(r, 40));
      running--;
      if (capped) runningCapped--;
    };
    tm.use('free', () => body(false));
    tm.use('capped', { handler: () => body(true), max_concurrent_tasks: 2 });
    await tm.asyncMany([
      ...Array.from({ length: 12 }, () => ({ name: 'capped', payload: {} })),
      ...Array.from({ length: 12 }, () => ({ name: 'free', payload: {} })),
    ]);
    await tm.start();
    await waitFor(async () => (await tm.getTasksByStatus('completed')).length === 24, { what: '24 completions' });
    expect(maxRunning).toBe(4);
    expect(maxCapped).toBe(2);
  });

  env.test('cron: runs on schedule, stays one pending row, resets retry_count on success, pauses when retries are exhausted', async () => {
    const tm = await env.isolated();
    let runs = 0;
    tm.use('every-second', () => ++runs);
    const id = await tm.cron('every-second', '* * * * * *', { x: 1 });
    let failing = 0;
    tm.use('bad-cron', () => {
      failing++;
      throw new Error('cron broke');
    });
    const bad = await tm.cron('bad-cron', '* * * * * *', {}, { max_retries: 2 });
    await tm.start();
    await waitFor(() => runs >= 2, { what: 'two cron runs', timeout: 10_000 });
    const t = await waitFor(async () => {
      const row = await tm.getTask(id);
      return row && row.status === 'pending' && row.attempt >= 2 ? row : null;
    });
    expect(t).toMatchObject({ type: 'cron', stage: 0, retry_count: 0 });
    expect(typeof t.result).toBe('number');
    expect(t.next_run_time).toBeGreaterThan(t.start_time!);
    expect((await tm.getTaskAttempts(id)).every((a) => a.outcome === 'completed' || a.outcome === null)).toBe(true);
    const paused = await waitForStatus(tm, bad, 'paused', 10_000);
    expect(failing).toBe(2);
    expect(paused.error).toMatch(/cron broke/);
    const lastEvent = (await tm.getTaskEvents(bad)).at(-1)!;
    expect(lastEvent).toMatchObject({ event_type: 'task_paused', metadata: { retry_exhausted: true } });
    expect(await tm.getTasks({ type: 'cron' })).toHaveLength(2);
  });

  env.test('hot reload: a running attempt keeps its handler; the next claim uses the new one', async () => {
    const tm = await env.isolated();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    tm.use('v', async () => {
      await gate;
      return 'v1';
    });
    const first = await tm.async('v', {});
    await tm.start();
    await waitForStatus(tm, first, 'running');
    tm.use('v', () => 'v2');
    release();
    expect((await waitForStatus(tm, first, 'completed')).result).toBe('v1');
    const second = await tm.async('v', {});
    expect((await waitForStatus(tm, second, 'completed')).result).toBe('v2');
  });
});
