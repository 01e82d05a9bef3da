import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import type { Store } from '@taskmill/contracts';
import { ATTEMPT_COLUMNS, EVENT_COLUMNS, HEALTH_MINUTE_COLUMNS, PAUSED_NAME_COLUMNS, SIGNAL_COLUMNS, TASK_COLUMNS, WORKER_COLUMNS } from '@taskmill/store-kit';
import type { AppTransaction, BadHandle, ConformanceHarness, TableName } from '@taskmill/store-testkit';
import { createSqliteStore } from '../src/index.js';

const COLUMNS: Record<TableName, { columns: readonly string[]; pk: string }> = {
  taskmill_tasks: { columns: TASK_COLUMNS, pk: 'id' },
  taskmill_task_events: { columns: EVENT_COLUMNS, pk: 'id' },
  taskmill_task_attempts: { columns: ATTEMPT_COLUMNS, pk: 'id' },
  taskmill_workers: { columns: WORKER_COLUMNS, pk: 'worker_id' },
  taskmill_paused_names: { columns: PAUSED_NAME_COLUMNS, pk: 'name' },
  taskmill_task_signals: { columns: SIGNAL_COLUMNS, pk: 'id' },
  taskmill_health_minutes: { columns: HEALTH_MINUTE_COLUMNS, pk: 'minute' },
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
    async lockRows(store, _table, _where, during) {
      // no row locks in SQLite: the write lock covers every row
      const db = appDatabase(pathOf(store));
      try {
        db.exec('BEGIN IMMEDIATE');
        try {
          await during();
        } finally {
          db.exec('ROLLBACK');
        }
      } finally {
        db.close();
      }
    },
    appTransactions: appTransactions(pathOf),
    async badHandles(store) {
      const dir = mkdtempSync(join(tmpdir(), 'taskmill-sqlite-other-'));
      dirs.push(dir);
      return badHandles(pathOf(store), join(dir, 'other.db'));
    },
    async cleanup() {
      for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Thrown inside an application transaction to roll it back. */
const ROLLBACK = new Error('roll back');

/** The application's own connection to a store's file. */
function appDatabase(path: string): Database.Database {
  const db = new Database(path);
  db.pragma('busy_timeout = 5000');
  return db;
}

/**
 * A synchronous transaction (better-sqlite3's or drizzle's): `body` must have done its work
 * during the call; its promise is awaited after the end.
 */
function syncRun(path: string, open: (db: Database.Database, fn: (handle: unknown) => void) => void) {
  return async <T>(_store: Store, outcome: 'commit' | 'rollback', body: (handle: unknown) => Promise<T>): Promise<T> => {
    const db = appDatabase(path);
    let result: Promise<T> | undefined;
    try {
      open(db, (handle) => {
        result = body(handle);
        if (outcome === 'rollback') throw ROLLBACK;
      });
    } catch (error) {
      if (error !== ROLLBACK) throw error;
    } finally {
      db.close();
    }
    return result!;
  };
}

function appTransactions(pathOf: (store: Store) => string): AppTransaction[] {
  return [
    {
      kind: 'better-sqlite3 db.transaction',
      sync: true,
      run: (store, outcome, body) => syncRun(pathOf(store), (db, fn) => db.transaction(() => fn(db))())(store, outcome, body),
    },
    {
      kind: 'drizzle better-sqlite3 transaction',
      sync: true,
      run: (store, outcome, body) => syncRun(pathOf(store), (db, fn) => drizzle(db).transaction((tx) => fn(tx)))(store, outcome, body),
    },
    {
      kind: 'better-sqlite3 BEGIN IMMEDIATE',
      exclusive: true,
      async run(store, outcome, body, during) {
        const db = appDatabase(pathOf(store));
        try {
          db.exec('BEGIN IMMEDIATE');
          try {
            const result = await body(db);
            await during?.();
            db.exec(outcome === 'commit' ? 'COMMIT' : 'ROLLBACK');
            return result;
          } catch (error) {
            if (db.inTransaction) db.exec('ROLLBACK');
            throw error;
          }
        } finally {
          db.close();
        }
      },
    },
  ];
}

function badHandles(path: string, otherPath: string): BadHandle[] {
  return [
    {
      what: 'a closed database',
      use: async (call) => {
        const db = appDatabase(path);
        db.close();
        return call(db);
      },
    },
    {
      what: 'a database not inside a transaction',
      use: async (call) => {
        const db = appDatabase(path);
        try {
          return await call(db);
        } finally {
          db.close();
        }
      },
    },
    {
      what: 'a database after its transaction committed',
      use: async (call) => {
        const db = appDatabase(path);
        try {
          db.transaction(() => {})();
          return await call(db);
        } finally {
          db.close();
        }
      },
    },
    {
      what: 'a drizzle database not inside a transaction',
      use: async (call) => {
        const db = appDatabase(path);
        try {
          return await call(drizzle(db));
        } finally {
          db.close();
        }
      },
    },
    {
      what: "another file's database inside a transaction",
      use: async (call) => {
        const db = appDatabase(otherPath);
        try {
          let result: Promise<unknown> | undefined;
          db.transaction(() => {
            result = call(db);
          })();
          return await result;
        } finally {
          db.close();
        }
      },
    },
    {
      what: 'an in-memory database inside a transaction',
      use: async (call) => {
        const db = new Database(':memory:');
        try {
          let result: Promise<unknown> | undefined;
          db.transaction(() => {
            result = call(db);
          })();
          return await result;
        } finally {
          db.close();
        }
      },
    },
  ];
}
