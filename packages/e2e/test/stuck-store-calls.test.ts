import { expect } from 'vitest';
import { TaskManager } from '@taskmill/core';
import type { Store } from '@taskmill/contracts';
import { sharedBackends } from '../src/backends.js';
import { FAST, describeBackends, waitFor } from '../src/harness.js';

/*
 * A store call that never settles (a driver stranding a query on a connection the server killed:
 * seen with postgres-js while its connections were terminated) must neither stop the worker's
 * heartbeats for good nor hang stop().
 */
describeBackends('store calls that never settle', sharedBackends(), (env) => {
  env.test('a stuck worker heartbeat is reported, the next ones run, and stop() still returns', async () => {
    await env.isolated();
    const real = await env.db().openPeerStore();
    let heartbeats = 0;
    const stuck = new Proxy(real, {
      get(target, key, receiver) {
        if (key === 'heartbeatWorker') {
          return (...args: Parameters<Store['heartbeatWorker']>) =>
            ++heartbeats === 1 ? new Promise<never>(() => {}) : target.heartbeatWorker(...args);
        }
        const value = Reflect.get(target, key, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as Store;
    const errors: string[] = [];
    const tm = new TaskManager({
      dbConnection: stuck,
      ...FAST,
      worker_heartbeat_interval: 50,
      worker_heartbeat_timeout: 600,
      shutdown_timeout: 1000,
      onError: (error) => errors.push(String((error as Error).message)),
    });
    try {
      await tm.start();
      await waitFor(() => errors.some((e) => e.includes('has not finished')) && heartbeats >= 3, { timeout: 30_000, what: 'the stuck tick to be reported and heartbeats to resume' });
      const worker = await tm.getWorker(tm.options.worker_id);
      expect(worker?.status).toBe('active');
      expect(worker!.expires_at).toBeGreaterThan(Date.now());
    } finally {
      const started = Date.now();
      await tm.stop();
      // every wait of stop() is bounded by shutdown_timeout (1 s)
      expect(Date.now() - started).toBeLessThan(5_000);
      await real.close();
    }
    const check = await env.db().openPeerStore();
    try {
      expect((await check.getWorker(tm.options.worker_id))?.status).toBe('dead');
    } finally {
      await check.close();
    }
  }, 60_000);
});
