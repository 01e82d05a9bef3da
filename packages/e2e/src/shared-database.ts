import { onTestFinished } from 'vitest';
import type { Store, TaskManagerOptions } from '@taskmill/core';
import type { BackendContext } from './harness.js';

/**
 * A manager, a way to make more managers on the same database, and a store of its own there that
 * stays open after the managers have stopped, so a test can read what `stop()` wrote. A
 * `sqlite::memory:` database lives in its one connection: there every party shares one store
 * object, which a manager given it does not close.
 */
export async function managerWithReader(env: BackendContext, options: Partial<TaskManagerOptions>) {
  if (env.backend.name === 'sqlite-memory') {
    const { createSqliteStore } = await import('@taskmill/store-sqlite');
    const store = createSqliteStore('sqlite::memory:') as Store;
    onTestFinished(() => store.close());
    await env.isolated();
    return {
      tm: env.manager({ ...options, dbConnection: store }),
      second: (more: Partial<TaskManagerOptions>) => env.manager({ ...more, dbConnection: store }),
      reader: store,
    };
  }
  const tm = await env.isolated(options);
  const reader = await env.db().openPeerStore();
  onTestFinished(() => reader.close().catch(() => undefined));
  return { tm, second: (more: Partial<TaskManagerOptions>) => env.manager(more), reader };
}
