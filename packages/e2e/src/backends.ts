import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Store } from '@taskmill/contracts';

/*
 * The stores the end-to-end suite runs on. Every behaviour test calls `describeBackends` and so
 * runs once per store. PostgreSQL and MariaDB/MySQL come from TASKMILL_PG_URL / TASKMILL_MYSQL_URL
 * (defaulting to the local servers); under CI an unreachable server fails the suite.
 */

/** A database made for one test file, and how to reach it. */
export interface BackendDb {
  /** What to pass as `dbConnection` (a string, or a store object the backend closes itself). */
  dbConnection: string | Store;
  /** A connection string or store for a second process/manager on the same database. */
  peerConnection(): string | Store | Promise<string | Store>;
  /** A store object of its own on the same database (closed by the test or by cleanup). */
  openPeerStore(): Promise<Store>;
  /** For child processes: a connection description they can rebuild (see worker-process.ts). */
  processConnection: ProcessConnection;
  cleanup(): Promise<void>;
}

/** A connection description a child process can turn back into a store. */
export type ProcessConnection = { kind: 'string'; url: string } | { kind: 'postgres'; url: string; schema: string };

/** One store the suite runs on. */
export interface Backend {
  name: string;
  /** Null when reachable, else why not. */
  unavailable(): Promise<string | null>;
  createDb(): Promise<BackendDb>;
}

export const PG_URL = process.env.TASKMILL_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const MYSQL_URL = process.env.TASKMILL_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

function unique(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}

const sqliteFile: Backend = {
  name: 'sqlite-file',
  async unavailable() {
    return null;
  },
  async createDb() {
    const dir = mkdtempSync(join(tmpdir(), 'taskmill-e2e-'));
    const url = `sqlite:${join(dir, 'tasks.db')}`;
    return {
      dbConnection: url,
      peerConnection: () => url,
      openPeerStore: () => storeFromUrl(url),
      processConnection: { kind: 'string', url },
      async cleanup() {
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

const sqliteMemory: Backend = {
  name: 'sqlite-memory',
  async unavailable() {
    return null;
  },
  async createDb() {
    return {
      dbConnection: 'sqlite::memory:',
      peerConnection: () => {
        throw new Error('sqlite::memory: databases are private to one manager');
      },
      openPeerStore: () => {
        throw new Error('sqlite::memory: databases are private to one manager');
      },
      processConnection: { kind: 'string', url: 'sqlite::memory:' },
      async cleanup() {},
    };
  },
};

const postgres: Backend = {
  name: 'postgres',
  async unavailable() {
    try {
      const { default: pg } = await import('postgres');
      const sql = pg(PG_URL, { max: 1, connect_timeout: 5, onnotice: () => {} });
      try {
        await sql`select 1`;
      } finally {
        await sql.end({ timeout: 1 });
      }
      return null;
    } catch (error) {
      return `PostgreSQL at ${PG_URL} is unreachable: ${(error as Error).message}`;
    }
  },
  async createDb() {
    const { createPostgresStore } = await import('@taskmill/store-postgres');
    const { default: pg } = await import('postgres');
    const schema = unique('e2e');
    // connections carry the schema as application_name, so a test can find (and kill) exactly its own
    const appUrl = new URL(PG_URL);
    appUrl.searchParams.set('application_name', schema);
    const url = appUrl.toString();
    const stores: Store[] = [];
    const make = () => {
      const store = createPostgresStore({ url, schema }) as Store;
      stores.push(store);
      return store;
    };
    return {
      dbConnection: make(),
      peerConnection: make,
      openPeerStore: async () => {
        const store = make();
        await store.setup();
        return store;
      },
      processConnection: { kind: 'postgres', url, schema },
      async cleanup() {
        await Promise.all(stores.map((s) => s.close().catch(() => undefined)));
        const sql = pg(PG_URL, { max: 1, onnotice: () => {} });
        try {
          await sql.unsafe(`drop schema if exists "${schema}" cascade`);
        } finally {
          await sql.end({ timeout: 1 });
        }
      },
    };
  },
};

const mysql: Backend = {
  name: 'mysql',
  async unavailable() {
    try {
      const { default: my } = await import('mysql2/promise');
      const conn = await my.createConnection({ uri: MYSQL_URL, connectTimeout: 5000 });
      await conn.end();
      return null;
    } catch (error) {
      return `MySQL/MariaDB at ${MYSQL_URL} is unreachable: ${(error as Error).message}`;
    }
  },
  async createDb() {
    const { default: my } = await import('mysql2/promise');
    const name = unique('e2e');
    const admin = await my.createConnection({ uri: MYSQL_URL });
    try {
      await admin.query(`CREATE DATABASE \`${name}\``);
    } finally {
      await admin.end();
    }
    const url = new URL(MYSQL_URL);
    url.pathname = `/${name}`;
    return {
      dbConnection: url.toString(),
      peerConnection: () => url.toString(),
      openPeerStore: () => storeFromUrl(url.toString()),
      processConnection: { kind: 'string', url: url.toString() },
      async cleanup() {
        const conn = await my.createConnection({ uri: MYSQL_URL });
        try {
          await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
        } finally {
          await conn.end();
        }
      },
    };
  },
};

/** The connection string a process uses for this database (PostgreSQL: the test's schema as `?schema=`). */
export function connectionUrl(db: BackendDb): string {
  const conn = db.processConnection;
  if (conn.kind === 'string') return conn.url;
  const url = new URL(conn.url);
  url.searchParams.set('schema', conn.schema);
  return url.toString();
}

/** Open a store for a sqlite:/mysql: connection string through its package, set up. */
async function storeFromUrl(url: string): Promise<Store> {
  let store: Store;
  if (url.startsWith('sqlite:')) {
    const { createSqliteStore } = await import('@taskmill/store-sqlite');
    store = createSqliteStore(url) as Store;
  } else {
    const { createMysqlStore } = await import('@taskmill/store-mysql');
    store = createMysqlStore(url) as Store;
  }
  await store.setup();
  return store;
}

/** All backends, filtered by TASKMILL_E2E_STORES (comma list of names) when set. */
export function backends(): Backend[] {
  const all = [sqliteFile, sqliteMemory, postgres, mysql];
  const only = process.env.TASKMILL_E2E_STORES?.split(',').map((s) => s.trim());
  return only ? all.filter((b) => only.includes(b.name)) : all;
}

/** Backends that can host several managers/processes on one database. */
export function sharedBackends(): Backend[] {
  return backends().filter((b) => b.name !== 'sqlite-memory');
}
