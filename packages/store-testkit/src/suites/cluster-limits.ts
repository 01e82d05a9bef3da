import type { Store, TaskId } from '@taskmill/contracts';
import { expect } from 'vitest';
import { expectApplied, fenceOf, newTask, T0 } from '../fixtures.js';
import type { SuiteContext } from '../suite-context.js';

/** Cluster-wide concurrency limits (`ClaimRequest.cluster_limits`), enforced inside the claim transaction. */
export function defineClusterLimitTests({ test, open, peer, db }: SuiteContext): void {
  const claim = (store: Store, worker: string, limit: number, names: string[], extra: object = {}) =>
    store.claimTasks({ worker_id: worker, now: T0 + 10, limit, names, ...extra });

  test('a cluster limit caps the running tasks of a name across workers, counting those already running', async () => {
    const store = await open();
    await store.createTasks([...Array.from({ length: 6 }, () => newTask({ name: 'lim' })), newTask({ name: 'free' }), newTask({ name: 'free' })], T0);
    const limits = { cluster_limits: { lim: 3 } };
    const first = await claim(store, 'w1', 2, ['lim'], limits);
    expect(first.map((t) => t.name)).toEqual(['lim', 'lim']);
    // another worker: one place left for `lim`, uncapped names fill the rest of its slots
    const second = await claim(store, 'w2', 5, ['lim', 'free'], limits);
    expect(second.filter((t) => t.name === 'lim')).toHaveLength(1);
    expect(second.filter((t) => t.name === 'free')).toHaveLength(2);
    expect(await claim(store, 'w3', 5, ['lim'], limits)).toEqual([]);
    expect((await db.tasks(store, { status: 'running', name: 'lim' })).length).toBe(3);
    // a finished task makes room for exactly one more
    await expectApplied(store.finishAttempt(fenceOf(first[0]), { kind: 'completed', result: null }, T0 + 20));
    expect(await claim(store, 'w3', 5, ['lim'], limits)).toHaveLength(1);
    expect(await claim(store, 'w3', 5, ['lim'], limits)).toEqual([]);
    // without the limit the same request takes what is due
    expect(await claim(store, 'w4', 5, ['lim'])).toHaveLength(2);
  });

  test('a cluster limit combines with per-process name_limits (the smaller wins) and a limit of 0 claims nothing of the name', async () => {
    const store = await open();
    await store.createTasks(Array.from({ length: 6 }, () => newTask({ name: 'lim' })), T0);
    expect(await claim(store, 'w1', 5, ['lim'], { name_limits: { lim: 1 }, cluster_limits: { lim: 4 } })).toHaveLength(1);
    expect(await claim(store, 'w1', 5, ['lim'], { name_limits: { lim: 4 }, cluster_limits: { lim: 2 } })).toHaveLength(1);
    expect(await claim(store, 'w1', 5, ['lim'], { cluster_limits: { lim: 0 } })).toEqual([]);
    expect((await db.tasks(store, { status: 'running' })).length).toBe(2);
  });

  test('concurrent claimers on three peers never run more tasks of a limited name than its limit', async () => {
    const store = await open();
    const peers = [store, await peer(store), await peer(store)];
    const ids = await store.createTasks(Array.from({ length: 60 }, () => newTask({ name: 'lim' })), T0);
    const LIMIT = 4;
    const done: TaskId[] = [];
    const overLimit: number[] = [];
    await Promise.all(
      peers.map(async (s, i) => {
        let idle = 0;
        while (idle < 3) {
          const batch = await s.claimTasks({ worker_id: `w${i}`, now: T0 + 10, limit: 3, names: ['lim'], cluster_limits: { lim: LIMIT } });
          if (batch.length === 0) {
            idle++;
            await new Promise((resolve) => setTimeout(resolve, 3));
            continue;
          }
          idle = 0;
          // while this worker holds its claims, the database never shows more than LIMIT running
          const running = (await db.tasks(store, { status: 'running' })).length;
          if (running > LIMIT) overLimit.push(running);
          await new Promise((resolve) => setTimeout(resolve, 2));
          for (const task of batch) {
            await expectApplied(s.finishAttempt(fenceOf(task), { kind: 'completed', result: null }, T0 + 20));
            done.push(task.id);
          }
        }
      }),
    );
    expect(overLimit).toEqual([]);
    expect([...done].sort((a, b) => a - b)).toEqual(ids);
  });
}
