import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ATTEMPT_COLUMNS, EVENT_COLUMNS, TASK_COLUMNS, WORKER_COLUMNS, type Store } from '@taskmill/contracts';
import type { ConformanceHarness, TableName } from '@taskmill/store-testkit';
import { createSqliteStore } from '../src/index.js';

const COLUMNS: Record<TableName, { columns: readonly string[]; pk: string }> = {
  taskmill_tasks: { columns: TASK_COLUMNS, pk: 'id' },
  taskmill_task_events: { columns: EVENT_COLUMNS, pk: 'id' },
  taskmill_task_attempts: { columns: ATTEMPT_COLUMNS, pk: 'id' },
  taskmill_workers: { columns: WORKER_COLUMNS, pk: 'worker_id' },
};

/** A harness whose stores each live in a fresh temp file; peers open the same file. */
export function createSqliteHarness(): ConformanceHarness & { pathOf(store: Store): string } {
  const dirs: string[] = [];
  const paths = new WeakMap<Store, string>();

  function pathOf(store: Store): string {
    const path = paths.get(store);
    if (!path) throw new Error('store was not made by this harness');
    return path;
  }

  async function open(path: string): Promise<Store> {
    const store = createSqliteStore({ path });
    paths.set(store, path);
    await store.setup();
    return store;
  }

  return {
    pathOf,
    async createStore() {
      const dir = mkdtempSync(join(tmpdir(), 'taskmill-sqlite-'));
      dirs.push(dir);
      return open(join(dir, 'taskmill.db'));
    },
    createPeer(store) {
      return open(pathOf(store));
    },
    async rawRows(store, table, where = {}) {
      const spec = COLUMNS[table];
      if (!spec) throw new Error(`unknown table ${table}`);
      const keys = Object.keys(where);
      for (const key of keys) if (!spec.columns.includes(key)) throw new Error(`unknown column ${table}.${key}`);
      const clause = keys.length ? `WHERE ${keys.map((key) => `"${key}" = ?`).join(' AND ')}` : '';
      const params = keys.map((key) => {
        const value = where[key];
        return typeof value === 'boolean' ? (value ? 1 : 0) : value;
      });
      const db = new Database(pathOf(store), { readonly: true, fileMustExist: true });
      try {
        return db.prepare(`SELECT * FROM ${table} ${clause} ORDER BY "${spec.pk}"`).all(...params) as Record<string, unknown>[];
      } finally {
        db.close();
      }
    },
    async cleanup() {
      for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}
