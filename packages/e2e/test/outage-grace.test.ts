import { expect } from 'vitest';
import { StoreUnavailableError, type Store } from '@taskmill/contracts';
import { sharedBackends } from '../src/backends.js';
import { describeBackends, waitFor } from '../src/harness.js';

/*
 * An outage every worker sees at once (a server restart, a network partition) that outlasts the
 * lease: no worker could renew, so every lease ran out. The first worker to reach the database
 * again must not take its peers for dead: they are alive and renew as soon as they can. A reaper
 * that was cut off itself waits one lease before it reaps, so nobody is reaped and no task runs twice.
 */

const LEASE = 1000;
const OPTIONS = { poll_interval: 50, worker_heartbeat_interval: 100, worker_heartbeat_timeout: LEASE, task_heartbeat_interval: 200, task_heartbeat_timeout: 30_000 } as const;

/** The same store, unreachable while `outage.down` holds: every call fails as a lost server's would. */
function behindSwitch(store: Store, outage: { down: boolean }): Store {
  return new Proxy(store, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (outage.down && prop !== 'close') return Promise.reject(new StoreUnavailableError('the database is unreachable (test outage)'));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

describeBackends('outage longer than the lease', sharedBackends(), (env) => {
  env.test('after an outage every worker saw, no live worker is reaped and every task runs once', async () => {
    const admin = await env.isolated();
    admin.use('slow', () => null);
    const outage = { down: false };
    const stores = [await env.db().openPeerStore(), await env.db().openPeerStore()];
    const runs = new Map<number, number>();
    const managers = stores.map((store) => {
      const tm = env.manager({ ...OPTIONS, dbConnection: behindSwitch(store, outage) });
      tm.use('slow', async (task) => {
        await new Promise((r) => setTimeout(r, 200));
        runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
        return null;
      });
      return tm;
    });
    try {
      const ids = await admin.asyncMany(Array.from({ length: 100 }, (_, i) => ({ name: 'slow', payload: { i } })));
      for (const tm of managers) await tm.start();
      await waitFor(() => runs.size >= 10, { what: 'the work to get going' });
      outage.down = true;
      await new Promise((r) => setTimeout(r, 3 * LEASE)); // every lease has run out meanwhile
      outage.down = false;
      await waitFor(async () => (await admin.getTaskStatsByTag()).every((s) => s.status === 'completed'), { timeout: 60_000, interval: 100, what: 'every task completed' });

      expect(ids.filter((id) => runs.get(id) !== 1)).toEqual([]); // each handler ran exactly once
      for (const task of await admin.getTasks()) {
        expect((await admin.getTaskEvents(task.id)).map((e) => e.event_type)).not.toContain('task_recovered');
      }
      for (const tm of managers) expect((await admin.getWorker(tm.options.worker_id))?.status).toBe('active');
    } finally {
      outage.down = false;
      for (const tm of managers) await tm.stop().catch(() => undefined);
      for (const store of stores) await store.close().catch(() => undefined);
    }
  }, 120_000);
});
