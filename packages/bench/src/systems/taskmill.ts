import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import postgres from 'postgres';
import type { Store } from '@taskmill/contracts';
import { TaskManager } from '@taskmill/core';
import { createMysqlStore } from '@taskmill/store-mysql';
import { createPostgresStore } from '@taskmill/store-postgres';
import { createSqliteStore } from '@taskmill/store-sqlite';
import { countMysqlStatements, countSqliteStatements } from './driver-counters.js';
import { statementCounter, type JobSystem, type Payload, type Place, type Producer } from './types.js';

/*
 * taskmill as its README shows it: a TaskManager on a store from the store package's factory,
 * at default options except `max_concurrent_tasks` (the workloads' concurrency) and, on the
 * `-prefetch` rows, `prefetch_tasks`. Every
 * enqueue goes through `async()` / `asyncMany()`, so the full audit trail is written as today.
 */

export type TaskmillStore = 'sqlite' | 'postgres' | 'mysql';

const TASK = 'noop';

/** The store a place describes. With `count`, its statements are counted at the driver (W2 idle cost, W7, WRL). */
export function openStore(place: Place, count = false): Store {
  if (place.kind === 'sqlite') {
    if (count) countSqliteStatements();
    return createSqliteStore(place.url) as Store;
  }
  if (place.kind === 'mysql') {
    if (count) countMysqlStatements();
    return createMysqlStore(place.url) as Store;
  }
  if (!count) return createPostgresStore({ url: place.url, schema: place.schema }) as Store;
  // the store's own client options (connection.ts), plus postgres-js's per-statement `debug` hook;
  // the bench's postgres-js is the release the store depends on, so the statements are the same
  const client = postgres(place.url, {
    max: 10,
    idle_timeout: 30,
    connect_timeout: 10,
    onnotice: () => {},
    debug: () => void statementCounter.count++,
  });
  const store = createPostgresStore({ url: place.url, schema: place.schema, client }) as Store;
  const close = store.close.bind(store);
  return Object.assign(store, { close: async () => (await close(), await client.end({ timeout: 1 })) });
}

export function manager(store: Store, options: { max_concurrent_tasks?: number; prefetch_tasks?: number } = {}) {
  return new TaskManager({
    dbConnection: store,
    ...options,
    onError: (error, where) => console.error(`[taskmill] ${where}:`, (error as Error)?.message ?? error),
  });
}

