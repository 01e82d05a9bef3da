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
import { TaskManager } from '@taskmill/core';
import { backends, type Backend } from '../src/backends.js';

const STORES = (process.env.BENCH_STORES ?? 'sqlite,postgres,mysql').split(',').map((s) => s.trim());
const SIZES = (process.env.BENCH_SIZES ?? '10000,20000,40000,100000').split(',').map(Number);
/** A run longer than this is abandoned (the process exits): a quadratic path would not end. */
const GIVE_UP_MS = Number(process.env.BENCH_GIVE_UP_MS ?? 120_000);

/** The e2e suite's backend of a store name (`sqlite` is the SQLite file). */
function backendOf(name: string): Backend {
  const backend = backends().find((b) => b.name === (name === 'sqlite' ? 'sqlite-file' : name));
  if (!backend) throw new Error(`unknown store ${name}`);
  return backend;
}

async function run(name: string, size: number): Promise<void> {
  const target = await backendOf(name).createDb();
  const tm = new TaskManager({ dbConnection: target.dbConnection });
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
