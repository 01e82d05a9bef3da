import { randomBytes } from 'node:crypto';
import type { Store } from '@taskmill/contracts';
import type { AppTransaction, BadHandle, ConformanceHarness, TableName } from '@taskmill/store-testkit';
import { drizzle } from 'drizzle-orm/mysql2';
import mysql from 'mysql2/promise';
import { beforeAll, describe } from 'vitest';
import { createMysqlStore } from '../src/index.js';

/*
 * Test helpers: a database per test (CREATE DATABASE tm_<random>), raw reads through a separate
 * connection, and a reachability probe so the suites skip (or fail under CI) without a server.
 */

/** The server the tests use. */
export const MYSQL_URL = process.env.TASKMILL_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

/** The URL of `MYSQL_URL`'s server with another database. */
export function urlFor(database: string): string {
  const url = new URL(MYSQL_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Admin connection settings (no database selected). */
export function adminOptions(): mysql.ConnectionOptions {
  const url = new URL(MYSQL_URL);
  return {
    host: url.hostname,
    port: url.port ? Number(url.port) : 3306,
    user: decodeURIComponent(url.username) || 'root',
    password: decodeURIComponent(url.password),
    supportBigNumbers: true,
    timezone: 'Z',
    connectTimeout: 5_000,
  };
}

/** Null when the server answers, else why it does not. */
export async function probe(): Promise<string | null> {
  try {
    const conn = await mysql.createConnection(adminOptions());
    await conn.query('SELECT 1');
    await conn.end();
    return null;
  } catch (error) {
    return `MySQL/MariaDB at ${MYSQL_URL} is unreachable (${(error as Error).message}); set TASKMILL_MYSQL_URL`;
  }
}

/**
 * `describe` for a suite that needs the server: without one it is skipped with the reason, except
 * under CI, where it runs and fails at once (database suites fail, never skip, in CI).
 */
export async function describeServer(title: string, body: () => void): Promise<void> {
  const unreachable = await probe();
  const suite = unreachable && !process.env.CI ? describe.skip : describe;
  suite(`${title}${unreachable ? ` [skipped: ${unreachable}]` : ''}`, () => {
    beforeAll(() => {
      if (unreachable) throw new Error(unreachable);
    });
    body();
  });
}

/** Creates and drops test databases; remembers which store uses which database. */
export class TestDatabases {
  private admin: mysql.Connection | null = null;
  private readonly created: string[] = [];
  private readonly dbOf = new WeakMap<Store, string>();

  private async conn(): Promise<mysql.Connection> {
    this.admin ??= await mysql.createConnection(adminOptions());
    return this.admin;
  }

  /** A new empty database; returns its name. */
  async create(): Promise<string> {
    const name = `tm_${randomBytes(6).toString('hex')}`;
    await (await this.conn()).query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
    this.created.push(name);
    return name;
  }

  /** A store on a fresh database, `setup()` done. */
  async store(): Promise<Store> {
    const db = await this.create();
    const store = createMysqlStore(urlFor(db));
    await store.setup();
    this.dbOf.set(store, db);
    return store;
  }

  /** Another store (own pool) on the same database. */
  async peer(store: Store): Promise<Store> {
    const db = this.database(store);
    const peer = createMysqlStore(urlFor(db));
    this.dbOf.set(peer, db);
    return peer;
  }

  database(store: Store): string {
    const db = this.dbOf.get(store);
    if (!db) throw new Error('store was not made by this harness');
    return db;
  }

  /** Raw rows filtered by equality, ordered by primary key. */
  async rawRows(store: Store, table: TableName, where: Record<string, unknown> = {}): Promise<Record<string, unknown>[]> {
    const db = this.database(store);
    const keys = Object.keys(where);
    const clause = keys.length ? ` WHERE ${keys.map((k) => `${mysql.escapeId(k)} = ?`).join(' AND ')}` : '';
    const pk = table === 'taskmill_workers' ? 'worker_id' : table === 'taskmill_paused_names' ? 'name' : table === 'taskmill_health_minutes' ? 'minute' : 'id';
    const [rows] = await (await this.conn()).query(
      `SELECT * FROM ${mysql.escapeId(db)}.${mysql.escapeId(table)}${clause} ORDER BY ${pk}`,
      keys.map((k) => where[k]),
    );
    return rows as Record<string, unknown>[];
  }

  /** Insert one raw row, bypassing the store (mysql2 binds booleans as TRUE/FALSE, i.e. 1/0). */
  async insertRaw(store: Store, table: TableName, row: Record<string, unknown>): Promise<void> {
    const keys = Object.keys(row);
    await (await this.conn()).query(
      `INSERT INTO ${mysql.escapeId(this.database(store))}.${mysql.escapeId(table)} (${keys.map((k) => mysql.escapeId(k)).join(', ')}) VALUES (?)`,
      [keys.map((k) => row[k])],
    );
  }

  /** Lock rows for update in a transaction of a connection of its own while `during` runs; then roll back. */
  async lockRows(store: Store, table: TableName, where: Record<string, unknown>, during: () => Promise<void>): Promise<void> {
    const keys = Object.keys(where);
    const conn = await this.appConnection(store);
    try {
      // as the stores' transactions run: no gap locks beyond the rows asked for
      await conn.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');
      await conn.beginTransaction();
      await conn.query(
        `SELECT 1 FROM ${mysql.escapeId(table)} WHERE ${keys.map((k) => `${mysql.escapeId(k)} = ?`).join(' AND ')} FOR UPDATE`,
        keys.map((k) => where[k]),
      );
      await during();
    } finally {
      await conn.query('ROLLBACK').catch(() => {});
      await conn.end();
    }
  }

  /** Run raw SQL on the admin connection. */
  async query(sql: string, params: unknown[] = []): Promise<unknown> {
    const [rows] = await (await this.conn()).query(sql, params);
    return rows;
  }

  /** Drop every database made here. */
  async cleanup(): Promise<void> {
    const conn = await this.conn();
    for (const db of this.created.splice(0)) await conn.query(`DROP DATABASE IF EXISTS \`${db}\``);
    await conn.end();
    this.admin = null;
  }

  /** The conformance harness. */
  harness(): ConformanceHarness {
    return {
      createStore: () => this.store(),
      createPeer: (store) => this.peer(store),
      rawRows: (store, table, where) => this.rawRows(store, table, where),
      insertRaw: (store, table, row) => this.insertRaw(store, table, row),
      lockRows: (store, table, where, during) => this.lockRows(store, table, where, during),
      cleanup: () => this.cleanup(),
      appTransactions: this.appTransactions(),
      badHandles: async (store) => this.badHandles(store),
    };
  }

  /** The application's own connection to a store's database (or `database`). */
  private appConnection(store: Store | null, database?: string): Promise<mysql.Connection> {
    return mysql.createConnection({ ...adminOptions(), database: database ?? this.database(store!) });
  }

  /** The application's own transactions: a mysql2 connection after BEGIN, a pool connection, and drizzle's. */
  appTransactions(): AppTransaction[] {
    const ROLLBACK = new Error('roll back');
    const finish = async <T>(
      conn: mysql.Connection | mysql.PoolConnection,
      handle: unknown,
      outcome: 'commit' | 'rollback',
      body: (handle: unknown) => Promise<T>,
      during?: () => Promise<void>,
    ): Promise<T> => {
      try {
        const result = await body(handle);
        await during?.();
        await conn.query(outcome === 'commit' ? 'COMMIT' : 'ROLLBACK');
        return result;
      } catch (error) {
        await conn.query('ROLLBACK');
        throw error;
      }
    };
    return [
      {
        kind: 'mysql2 connection after beginTransaction()',
        run: async (store, outcome, body, during) => {
          const conn = await this.appConnection(store);
          try {
            await conn.beginTransaction();
            return await finish(conn, conn, outcome, body, during);
          } finally {
            await conn.end();
          }
        },
      },
      {
        kind: 'mysql2 pool connection after BEGIN',
        run: async (store, outcome, body, during) => {
          const pool = mysql.createPool({ ...adminOptions(), database: this.database(store), connectionLimit: 2 });
          try {
            const conn = await pool.getConnection();
            try {
              await conn.query('BEGIN');
              return await finish(conn, conn, outcome, body, during);
            } finally {
              conn.release();
            }
          } finally {
            await pool.end();
          }
        },
      },
      {
        kind: 'drizzle mysql2 transaction',
        run: async (store, outcome, body, during) => {
          const pool = mysql.createPool({ ...adminOptions(), database: this.database(store), connectionLimit: 2 });
          let result!: Awaited<ReturnType<typeof body>>;
          try {
            await drizzle(pool).transaction(async (tx) => {
              result = await body(tx);
              await during?.();
              if (outcome === 'rollback') throw ROLLBACK;
            });
          } catch (error) {
            if (error !== ROLLBACK) throw error;
          } finally {
            await pool.end();
          }
          return result;
        },
      },
    ];
  }

  /** Handles the store must refuse. */
  badHandles(store: Store): BadHandle[] {
    const withConn = async (database: string | undefined, begin: boolean, call: (h: unknown) => Promise<unknown>) => {
      const conn = await this.appConnection(store, database);
      try {
        if (begin) await conn.beginTransaction();
        return await call(conn);
      } finally {
        await conn.end();
      }
    };
    return [
      {
        what: 'a pool',
        use: async (call) => {
          const pool = mysql.createPool({ ...adminOptions(), database: this.database(store), connectionLimit: 1 });
          try {
            return await call(pool);
          } finally {
            await pool.end();
          }
        },
      },
      { what: 'a connection not inside a transaction', use: (call) => withConn(undefined, false, call) },
      {
        what: 'a connection after its transaction committed',
        use: (call) =>
          withConn(undefined, true, async (handle) => {
            await (handle as mysql.Connection).commit();
            return call(handle);
          }),
      },
      { what: 'a connection of another database inside a transaction', use: (call) => withConn('test', true, call) },
      {
        what: 'a closed connection',
        use: async (call) => {
          const conn = await this.appConnection(store);
          await conn.end();
          return call(conn);
        },
      },
    ];
  }
}

/** A statement the store sent on a connection of a {@link recordingPool}. */
export interface SentQuery {
  sql: string;
  values: unknown;
}

/** `pool`, but every connection the store takes from it logs the queries it sends into `sent`. */
export function recordingPool(pool: mysql.Pool, sent: SentQuery[]): mysql.Pool {
  return new Proxy(pool, {
    get(target, key) {
      if (key !== 'getConnection') return Reflect.get(target, key, target);
      return async () => {
        const conn = await target.getConnection();
        return new Proxy(conn, {
          get(c, k) {
            const value = Reflect.get(c, k, c);
            if (k !== 'query' || typeof value !== 'function') return typeof value === 'function' ? value.bind(c) : value;
            return (sql: unknown, values: unknown) => {
              if (typeof sql === 'string') sent.push({ sql, values });
              return value.call(c, sql, values);
            };
          },
        });
      };
    },
  });
}
