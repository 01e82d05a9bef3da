import { expect } from 'vitest';
import { LIMITS, ValidationError, type BulkProgress, type TaskManager } from '@taskmill/core';
import { backends } from '../src/backends.js';
import { describeBackends, waitFor, waitForStatus } from '../src/harness.js';

/** Every task, event and attempt the manager can see: compare two to prove that nothing was written. */
async function everything(tm: TaskManager<any>) {
  const tasks = await tm.getTasks({ limit: 10_000 });
  const events = await Promise.all(tasks.map((task) => tm.getTaskEvents(task.id)));
  return { tasks, events };
}

describeBackends('bulk actions', backends(), (env) => {
  env.test('bulk retry brings back permanently failed tasks of a name in batches, with progress and bulk: true events', async () => {
    const tm = await env.isolated();
    let broken = true;
    tm.use('mail', (task) => {
      if (broken) throw new Error('smtp down');
      return task.payload;
    });
    tm.use('other', () => {
      throw new Error('other down');
    });
    const ids = await tm.asyncMany([1, 2, 3, 4, 5].map((n) => ({ name: 'mail', payload: { n }, options: { max_retries: 1 } })));
    const other = await tm.async('other', {}, { max_retries: 1 });
    await tm.start();
    for (const id of [...ids, other]) await waitForStatus(tm, id, 'permanently_failed');
    broken = false;
    const progress: BulkProgress[] = [];
    const result = await tm.bulk('retry', { name: 'mail', status: 'permanently_failed' }, { batch_size: 2, onProgress: (p) => progress.push(p) });
    expect(result).toEqual({ action: 'retry', total: 5, matched: 5, changed: 5, skipped: 0, batches: 3, dry_run: false });
    expect(progress.map((p) => [p.batches, p.changed])).toEqual([
      [0, 0],
      [1, 2],
      [2, 4],
      [3, 5],
    ]);
    for (const id of ids) await waitForStatus(tm, id, 'completed');
    expect((await tm.getTask(other))!.status).toBe('permanently_failed');
    const events = await tm.getTaskEvents(ids[0]);
    expect(events.find((e) => e.event_type === 'task_retry_scheduled')?.metadata).toMatchObject({ manual: true, bulk: true, previous_status: 'permanently_failed' });
  });

  env.test('bulk cancel by tag aborts a running handler here, skips nothing else and records the reason', async () => {
    const tm = await env.isolated();
    let aborted = false;
    tm.use('slow', async (task) => {
      await new Promise<void>((resolve) => task.signal.addEventListener('abort', () => resolve()));
      aborted = true;
      return 'late';
    });
    const running = await tm.async('slow', {}, { tag: 'batch-7' });
    await tm.start();
    await waitForStatus(tm, running, 'running');
    tm.pause();
    const waiting = await tm.asyncMany([{ name: 'slow', options: { tag: 'batch-7' } }, { name: 'slow', options: { tag: 'batch-7' } }]);
    const untouched = await tm.async('slow', {}, { tag: 'batch-8' });
    const result = await tm.bulk('cancel', { tag: 'batch-7' }, { reason: 'bad batch' });
    expect(result).toMatchObject({ total: 3, changed: 3, skipped: 0 });
    await waitFor(() => aborted, { what: 'the running handler to be aborted' });
    for (const id of [running, ...waiting]) expect(await tm.getTask(id)).toMatchObject({ status: 'permanently_failed', error: 'bad batch' });
    expect((await tm.getTask(untouched))!.status).toBe('pending');
    const cancelled = (await tm.getTaskEvents(running)).find((e) => e.event_type === 'task_permanently_failed');
    expect(cancelled?.metadata).toMatchObject({ cancelled: true, bulk: true });
  });

  env.test('bulk pause, resume and delete by created time and workflow root; dry_run only counts', async () => {
    const tm = await env.isolated();
    tm.use('job', () => null);
    const early = await tm.asyncMany([{ name: 'job' }, { name: 'job' }]);
    const cut = (await tm.getTask(early[1]))!.created_at;
    await waitFor(async () => Date.now() > cut + 5, { what: 'the clock to pass the cut' });
    const late = await tm.async('job', {});
    expect((await tm.getTask(late))!.created_at).toBeGreaterThan(cut);
    const dry = await tm.bulk('pause', { created_before: cut }, { dry_run: true });
    expect(dry).toMatchObject({ total: 2, changed: 0, dry_run: true });
    expect((await tm.getTasks()).every((t) => t.status === 'pending')).toBe(true);
    expect(await tm.bulk('pause', { created_before: cut })).toMatchObject({ total: 2, changed: 2 });
    expect(await tm.bulk('pause', { created_after: cut + 1 })).toMatchObject({ changed: 1 });
    expect(await tm.bulk('resume', { created_after: new Date(cut + 1) }, { reason: 'ops' })).toMatchObject({ changed: 1 });
    expect((await tm.getTask(late))!.status).toBe('pending');
    expect(await tm.bulk('delete', { status: 'paused' }, { dry_run: true })).toMatchObject({ total: 2 });
    expect(await tm.bulk('delete', { status: 'paused' })).toMatchObject({ changed: 2 });
    expect((await tm.getTasks()).map((t) => t.id)).toEqual([late]);
    // a workflow: the root and all its children, by root_id
    tm.use('root', (task, next) => (task.stage === 0 ? next([{ name: 'leaf' }, { name: 'leaf' }]) : 'done'));
    tm.use('leaf', async (task) => {
      await new Promise<void>((resolve) => task.signal.addEventListener('abort', () => resolve()));
    });
    const root = await tm.async('root', {});
    await tm.start();
    await waitForStatus(tm, root, 'suspended');
    const leaves = await tm.getChildTasks(root);
    expect(await tm.bulk('cancel', { root_id: root }, { dry_run: true })).toMatchObject({ total: 3 });
    const done = await tm.bulk('cancel', { root_id: root });
    expect(done).toMatchObject({ changed: 3, skipped: 0 });
    expect((await tm.getTask(root))!.status).toBe('permanently_failed');
    for (const leaf of leaves) expect((await tm.getTask(leaf.id))!.status).toBe('permanently_failed');
    expect((await tm.getTask(late))!.status).not.toBe('permanently_failed');
  });

  env.test('bulk with bad input is a ValidationError and writes nothing; an empty filter needs all: true', async () => {
    const tm = await env.isolated();
    tm.use('job', () => null);
    await tm.asyncMany([{ name: 'job' }, { name: 'job', options: { tag: 't' } }]);
    const before = await everything(tm);
    const bad: Array<[unknown, unknown, unknown]> = [
      ['explode', { all: true }, undefined],
      ['cancel', {}, undefined],
      ['cancel', { nmae: 'job' }, undefined],
      ['cancel', { status: 'finished' }, undefined],
      ['retry', { status: 'pending' }, undefined],
      ['cancel', { created_before: '2026-01-01' }, undefined],
      ['cancel', { root_id: 'x' }, undefined],
      ['cancel', { name: '' }, undefined],
      ['cancel', { all: true }, { batch_size: 0 }],
      ['cancel', { all: true }, { batch_size: LIMITS.max_bulk_batch_size + 1 }],
      ['cancel', { all: true }, { reason: '' }],
      ['pause', { all: true }, { reason: 'pause takes none' }],
      ['cancel', { all: true }, { dry_run: 'yes' }],
      ['cancel', { all: true }, { onProgress: 42 }],
      ['cancel', { all: true }, { batchSize: 10 }],
    ];
    for (const [action, filter, options] of bad) {
      const error = await tm.bulk(action as never, filter as never, options as never).catch((e: unknown) => e);
      expect(error, JSON.stringify([action, filter, options])).toBeInstanceOf(ValidationError);
    }
    expect(await everything(tm)).toEqual(before);
    expect(await tm.bulk('cancel', { all: true })).toMatchObject({ changed: 2 });
  });

  env.test(
    'a bulk retry of 5,000 tasks runs in batches while the worker keeps completing tasks between them',
    async () => {
      const tm = await env.isolated({ max_concurrent_tasks: 20, poll_interval: 20 });
      let completed = 0;
      let failing = true;
      tm.use('flaky', () => {
        if (failing) throw new Error('down');
        completed++;
      });
      tm.use('steady', () => {
        completed++;
      });
      const N = 5000;
      await tm.asyncMany(Array.from({ length: N }, () => ({ name: 'flaky', options: { max_retries: 1 } })));
      // permanently failed without running them all: a bulk cancel (itself batched) ends them
      expect(await tm.bulk('cancel', { name: 'flaky' }, { batch_size: 1000 })).toMatchObject({ changed: N });
      failing = false;
      await tm.asyncMany(Array.from({ length: 2000 }, () => ({ name: 'steady' })));
      await tm.start();
      await waitFor(() => completed > 0, { what: 'the worker to start completing tasks', timeout: 30_000 });
      const seen: number[] = [];
      const result = await tm.bulk('retry', { name: 'flaky', status: 'permanently_failed' }, { batch_size: 250, onProgress: () => seen.push(completed) });
      // the worker completed tasks between batches, not only before and after the run
      const gaps = seen.slice(1).filter((count, i) => count > seen[i]).length;
      expect(gaps).toBeGreaterThanOrEqual(2);
      // 20 full batches, then the empty one that finds nothing left
      expect(result).toMatchObject({ total: N, changed: N, skipped: 0, batches: N / 250 + 1 });
      await waitFor(async () => completed >= N + 2000, { what: 'every task to complete', timeout: 120_000 });
    },
    240_000,
  );
});
