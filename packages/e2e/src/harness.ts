import { afterAll, afterEach, beforeAll, describe, it } from 'vitest';
import { TaskManager, type TaskManagerOptions, type TaskMap, type UntypedTaskMap } from '@taskmill/core';
import type { Store } from '@taskmill/contracts';
import type { Backend, BackendDb } from './backends.js';

/** Fast settings for tests: short polls and heartbeats keep the suite quick. */
export const FAST = {
  poll_interval: 50,
  task_heartbeat_interval: 200,
  worker_heartbeat_interval: 200,
  shutdown_timeout: 5000,
} as const;

/** What a test gets for the backend it runs on. */
export interface BackendContext {
  readonly backend: Backend;
  /** The database of the current test file. */
  db(): BackendDb;
  /** A manager on the file's database (a fresh one per test), stopped after the test. */
  manager<M extends TaskMap = UntypedTaskMap>(options?: Partial<TaskManagerOptions>): TaskManager<M>;
  /** Declare a test that is skipped (outside CI) when the backend is unreachable. */
  test(name: string, fn: () => Promise<void>, timeout?: number): void;
  /** A manager on a fresh database of its own, stopped and dropped after the test. */
  isolated<M extends TaskMap = UntypedTaskMap>(options?: Partial<TaskManagerOptions>): Promise<TaskManager<M>>;
}

/**
 * Declare a describe block per backend. Unreachable databases skip, except under CI where
 * they fail (a skipped database suite must never pass CI silently).
 */
export function describeBackends(title: string, backends: Backend[], body: (ctx: BackendContext) => void): void {
  for (const backend of backends) {
    describe(`${title} [${backend.name}]`, () => {
      let reason: string | null = null;
      const managers: TaskManager<any>[] = [];
      const dbs: BackendDb[] = [];
      let fileDb: BackendDb | undefined;

      beforeAll(async () => {
        reason = await backend.unavailable();
        if (reason && process.env.CI) throw new Error(`${reason} (CI is set: database suites must not skip)`);
      });

      afterEach(async () => {
        await Promise.all(managers.splice(0).map((m) => m.stop().catch(() => undefined)));
        for (const db of dbs.splice(0)) await db.cleanup().catch(() => undefined);
        fileDb = undefined;
      });

      afterAll(async () => {
        await Promise.all(managers.splice(0).map((m) => m.stop().catch(() => undefined)));
      });

      const freshDb = async () => {
        const db = await backend.createDb();
        dbs.push(db);
        return db;
      };

      const ctx: BackendContext = {
        backend,
        db() {
          if (!fileDb) throw new Error('call isolated() or use the manager() fixture after beforeEach');
          return fileDb;
        },
        manager(options = {}) {
          if (!fileDb) throw new Error('no database yet: use isolated()');
          const m = new TaskManager({ dbConnection: fileDb.dbConnection as string | Store, ...FAST, ...options });
          managers.push(m);
          return m as never;
        },
        test(name, fn, timeout) {
          it(name, async (t) => {
            if (reason) return t.skip(reason);
            await fn();
          }, timeout);
        },
        async isolated(options = {}) {
          fileDb = await freshDb();
          const m = new TaskManager({ dbConnection: fileDb.dbConnection as string | Store, ...FAST, ...options });
          managers.push(m);
          return m as never;
        },
      };

      body(ctx);
    });
  }
}

/** Poll `check` until it returns a truthy value (or throws no more); fail after `timeout` ms. */
export async function waitFor<T>(check: () => Promise<T> | T, { timeout = 20_000, interval = 25, what = 'condition' } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeout;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeout} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** Wait until the task reaches one of `statuses`; returns it. */
export async function waitForStatus(tm: TaskManager<any>, id: number, statuses: string | string[], timeout = 20_000) {
  const wanted = Array.isArray(statuses) ? statuses : [statuses];
  return waitFor(
    async () => {
      const t = await tm.getTask(id);
      return t && wanted.includes(t.status) ? t : null;
    },
    { timeout, what: `task ${id} to reach ${wanted.join('|')}` },
  );
}
