/*
 * Where a drain's time goes, on one store: enqueue N no-op tasks, drain them with one TaskManager
 * in this process (concurrency 10, as W1), and print tasks/s, this process's CPU time, and each
 * store call's count, mean duration and mean batch size. With `--cpu-prof` it also writes a V8
 * CPU profile of the drain and prints its heaviest functions and files (self time):
 *
 *   pnpm --filter @taskmill/bench drain-profile postgres://postgres@127.0.0.1:5432/test 5000 --cpu-prof
 *
 * The database's taskmill tables are dropped first (PostgreSQL: the schema's tables; MySQL: the
 * database's taskmill tables; SQLite: a fresh file when given `sqlite:<path>`).
 */
import { rmSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import mysql from 'mysql2/promise';
import postgres from 'postgres';
import type { Store } from '@taskmill/contracts';
import { openStoreForConnection, TaskManager } from '@taskmill/core';

const [url, nArg, ...flags] = process.argv.slice(2);
if (!url) {
  console.error('usage: drain-profile <connection string> [tasks (5000)] [--cpu-prof]');
  process.exit(2);
}
const N = Number(nArg ?? 5000);
/** The taskmill tables of the connection's schema (PostgreSQL) or database (MySQL), whatever migrations made. */
const TASKMILL_TABLES = `SELECT table_name AS name FROM information_schema.tables WHERE table_name LIKE 'taskmill\\_%'`;

async function reset(): Promise<void> {
  if (url.startsWith('postgres')) {
    const sql = postgres(url, { onnotice: () => {} });
    const tables = await sql.unsafe(`${TASKMILL_TABLES} AND table_schema = current_schema()`);
    for (const { name } of tables) await sql.unsafe(`DROP TABLE IF EXISTS "${name}" CASCADE`);
    await sql.end();
  } else if (url.startsWith('mysql')) {
    const conn = await mysql.createConnection(url);
    const [tables] = (await conn.query(`${TASKMILL_TABLES} AND table_schema = DATABASE()`)) as unknown as [{ name: string }[]];
    for (const { name } of tables) await conn.query(`DROP TABLE IF EXISTS \`${name}\``);
    await conn.end();
  } else if (url.startsWith('sqlite:') && !url.includes(':memory:')) {
    const file = url.slice('sqlite:'.length);
    for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
  }
}

/** The store, with each call's duration and result size recorded. */
function timed(real: Store): { store: Store; calls: Map<string, { n: number; ms: number; items: number }>; gaps: { n: number; ms: number } } {
  const calls = new Map<string, { n: number; ms: number; items: number }>();
  // the claim loop's time outside the store: from a claim's return to the next claim's call
  const gaps = { n: 0, ms: 0 };
  let claimed: number | undefined;
  const store = new Proxy(real, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const started = performance.now();
        if (key === 'claimBatch' && claimed !== undefined) {
          gaps.n += 1;
          gaps.ms += started - claimed;
        }
        const result = await value.apply(target, args);
        if (key === 'claimBatch') claimed = performance.now();
        const entry = calls.get(String(key)) ?? { n: 0, ms: 0, items: 0 };
        entry.n += 1;
        entry.ms += performance.now() - started;
        entry.items += Array.isArray(result) ? result.length : 1;
        calls.set(String(key), entry);
        return result;
      };
    },
  }) as Store;
  return { store, calls, gaps };
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

function summarize(profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }): void {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const add = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us);
  const functions = new Map<string, number>();
  const files = new Map<string, number>();
  for (const [id, us] of self) {
    const { functionName, url: file, lineNumber } = byId.get(id)!.callFrame;
    const short = file.replace(/.*node_modules\/\.pnpm\/([^/]+)\/.*/, '$1').replace(/.*\/packages\//, '');
    add(functions, `${functionName || '(anonymous)'} ${short}${file ? `:${lineNumber + 1}` : ''}`, us);
    add(files, short || '(native / V8)', us);
  }
  const print = (title: string, map: Map<string, number>, top: number) => {
    console.log(`\n${title} (self time, % of the drain)`);
    for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${((us / total) * 100).toFixed(1).padStart(5)} %  ${key}`);
  };
  print('functions', functions, 25);
  print('files', files, 12);
}

await reset();
const real = await openStoreForConnection(url);
const { store, calls, gaps } = timed(real);
let done = 0;
let finished!: () => void;
const all = new Promise<void>((resolve) => (finished = resolve));
const worker = new TaskManager({ dbConnection: store, max_concurrent_tasks: Number(process.env.PROFILE_CONCURRENCY ?? 10), prefetch_tasks: Number(process.env.PROFILE_PREFETCH ?? 0) });
// PROFILE_KEYS: WK's tasks instead, keyed round the keys, under max_concurrent_per_key 1
const keys = Number(process.env.PROFILE_KEYS ?? 0);
const keyOf = (i: number) => (keys > 0 ? { options: { concurrency_key: `k${String(i % keys).padStart(String(keys - 1).length, '0')}` } } : {});
worker.use('noop', {
  handler: () => {
    if (++done === N) finished();
    return null;
  },
  ...(keys > 0 ? { max_concurrent_per_key: 1 } : {}),
});
const producer = new TaskManager({ dbConnection: url });
producer.use('noop', () => null);
for (let i = 0; i < N; i += 1000) await producer.asyncMany(Array.from({ length: Math.min(1000, N - i) }, (_, j) => ({ name: 'noop', payload: {}, ...keyOf(i + j) })));
await producer.stop();

const session = flags.includes('--cpu-prof') ? new Session() : null;
if (session) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
}
calls.clear();
gaps.n = 0;
gaps.ms = 0;
const cpu = process.cpuUsage();
const started = performance.now();
await worker.start();
await all;
const ms = performance.now() - started;
const used = process.cpuUsage(cpu);
const profile = session ? (await session.post('Profiler.stop')).profile : null;
await worker.stop();
await real.close();

console.log(`${url.replace(/\/\/[^@]*@/, '//')}: ${N} tasks in ${Math.round(ms)} ms = ${Math.round(N / (ms / 1000))} tasks/s`);
console.log(`this process: CPU user ${Math.round(used.user / 1000)} ms, system ${Math.round(used.system / 1000)} ms (${(((used.user + used.system) / 1000 / ms) * 100).toFixed(0)}% of the wall time)`);
console.log('\nstore calls during the drain');
for (const [name, c] of [...calls].sort((a, b) => b[1].ms - a[1].ms)) {
  console.log(`${name.padEnd(22)} ${String(c.n).padStart(6)} calls  mean ${(c.ms / c.n).toFixed(2).padStart(7)} ms  mean size ${(c.items / c.n).toFixed(1).padStart(5)}  total ${Math.round(c.ms)} ms`);
}
if (gaps.n > 0) console.log(`between claims (a claim's return to the next claim's call): mean ${(gaps.ms / gaps.n).toFixed(2)} ms over ${gaps.n}`);
if (profile) summarize(profile as never);
if (profile && process.env.PROFILE_OUT) (await import('node:fs')).writeFileSync(process.env.PROFILE_OUT, JSON.stringify(profile));
