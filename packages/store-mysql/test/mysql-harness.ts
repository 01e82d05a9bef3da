import { randomBytes } from 'node:crypto';
import type { Store } from '@taskmill/contracts';
import type { ConformanceHarness, TableName } from '@taskmill/store-testkit';
import mysql from 'mysql2/promise';
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
    const pk = table === 'taskmill_workers' ? 'worker_id' : 'id';
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
      cleanup: () => this.cleanup(),
    };
  }
}
