import postgres from 'postgres';
import { statementCounter } from '../systems/types.js';
import { markdownTable } from '../table.js';
import type { BenchContext, WorkloadReport } from './context.js';
import { checkExactlyOnce, drain, enqueueAll, sleep, withPlace } from './drain.js';
import { eachRun, ratioCells, spreadCells } from './runs.js';

/**
 * W7 write cost per task on PostgreSQL: N tasks enqueued with the batch API and drained by one
 * worker process, between two reads of pg_current_wal_lsn(); WAL bytes ÷ N. Statements are
 * counted at the driver (postgres-js's `debug` hook for taskmill, node-postgres's
 * Client#query for graphile-worker and pg-boss) in the producer and the worker, background
 * polling included; transactions are the bench database's xact_commit delta.
 *
 * WAL is cluster-wide: anything else writing to the server in the window is counted too, so this
 * is only meaningful on a server the bench has to itself.
 */
export async function w7(ctx: BenchContext): Promise<WorkloadReport> {
  const { w7N, chunk } = ctx.config;
  const systems = ctx.systems.filter((s) => s.postgres && !s.tuned);
  const monitor = postgres(ctx.config.pgUrl, { max: 1, onnotice: () => {} });
  const probe = async () => {
    const [row] = await monitor`SELECT pg_current_wal_lsn()::text AS lsn,
      (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database())::bigint AS xacts`;
    return { lsn: row.lsn as string, xacts: Number(row.xacts) };
  };
  try {
    const runs = await eachRun(ctx, 'W7', systems, (system) =>
      withPlace(ctx, system, async (place) => {
        await sleep(500); // let the previous run's stats and WAL settle
        const before = await probe();
        const producerStatements0 = statementCounter.count;
        const producer = await system.producer(place, { countStatements: true });
        try {
          await enqueueAll(producer, w7N, chunk);
        } finally {
          await producer.close();
        }
        const producerStatements = statementCounter.count - producerStatements0;
        const { results } = await drain(ctx, system, place, w7N, { countStatements: true });
        await sleep(1000); // closed backends flush their statistics on exit
        const after = await probe();
        await checkExactlyOnce(ctx, 'W7', system, place, w7N, results);
        const [{ bytes }] = await monitor`SELECT pg_wal_lsn_diff(${after.lsn}::pg_lsn, ${before.lsn}::pg_lsn)::bigint AS bytes`;
        const workerStatements = results.reduce((sum, r) => sum + r.statements, 0);
        return {
          wal: Number(bytes) / w7N,
          statements: (producerStatements + workerStatements) / w7N,
          xacts: (after.xacts - before.xacts) / w7N,
        };
      }),
    );
    const peers = systems.filter((s) => s.family === 'peer');
    const of = (key: 'wal' | 'statements' | 'xacts') => (name: string) => runs.get(name)!.map((r) => r[key]);
    return {
      id: 'W7',
      metrics: Object.fromEntries(systems.map((s) => [s.name, { wal: of('wal')(s.name) }])),
      title: `W7 write cost per completed task on PostgreSQL (N = ${w7N.toLocaleString('en-US')}: batch enqueue + drain)`,
      method: `${w7N.toLocaleString('en-US')} tasks enqueued with the batch API and drained by one worker process; WAL bytes from pg_current_wal_lsn() before the enqueue and after the drain, ÷ N; statements counted at the driver in producer and worker (polling and heartbeats included) ÷ N; transactions from pg_stat_database.xact_commit of the bench's own database ÷ N. pg-boss's later archiving of completed jobs (maintenance) and graphile-worker's deletes are as they fall inside the window. Ratio columns compare WAL bytes (lower is better).`,
      table: markdownTable(
        ['system', 'WAL bytes/task (median)', 'min–max', 'statements/task', 'min–max', 'transactions/task', 'min–max', ...peers.map((p) => `WAL taskmill ÷ ${p.name}`)],
        systems.map((s) => [
          s.name,
          ...spreadCells(of('wal')(s.name), 0),
          ...spreadCells(of('statements')(s.name), 2),
          ...spreadCells(of('xacts')(s.name), 2),
          ...ratioCells(s, peers, of('wal')),
        ]),
      ),
    };
  } finally {
    await monitor.end({ timeout: 1 });
  }
}
