import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Store } from '@taskmill/contracts';
import { ATTEMPT_COLUMNS, EVENT_COLUMNS, TASK_COLUMNS, WORKER_COLUMNS } from '@taskmill/contracts/store-kit';
import type { ConformanceHarness, TableName } from '@taskmill/store-testkit';
import { createSqliteStore } from '../src/index.js';

const COLUMNS: Record<TableName, { columns: readonly string[]; pk: string }> = {
  taskmill_tasks: { columns: TASK_COLUMNS, pk: 'id' },
  taskmill_task_events: { columns: EVENT_COLUMNS, pk: 'id' },
  taskmill_task_attempts: { columns: ATTEMPT_COLUMNS, pk: 'id' },
  taskmill_workers: { columns: WORKER_COLUMNS, pk: 'worker_id' },
};

/** The keys of `values`, each checked to be a column of `table`. */
function checkedColumns(table: TableName, values: Record<string, unknown>): string[] {
  const spec = COLUMNS[table];
  if (!spec) throw new Error(`unknown table ${table}`);
  const keys = Object.keys(values);
  for (const key of keys) if (!spec.columns.includes(key)) throw new Error(`unknown column ${table}.${key}`);
  return keys;
}

/** Values as SQLite binds them: booleans as 0/1. */
function bound(values: Record<string, unknown>, keys: string[]): unknown[] {
  return keys.map((key) => (typeof values[key] === 'boolean' ? (values[key] ? 1 : 0) : values[key]));
}

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
      const keys = checkedColumns(table, where);
      const clause = keys.length ? `WHERE ${keys.map((key) => `"${key}" = ?`).join(' AND ')}` : '';
      const db = new Database(pathOf(store), { readonly: true, fileMustExist: true });
      try {
        return db.prepare(`SELECT * FROM ${table} ${clause} ORDER BY "${spec.pk}"`).all(...bound(where, keys)) as Record<string, unknown>[];
      } finally {
        db.close();
      }
    },
    async insertRaw(store, table, row) {
      const keys = checkedColumns(table, row);
      const db = new Database(pathOf(store), { fileMustExist: true });
      try {
        db.prepare(`INSERT INTO ${table} (${keys.map((key) => `"${key}"`).join(', ')}) VALUES (${keys.map(() => '?').join(', ')})`).run(
          ...bound(row, keys),
        );
      } finally {
        db.close();
      }
    },
    async cleanup() {
      for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}