export function taskmillSystem(kind: TaskmillStore, urls: { pgUrl: string; mysqlUrl: string }, prefetch = 0): JobSystem {
  const defaults =
    kind === 'sqlite'
      ? 'a database file in the temp dir, default options (WAL file-watch wake-ups, poll_interval 1000 ms)'
      : kind === 'postgres'
        ? 'default options (LISTEN/NOTIFY wake-ups, poll_interval 1000 ms), pool 10'
        : 'MariaDB, default options (doorbell wake-ups: a blocking wait of up to 1 s that commits interrupt, poll_interval 1000 ms), pool 10';
  return {
    name: prefetch > 0 ? `taskmill-${kind}-prefetch` : `taskmill-${kind}`,
    settings: prefetch > 0 ? `as taskmill-${kind}, with \`prefetch_tasks\` ${prefetch} (W1 and W3 only)` : defaults,
    tuned: prefetch > 0,
    family: 'taskmill',
    postgres: kind === 'postgres',

    async create(runId) {
      let place: Place;
      if (kind === 'sqlite') {
        const dir = mkdtempSync(join(tmpdir(), 'taskmill-bench-'));
        place = { kind, dir, url: `sqlite:${join(dir, 'tasks.db')}` };
      } else if (kind === 'postgres') {
        place = { kind, url: urls.pgUrl, schema: `tm_${runId}` };
      } else {
        const database = `tmb_${runId}`;
        const admin = await mysql.createConnection({ uri: urls.mysqlUrl });
        try {
          await admin.query(`CREATE DATABASE \`${database}\``);
        } finally {
          await admin.end();
        }
        const url = new URL(urls.mysqlUrl);
        url.pathname = `/${database}`;
        place = { kind, url: url.toString(), database };
      }
      const store = openStore(place);
      try {
        await store.setup();
      } finally {
        await store.close();
      }
      return place;
    },

    async destroy(place) {
      if (place.kind === 'sqlite') rmSync(place.dir, { recursive: true, force: true });
      else if (place.kind === 'postgres') {
        const sql = postgres(place.url, { max: 1, onnotice: () => {} });
        try {
          await sql.unsafe(`DROP SCHEMA IF EXISTS "${place.schema}" CASCADE`);
        } finally {
          await sql.end({ timeout: 1 });
        }
      } else {
        const admin = await mysql.createConnection({ uri: urls.mysqlUrl });
        try {
          await admin.query(`DROP DATABASE IF EXISTS \`${place.database}\``);
        } finally {
          await admin.end();
        }
      }
    },

    async producer(place, options): Promise<Producer> {
      const store = openStore(place, options?.countStatements);
      const tm = manager(store);
      tm.use(TASK, () => null);
      return {
        async enqueueMany(payloads: Payload[]) {
          await tm.asyncMany(
            payloads.map((payload) => ({ name: TASK, payload: { ...payload }, ...(payload.key === undefined ? {} : { options: { concurrency_key: payload.key } }) })),
          );
        },
        async enqueue(payload: Payload) {
          await tm.async(TASK, { ...payload });
        },
        async close() {
          await tm.stop();
          await store.close();
        },
      };
    },

    async worker(place, options) {
      const store = openStore(place, options.countStatements);
      const tm = manager(store, { max_concurrent_tasks: options.concurrency, prefetch_tasks: prefetch });
      tm.use(TASK, {
        handler: (task) => {
          options.onJob(task.payload as Payload);
          return null;
        },
        ...options.flow,
      });
      await tm.start();
      return {
        async stop() {
          await tm.stop();
          await store.close();
        },
      };
    },

    async unfinished(place) {
      const [row] = await queryPlace(place, "SELECT COUNT(*) AS n FROM taskmill_tasks WHERE status <> 'completed'");
      return Number(row.n);
    },
  };
}

/**
 * Rows of one read-only query on a place's taskmill tables (unqualified names: PostgreSQL reads
 * the place's schema first), each as the driver returns it (numbers may come back as strings).
 */
export async function queryPlace(place: Place, query: string): Promise<Record<string, unknown>[]> {
  if (place.kind === 'sqlite') {
    const db = new Database(place.url.slice('sqlite:'.length), { readonly: true });
    try {
      return db.prepare(query).all() as Record<string, unknown>[];
    } finally {
      db.close();
    }
  }
  if (place.kind === 'postgres') {
    const sql = postgres(place.url, { max: 1, onnotice: () => {}, connection: { search_path: `"${place.schema}"` } });
    try {
      return [...(await sql.unsafe(query))];
    } finally {
      await sql.end({ timeout: 1 });
    }
  }
  const conn = await mysql.createConnection({ uri: place.url });
  try {
    const [rows] = await conn.query(query);
    return rows as Record<string, unknown>[];
  } finally {
    await conn.end();
  }
}

/*
 * W5's pre-fill: one task enqueued through `async()` (so the row is exactly what the API writes),
 * then copied `count - 1` times by the database itself (generate_series, MariaDB's SEQUENCE
 * engine, a recursive CTE), which is how a million pending rows take seconds rather than hours.
 * Only the tasks table is filled: the claim reads it alone, and the events table only grows.
 * PostgreSQL and MariaDB are then ANALYZEd, as autovacuum and InnoDB's persistent statistics
 * would have done on a queue that grew by itself; SQLite is left as the store leaves it.
 */
