/*
 * Enqueue → start latency across processes on PostgreSQL, with and without LISTEN/NOTIFY.
 *
 *   pnpm --filter @taskmill/e2e bench:notify          (TASKMILL_PG_URL to point elsewhere)
 *
 * One worker process idles on the default poll_interval (1000 ms); this process enqueues
 * tasks one at a time at random gaps. Latency = the claim's start_time − the task's created_at,
 * both taken from Date.now() on this machine. Prints p50/p90/p99/max for each mode.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { TaskManager } from '@taskmill/core';
import { createPostgresStore } from '@taskmill/store-postgres';
import { PG_URL } from '../src/backends.js';
import { spawnWorker } from '../src/processes.js';

const TASKS = Number(process.env.BENCH_TASKS ?? 100);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function run(disableNotify: boolean): Promise<number[]> {
  const schema = `bench_${process.pid}_${disableNotify ? 'poll' : 'notify'}`;
  const store = createPostgresStore({ url: PG_URL, schema });
  const tm = new TaskManager({ dbConnection: store });
  tm.use('count', () => null);
  await tm.setup();
  const dir = mkdtempSync(join(tmpdir(), 'taskmill-bench-'));
  const worker = await spawnWorker({
    connection: { kind: 'postgres', url: PG_URL, schema },
    sideEffects: join(dir, 'w.log'),
    managerOptions: { poll_interval: 1000 },
    disableNotify,
  });
  try {
    await new Promise((r) => setTimeout(r, 1500)); // let the worker settle into its idle wait
    const ids: number[] = [];
    for (let i = 0; i < TASKS; i++) {
      ids.push(await tm.async('count', { i }));
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
    }
    for (;;) {
      const done = await tm.getTasks({ status: 'completed' });
      if (done.length === TASKS) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const tasks = await Promise.all(ids.map((id) => tm.getTask(id)));
    return tasks.map((t) => t!.start_time! - t!.created_at).sort((a, b) => a - b);
  } finally {
    await worker.stop();
    await tm.stop();
    await store.close();
    const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
    await sql.unsafe(`drop schema if exists "${schema}" cascade`);
    await sql.end();
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows: string[] = [];
for (const disableNotify of [false, true]) {
  const lat = await run(disableNotify);
  rows.push(
    `${(disableNotify ? 'polling only (poll_interval 1000 ms)' : 'LISTEN/NOTIFY').padEnd(38)} n=${lat.length}  p50=${percentile(lat, 50)} ms  p90=${percentile(lat, 90)} ms  p99=${percentile(lat, 99)} ms  max=${lat.at(-1)} ms`,
  );
}
console.log(`\nEnqueue → start latency across processes, PostgreSQL (${PG_URL.replace(/\/\/[^@]*@/, '//')})`);
for (const row of rows) console.log('  ' + row);
