import { expect } from 'vitest';
import { backends } from '../src/backends.js';
import { describeBackends, waitFor, waitForStatus } from '../src/harness.js';

describeBackends('handlers that outlive their attempt', backends(), (env) => {
  env.test('a handler that ignores its aborted signal keeps its slot until it returns and is reported once via onError', async () => {
    const reports: string[] = [];
    const tm = await env.isolated({
      max_concurrent_tasks: 1,
      onError: (error, where) => reports.push(`${where}: ${error instanceof Error ? error.message : String(error)}`),
    });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let stubbornRunning = false;
    let overlapped: boolean | undefined;
    tm.use('stubborn', async () => {
      stubbornRunning = true;
      await gate; // ignores task.signal
      stubbornRunning = false;
      return 'late';
    });
    tm.use('quick', () => {
      overlapped = stubbornRunning;
      return 'ok';
    });
    const s = await tm.async('stubborn', {}, { timeout: 0.3, max_retries: 1 });
    await tm.start();
    await waitForStatus(tm, s, 'running');
    const q = await tm.async('quick', {});
    await waitForStatus(tm, s, 'permanently_failed'); // its attempt timed out; the handler runs on
    const mine = () => reports.filter((r) => r.includes(`task ${s}`) && r.includes('attempt 1'));
    await waitFor(() => mine().length > 0, { what: 'the overdue handler to be reported' });
    expect((await tm.getTask(q))!.status).toBe('pending'); // the slot is still taken
    release();
    await waitForStatus(tm, q, 'completed');
    expect(overlapped).toBe(false);
    expect(mine()).toHaveLength(1);
    expect((await tm.getTask(s))!.status).toBe('permanently_failed'); // the late result is discarded
  });

  env.test("a handler outliving its attempt is listed in the worker's registry row until it returns", async () => {
    const tm = await env.isolated({ onError: () => undefined });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    tm.use('stubborn', async () => {
      await gate;
      return 'late';
    });
    const s = await tm.async('stubborn', {}, { timeout: 0.3, max_retries: 1 });
    await tm.start();
    await waitForStatus(tm, s, 'permanently_failed');
    type Overdue = { task_id: number; attempt: number; since: number };
    const listed = await waitFor(
      async () => {
        const meta = (await tm.getWorker(tm.options.worker_id))?.meta;
        return (meta?.overdue_handlers as Overdue[] | undefined)?.find((h) => h.task_id === s);
      },
      { what: 'overdue_handlers in the worker row' },
    );
    expect(listed).toMatchObject({ task_id: s, attempt: 1, since: expect.any(Number) });
    release();
    const meta = await waitFor(
      async () => {
        const m = (await tm.getWorker(tm.options.worker_id))?.meta;
        return m && !(m.overdue_handlers as Overdue[] | undefined)?.length ? m : null;
      },
      { what: 'overdue_handlers to be cleared' },
    );
    expect(meta).toMatchObject({ pid: process.pid });
  });
});