export async function fillPending(system: JobSystem, place: Place, count: number): Promise<void> {
  const producer = await system.producer(place);
  try {
    await producer.enqueue({});
  } finally {
    await producer.close();
  }
  const copies = count - 1;
  if (copies <= 0) return;
  if (place.kind === 'sqlite') {
    const db = new Database(place.url.slice('sqlite:'.length));
    try {
      const cols = (db.prepare('PRAGMA table_info(taskmill_tasks)').all() as { name: string }[])
        .map((c) => c.name)
        .filter((c) => c !== 'id')
        .join(', ');
      db.exec(`WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ${copies})
        INSERT INTO taskmill_tasks (${cols}) SELECT ${cols} FROM taskmill_tasks, g
        WHERE taskmill_tasks.id = (SELECT MIN(id) FROM taskmill_tasks)`);
    } finally {
      db.close();
    }
  } else if (place.kind === 'postgres') {
    const sql = postgres(place.url, { max: 1, onnotice: () => {} });
    try {
      const rows = await sql`SELECT column_name FROM information_schema.columns
        WHERE table_schema = ${place.schema} AND table_name = 'taskmill_tasks' AND column_name <> 'id' ORDER BY ordinal_position`;
      const cols = rows.map((r) => `"${r.column_name}"`).join(', ');
      const t = `"${place.schema}".taskmill_tasks`;
      await sql.unsafe(`INSERT INTO ${t} (${cols}) SELECT ${cols.replace(/"([a-z_]+)"/g, 't."$1"')} FROM ${t} t, generate_series(1, ${copies}) g
        WHERE t.id = (SELECT MIN(id) FROM ${t})`);
      await sql.unsafe(`VACUUM ANALYZE ${t}`);
    } finally {
      await sql.end({ timeout: 1 });
    }
  } else {
    const conn = await mysql.createConnection({ uri: place.url });
    try {
      const [rows] = await conn.query(
        `SELECT column_name AS c FROM information_schema.columns
         WHERE table_schema = DATABASE() AND table_name = 'taskmill_tasks' AND column_name <> 'id'
           AND COALESCE(generation_expression, '') = '' ORDER BY ordinal_position`,
      );
      // generated columns (claim_key) are computed by the server, never copied
      const cols = (rows as { c: string }[]).map((r) => `\`${r.c}\``).join(', ');
      const [[first]] = (await conn.query('SELECT MIN(id) AS id FROM taskmill_tasks')) as unknown as [[{ id: number }]];
      // in chunks: one 1,000,000-row InnoDB transaction spends most of its time on undo
      for (let done = 0; done < copies; done += 100_000) {
        const n = Math.min(100_000, copies - done);
        await conn.query(`INSERT INTO taskmill_tasks (${cols}) SELECT ${cols.replace(/`([a-z_]+)`/g, 't.`$1`')} FROM taskmill_tasks t, seq_1_to_${n} s WHERE t.id = ${first.id}`);
      }
      await conn.query('ANALYZE TABLE taskmill_tasks');
    } finally {
      await conn.end();
    }
  }
}

/**
 * W2 in one process: one started TaskManager enqueues its own tasks one at a time (`async()`,
 * awaited, every `gapMs`) and runs them; enqueue→handler-start latencies in ms, from
 * `performance.now()` (sub-millisecond). One untimed task first, then 1.5 s of idling.
 */
export async function localLatencies(place: Place, tasks: number, gapMs: number, concurrency: number): Promise<number[]> {
  const store = openStore(place);
  const tm = manager(store, { max_concurrent_tasks: concurrency });
  const latencies: number[] = [];
  let count = 0;
  tm.use(TASK, (task) => {
    const t = (task.payload as Payload).t;
    if (typeof t === 'number') latencies.push(performance.now() - t);
    count++;
    return null;
  });
  const until = async (n: number) => {
    const deadline = Date.now() + 60_000;
    while (count < n) {
      if (Date.now() > deadline) throw new Error(`in-process worker ran ${count} of ${n} tasks in 60 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  await tm.start();
  try {
    await tm.async(TASK, { i: -1 });
    await until(1);
    await new Promise((r) => setTimeout(r, 1500));
    const t0 = performance.now();
    for (let k = 0; k < tasks; k++) {
      const wait = t0 + k * gapMs - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      await tm.async(TASK, { i: k, t: performance.now() });
    }
    await until(tasks + 1);
  } finally {
    await tm.stop();
    await store.close();
  }
  return latencies;
}
