/*
 * How long one `asyncMany` of N tasks takes on each store, and the longest the event loop went
 * without a timer tick meanwhile (a worker's heartbeats run on those timers).
 *
 *   pnpm --filter @taskmill/e2e bench:batch
 *   BENCH_STORES=postgres BENCH_SIZES=10000,20000 pnpm --filter @taskmill/e2e bench:batch
 *
 * Each size runs on a fresh database (a SQLite file, a PostgreSQL schema, a MariaDB/MySQL
 * database) after one small warm-up batch, so connection set-up and migrations are not timed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import postgres from 'postgres';
import { TaskManager } from '@taskmill/core';
import type { Store } from '@taskmill/contracts';
import { createPostgresStore } from '@taskmill/store-postgres';
import { MYSQL_URL, PG_URL } from '../src/backends.js';

const STORES = (process.env.BENCH_STORES ?? 'sqlite,postgres,mysql').split(',').map((s) => s.trim());
const SIZES = (process.env.BENCH_SIZES ?? '10000,20000,40000,100000').split(',').map(Number);
/** A run longer than this is abandoned (the process exits): a quadratic path would not end. */
const GIVE_UP_MS = Number(process.env.BENCH_GIVE_UP_MS ?? 120_000);

interface Target {
  connection: string | Store;
  cleanup(): Promise<void>;
}

async function openTarget(name: string, tag: string): Promise<Target> {
  if (name === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'taskmill-bench-'));
    return { connection: `sqlite:${join(dir, 'tasks.db')}`, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  if (name === 'postgres') {
    const store = createPostgresStore({ url: PG_URL, schema: tag });
    return {
      connection: store,
      async cleanup() {
        const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
        await sql.unsafe(`drop schema if exists "${tag}" cascade`);
        await sql.end({ timeout: 1 });
      },
    };
  }
  if (name === 'mysql') {
    const admin = await mysql.createConnection({ uri: MYSQL_URL });
    await admin.query(`CREATE DATABASE \`${tag}\``);
    await admin.end();
    const url = new URL(MYSQL_URL);
    url.pathname = `/${tag}`;
    return {
      connection: url.toString(),
      async cleanup() {
        const conn = await mysql.createConnection({ uri: MYSQL_URL });
        await conn.query(`DROP DATABASE IF EXISTS \`${tag}\``);
        await conn.end();
      },
    };
  }
  throw new Error(`unknown store ${name}`);
}

async function run(name: string, size: number): Promise<void> {
  const target = await openTarget(name, `bench_batch_${process.pid}_${size}`);
  const tm = new TaskManager({ dbConnection: target.connection });
  tm.use('bench', () => null);
  try {
    await tm.asyncMany([{ name: 'bench', payload: {} }]);
    const items = Array.from({ length: size }, (_, i) => ({ name: 'bench', payload: { i } }));
    let last = performance.now();
    let longestGap = 0;
    const ticker = setInterval(() => {
      const t = performance.now();
      longestGap = Math.max(longestGap, t - last);
      last = t;
    }, 5);
    const giveUp = setTimeout(() => {
      console.log(`${name.padEnd(8)} ${String(size).padStart(7)}  gave up after ${GIVE_UP_MS / 1000} s`);
      process.exit(2);
    }, GIVE_UP_MS);
    const started = performance.now();
    let ids: number[];
    try {
      ids = await tm.asyncMany(items);
    } finally {
      clearInterval(ticker);
      clearTimeout(giveUp);
    }
    const elapsed = performance.now() - started;
    longestGap = Math.max(longestGap, performance.now() - last);
    if (new Set(ids).size !== size) throw new Error(`expected ${size} distinct ids, got ${new Set(ids).size}`);
    console.log(`${name.padEnd(8)} ${String(size).padStart(7)}  ${(elapsed / 1000).toFixed(2).padStart(7)} s  longest loop gap ${Math.round(longestGap)} ms`);
  } finally {
    await tm.stop();
    await target.cleanup();
  }
}

console.log('store       tasks     time');
for (const name of STORES) for (const size of SIZES) await run(name, size);
