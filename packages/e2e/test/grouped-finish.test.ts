import { expect } from 'vitest';
import { TaskManager } from '@taskmill/core';
import type { FinishItem, Store } from '@taskmill/contracts';
import { sharedBackends } from '../src/backends.js';
import { FAST, describeBackends, waitFor } from '../src/harness.js';

/*
 * Group commits of outcomes (core/finish-group.ts): handlers that return together have their
 * outcomes written in one `finishAttempts` transaction; a group that fails for a reason other
 * than an unreachable database is written one outcome at a time, so every outcome still lands.
 */

/** The store, with every `finishAttempts` call's group size recorded and, optionally, refused. */
function recording(real: Store, refuseGroups: boolean): { store: Store; groups: number[] } {
  const groups: number[] = [];
  const store = new Proxy(real, {
    get(target, key, receiver) {
      if (key === 'finishAttempts') {
        return async (items: FinishItem[], now: number) => {
          groups.push(items.length);
          if (refuseGroups) throw new Error('this group is refused');
          return target.finishAttempts(items, now);
        };
      }
      const value = Reflect.get(target, key, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as Store;
  return { store, groups };
}

/** The store, with every outcome write held until `release()`, and the tasks each claim took counted. */
function gated(real: Store): { store: Store; claimed: () => number; release: () => void } {
  let claimed = 0;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const store = new Proxy(real, {
    get(target, key, receiver) {
      if (key === 'claimBatch') {
        return async (...args: Parameters<Store['claimBatch']>) => {
          const result = await target.claimBatch(...args);
          claimed += result.tasks.length;
          return result;
        };
      }
      if (key === 'finishAttempts' || key === 'finishAttempt') {
        const write = Reflect.get(target, key, receiver) as (...args: unknown[]) => Promise<unknown>;
        return async (...args: unknown[]) => {
          await gate;
          return write.apply(target, args);
        };
      }
      const value = Reflect.get(target, key, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as Store;
  return { store, claimed: () => claimed, release: open };
}

describeBackends('grouped finishes', sharedBackends(), (env) => {
  env.test('claiming pauses while 2 × (max_concurrent_tasks + prefetch_tasks) outcomes wait to be written, and resumes as they land', async () => {
    await env.isolated();
    const real = await env.db().openPeerStore();
    const { store, claimed, release } = gated(real);
    const errors: unknown[] = [];
    // bound 2 × (2 + 3) = 10: claims go on until 10 outcomes wait, and a claim started below the
    // bound takes at most 2 + 3 more, so between 10 and 14 tasks are claimed while writes are held
    const tm = new TaskManager({ dbConnection: store, ...FAST, max_concurrent_tasks: 2, prefetch_tasks: 3, onError: (e) => errors.push(e) });
    const runs = new Map<number, number>();
    tm.use('job', (task) => {
      runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
      return null;
    });
    try {
      const ids = await tm.asyncMany(Array.from({ length: 40 }, () => ({ name: 'job', payload: {} })));
      await tm.start();
      await waitFor(() => claimed() >= 10, { timeout: 30_000, what: '10 tasks claimed while their outcomes are held' });
      // a bounded look for claims past the bound: 20 poll intervals
      await new Promise((resolve) => setTimeout(resolve, 20 * FAST.poll_interval));
      expect(claimed()).toBeLessThanOrEqual(14);
      expect(await tm.getTasks({ status: 'completed' })).toHaveLength(0);
      release();
      await waitFor(async () => (await tm.getTasks({ status: 'completed' })).length === ids.length, { timeout: 60_000, what: 'every task to complete' });
      expect(runs.size).toBe(ids.length);
      expect([...runs.values()].every((count) => count === 1)).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      release();
      await tm.stop();
      await real.close();
    }
  });

  for (const refuse of [false, true]) {
    env.test(
      refuse
        ? 'a refused group is written one outcome at a time: every task still completes once, with its result'
        : 'outcomes of handlers that return together are committed as one group',
      async () => {
        await env.isolated();
        const real = await env.db().openPeerStore();
        const { store, groups } = recording(real, refuse);
        const errors: unknown[] = [];
        const tm = new TaskManager({ dbConnection: store, ...FAST, max_concurrent_tasks: 10, onError: (e) => errors.push(e) });
        const runs = new Map<number, number>();
        tm.use('job', (task) => {
          runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
          return { doubled: (task.payload as { n: number }).n * 2 };
        });
        try {
          const ids = await tm.asyncMany(Array.from({ length: 60 }, (_, n) => ({ name: 'job', payload: { n } })));
          await tm.start();
          await waitFor(async () => (await tm.getTasks({ status: 'completed' })).length === ids.length, { timeout: 60_000, what: 'every task to complete' });
          const tasks = await Promise.all(ids.map((id) => tm.getTask(id)));
          tasks.forEach((task, n) => expect(task).toMatchObject({ status: 'completed', result: { doubled: n * 2 }, attempt: 1 }));
          expect([...runs.values()].every((count) => count === 1)).toBe(true);
          expect(runs.size).toBe(ids.length);
          // groups of more than one outcome were formed (and, when refused, each was then written alone)
          expect(Math.max(...groups)).toBeGreaterThan(1);
          expect(errors).toEqual([]);
        } finally {
          await tm.stop();
          await real.close();
        }
      },
    );
  }
});
