import { fmt } from '../stats.js';
import { markdownTable } from '../table.js';
import { spawnWorker, type WorkerProcess } from '../worker-process.js';
import type { BenchContext, WorkloadReport } from './context.js';
import { sleep, withPlace } from './drain.js';
import { eachRun } from './runs.js';

const SECONDS = 10;
const SETTLE_MS = 2000;

/** What W2 idle cost counts, described once for its table and WRL's. */
export const IDLE_COUNTING = `${SECONDS} s after ${SETTLE_MS / 1000} s of settling; SQL statements counted at the driver (better-sqlite3, mysql2, postgres-js, node-postgres)`;

/**
 * Statements per second a started worker process (spawned with `countStatements`) sends over
 * 10 s, after 2 s of settling.
 */
export async function statementsPerSecond(worker: WorkerProcess): Promise<number> {
  await sleep(SETTLE_MS);
  const s0 = worker.statements;
  await sleep(SECONDS * 1000);
  return (worker.statements - s0) / SECONDS;
}

/**
 * The price of W2's wake-ups: statements (Redis commands for BullMQ) per second that an idle
 * worker process sends to its server, counted at the driver over 10 s after 2 s of settling.
 * taskmill-sqlite has no server: its count is of in-process statements on the database file.
 */
export async function w2IdleCost(ctx: BenchContext): Promise<WorkloadReport> {
  const systems = ctx.systems.filter((s) => !s.tuned);
  const runs = await eachRun(
    ctx,
    'W2 idle cost',
    systems,
    (system) =>
      withPlace(ctx, system, async (place) => {
        const worker = await spawnWorker({ system: system.name, place, concurrency: ctx.config.concurrency, countStatements: true });
        try {
          await worker.go();
          return await statementsPerSecond(worker);
        } finally {
          await worker.stop();
        }
      }),
    1,
  );
  return {
    id: 'W2c',
    metrics: Object.fromEntries(systems.map((s) => [s.name, { perSecond: runs.get(s.name)! }])),
    title: `W2 idle cost: statements per second sent by an idle worker process (${SECONDS} s, one run)`,
    method: `A worker process at concurrency ${ctx.config.concurrency} with nothing to do, ${IDLE_COUNTING}, Redis commands for BullMQ (its blocking wait is one command per wait). Heartbeats, polls and maintenance included. SQLite has no server: its figure counts the worker's statements on the database file (in-process calls).`,
    table: markdownTable(
      ['system', 'statements/s'],
      systems.map((s) => [s.name, runs.get(s.name)!.length ? fmt(runs.get(s.name)![0], 1) : '—']),
    ),
  };
}
