/*
 * taskmill against graphile-worker, pg-boss and BullMQ, in one run on this machine:
 *
 *   pnpm --filter @taskmill/bench bench                       (the issue's sizes)
 *   BENCH_N=2000 BENCH_RUNS=1 BENCH_WORKLOADS=W1,W2,W3,W4,W7 pnpm --filter @taskmill/bench bench
 *
 * Prints one markdown table per workload (medians of BENCH_RUNS runs, min–max, taskmill's ratio
 * to each peer) and writes them to results/latest.md. Exits non-zero when a task ran twice or
 * never, or a run failed. See README.md for what each workload measures.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import mysql from 'mysql2/promise';
import postgres from 'postgres';
import { Redis } from 'ioredis';
import { loadConfig } from './config.js';
import { targetsTable } from './targets.js';
import { allSystems } from './systems/index.js';
import type { BenchContext, WorkloadReport } from './workloads/context.js';
import { w1 } from './workloads/w1-burn-down.js';
import { w2 } from './workloads/w2-latency.js';
import { w2Local } from './workloads/w2-local-latency.js';
import { w2IdleCost } from './workloads/w2-idle-cost.js';
import { w3 } from './workloads/w3-two-processes.js';
import { w4 } from './workloads/w4-single-enqueue.js';
import { w5 } from './workloads/w5-scale.js';
import { w6 } from './workloads/w6-memory.js';
import { w7 } from './workloads/w7-write-cost.js';
import { wr } from './workloads/wr-retention.js';
import { wb } from './workloads/wb-bulk-retry.js';
import { wrl } from './workloads/wrl-rate-limit.js';
import { wk } from './workloads/wk-many-keys.js';

const base = loadConfig();
const started = new Date();
const log = (message: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);

// every PostgreSQL system works in a database of its own made for this run, so that
// pg_stat_database (W7) counts the bench's transactions only, and dropping it cleans up all
const benchDb = `taskmill_bench_${process.pid}`;
const admin = postgres(base.pgUrl, { max: 1, onnotice: () => {} });
await admin.unsafe(`CREATE DATABASE ${benchDb}`);
const pgUrl = new URL(base.pgUrl);
pgUrl.pathname = `/${benchDb}`;
const config = { ...base, pgUrl: pgUrl.toString() };
process.env.TASKMILL_PG_URL = config.pgUrl; // the worker processes load the same config

const systems = allSystems(config).filter((s) => !config.systems || config.systems.includes(s.name));
let next = 0;
const ctx: BenchContext = {
  config,
  systems,
  failures: [],
  runId: () => `${process.pid.toString(36)}_${(next++).toString(36)}`,
  log,
};

async function versions(): Promise<string> {
  const sql = postgres(config.pgUrl, { max: 1, onnotice: () => {} });
  const [{ server_version }] = await sql`SHOW server_version`;
  await sql.end();
  const my = await mysql.createConnection({ uri: config.mysqlUrl });
  const [[{ v }]] = (await my.query('SELECT VERSION() AS v')) as unknown as [[{ v: string }]];
  await my.end();
  const redis = new Redis(config.redisUrl);
  const info = await redis.info('server');
  redis.disconnect();
  const redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? '?';
  let sqlite = '?';
  try {
    sqlite = execFileSync(process.execPath, ['-e', "console.log(new (require('better-sqlite3'))(':memory:').prepare('select sqlite_version() v').get().v)"], { encoding: 'utf8' }).trim();
  } catch {}
  return `PostgreSQL ${server_version}, MariaDB ${v.replace(/-.*/, '')}, Redis ${redisVersion}, SQLite ${sqlite} (better-sqlite3)`;
}

const reports: WorkloadReport[] = [];
let exitCode = 0;
try {
  const header = [
    `# taskmill bench — ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `Machine: ${cpus().length} cores (${cpus()[0]?.model.trim()}), ${(totalmem() / 2 ** 30).toFixed(1)} GB RAM, Node ${process.version}; ${await versions()}.`,
    `Sizes: runs ${config.runs}, N (W1/W3) ${config.n.toLocaleString('en-US')}, W2 ${config.w2Tasks} tasks at ${config.w2Rate}/s, W4 ${config.w4N.toLocaleString('en-US')}, W5 ${config.w5Small.toLocaleString('en-US')} vs ${config.w5Large.toLocaleString('en-US')} pending (${config.w5Measure.toLocaleString('en-US')} timed), W6 ${config.w6N.toLocaleString('en-US')}, W7 ${config.w7N.toLocaleString('en-US')}, WRL ${config.wrlN.toLocaleString('en-US')} at ${config.wrlMax} per ${config.wrlPer} s, WK ${config.wkKeys.toLocaleString('en-US')} keys × ${config.wkPerKey}, WB ${config.wbN.toLocaleString('en-US')} retried while ${config.wbDrain.toLocaleString('en-US')} drain; concurrency ${config.concurrency}; batch enqueue ${config.chunk.toLocaleString('en-US')} per call.`,
    '',
    'Systems:',
    ...systems.map((s) => `- **${s.name}**: ${s.settings}`),
  ].join('\n');
  console.log(header + '\n');
  const section = (r: WorkloadReport) => `## ${r.title}\n\n${r.method}\n\n${r.table}\n${(r.notes ?? []).map((n) => `\n${n}`).join('')}`;
  const save = (tail: string[]) => {
    mkdirSync(new URL('../results/', import.meta.url), { recursive: true });
    writeFileSync(new URL('../results/latest.md', import.meta.url), [header, ...reports.map(section), ...tail].join('\n\n'));
  };
  const print = (r: WorkloadReport) => {
    reports.push(r);
    console.log(section(r));
    save(['(run in progress)']); // an interrupted run keeps the workloads it finished
  };
  let w1Report: WorkloadReport | undefined;
  let w2IdleReport: WorkloadReport | undefined;
  for (const id of ['W4', 'W2', 'W1', 'W3', 'W7', 'W5', 'W6', 'WR', 'WRL', 'WK', 'WB']) {
    if (!config.workloads.includes(id)) continue;
    log(`${id} starting`);
    if (id === 'W1') {
      const report = await w1(ctx);
      w1Report = report;
      print(report);
    } else if (id === 'W2') {
      print(await w2(ctx));
      print(await w2Local(ctx));
      w2IdleReport = await w2IdleCost(ctx);
      print(w2IdleReport);
    }
    else if (id === 'W3') print(await w3(ctx, w1Report));
    else if (id === 'W4') print(await w4(ctx));
    else if (id === 'W5') print(await w5(ctx));
    else if (id === 'W6') print(await w6(ctx));
    else if (id === 'W7') print(await w7(ctx));
    else if (id === 'WR') print(await wr(ctx));
    else if (id === 'WRL') print(await wrl(ctx, w2IdleReport));
    else if (id === 'WK') print(await wk(ctx, w1Report));
    else if (id === 'WB') print(await wb(ctx));
  }
  const minutes = ((Date.now() - started.getTime()) / 60_000).toFixed(1);
  const targets = `## Targets, checked against this run\n\n${targetsTable(reports)}\n`;
  console.log(targets);
  const footer = ctx.failures.length
    ? `\n**FAILURES (${ctx.failures.length})**\n\n${ctx.failures.map((f) => `- ${f.split('\n')[0]}`).join('\n')}\n`
    : `\nNo failures: every task of the drains (${['W1', 'W3', 'W6', 'W7', 'WR', 'WRL', 'WK', 'WB'].filter((w) => config.workloads.includes(w)).join(', ') || 'none run'}) ran exactly once and was completed in its store${['WRL', 'WK'].some((w) => config.workloads.includes(w)) ? ', and no rate or per-key limit was exceeded' : ''}. Whole run: ${minutes} min.\n`;
  console.log(footer);
  save([targets, footer]);
  if (ctx.failures.length) exitCode = 1;
} catch (error) {
  log(`bench aborted: ${(error as Error).stack ?? error}`);
  exitCode = 1;
} finally {
  await admin.unsafe(`DROP DATABASE IF EXISTS ${benchDb} WITH (FORCE)`).catch((e) => log(`could not drop ${benchDb}: ${e.message}`));
  await admin.end({ timeout: 1 });
}
process.exit(exitCode);

