import postgres from 'postgres';
import { statementCounter } from '../systems/types.js';
import { markdownTable } from '../table.js';
import type { BenchContext, WorkloadReport } from './context.js';
import { checkExactlyOnce, drain, enqueueAll, sleep, withPlace } from './drain.js';
import { eachRun, ratioCells, spreadCells } from './runs.js';
import { walRecords, type WalRange } from './wal-records.js';

/**
 * W7 write cost per task on PostgreSQL: N tasks enqueued with the batch API and drained by one
 * worker process, between two reads of pg_current_wal_lsn(); WAL bytes ÷ N. Statements are
 * counted at the driver (postgres-js's `debug` hook for taskmill, node-postgres's
 * Client#query for graphile-worker and pg-boss) in the producer and the worker, background
 * polling included; transactions are the bench database's xact_commit delta.
 *
 * WAL is cluster-wide: anything else writing to the server in the window is counted too, so this
 * is only meaningful on a server the bench has to itself. With BENCH_PG_WALDIR the run's WAL is also
 * read back with pg_waldump and only the bench database's records are counted (wal-records.ts),
 * split into the enqueue and the drain, with a breakdown by record kind and relation.
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
  const walDir = ctx.config.pgWalDir;
  const [{ oid: dbOid }] = await monitor`SELECT oid::int AS oid FROM pg_database WHERE datname = current_database()`;
  /** relfilenode → name of every relation of a schema, its TOAST table and index included */
  const relations = async (schema: string) => {
    const rows = await monitor`
      SELECT c.relfilenode::text AS node, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ${schema} AND c.relfilenode <> 0
      UNION ALL
      SELECT x.relfilenode::text, c.relname || ' ' || x.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_class t ON t.oid = c.reltoastrelid JOIN pg_index i ON i.indrelid = t.oid JOIN pg_class x ON x.oid IN (t.oid, i.indexrelid)
      WHERE n.nspname = ${schema}`;
    return new Map(rows.map((r) => [r.node as string, r.name as string]));
  };
  const own = new Map<string, { enqueue: WalRange; drain: WalRange }>();
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
        const enqueued = await probe();
        const { results } = await drain(ctx, system, place, w7N, { countStatements: true });
        await sleep(1000); // closed backends flush their statistics on exit
        const after = await probe();
        await checkExactlyOnce(ctx, 'W7', system, place, w7N, results);
        const [{ bytes }] = await monitor`SELECT pg_wal_lsn_diff(${after.lsn}::pg_lsn, ${before.lsn}::pg_lsn)::bigint AS bytes`;
        const workerStatements = results.reduce((sum, r) => sum + r.statements, 0);
        let mine: { ownWal?: number; ownEnqueue?: number; ownDrain?: number; ownFpi?: number } = {};
        if (walDir) {
          const names = await relations((place as { schema: string }).schema);
          const enqueue = await walRecords(walDir, before.lsn, enqueued.lsn, dbOid, names);
          const drained = await walRecords(walDir, enqueued.lsn, after.lsn, dbOid, names);
          own.set(system.name, { enqueue, drain: drained });
          mine = {
            ownWal: (enqueue.bytes + drained.bytes) / w7N,
            ownEnqueue: enqueue.bytes / w7N,
            ownDrain: drained.bytes / w7N,
            ownFpi: (enqueue.fpiBytes + drained.fpiBytes) / w7N,
          };
        }
        return {
          ...mine,
          wal: Number(bytes) / w7N,
          statements: (producerStatements + workerStatements) / w7N,
          xacts: (after.xacts - before.xacts) / w7N,
        };
      }),
    );
    const peers = systems.filter((s) => s.family === 'peer');
    type Key = 'wal' | 'statements' | 'xacts' | 'ownWal' | 'ownEnqueue' | 'ownDrain' | 'ownFpi';
    const of = (key: Key) => (name: string) => runs.get(name)!.flatMap((r) => (r[key] === undefined ? [] : [r[key]!]));
    const ownTable = walDir
      ? markdownTable(
          ['system', 'own WAL bytes/task (median)', 'min–max', 'enqueue', 'drain', 'of which full-page images', ...peers.map((p) => `own WAL taskmill ÷ ${p.name}`)],
          systems.map((s) => [
            s.name,
            ...spreadCells(of('ownWal')(s.name), 0),
            spreadCells(of('ownEnqueue')(s.name), 0)[0],
            spreadCells(of('ownDrain')(s.name), 0)[0],
            spreadCells(of('ownFpi')(s.name), 0)[0],
            ...ratioCells(s, peers, of('ownWal')),
          ]),
        )
      : null;
    const breakdown = [...own].map(([name, { enqueue, drain: drained }]) => {
      const rows = (phase: string, range: WalRange) =>
        range.kinds.map((k) => [phase, k.kind, k.relation || '—', (k.records / w7N).toFixed(2), (k.bytes / w7N).toFixed(1), (k.fpiBytes / w7N).toFixed(1)]);
      return `\n${name}'s own WAL records per task (last run, pg_waldump):\n\n${markdownTable(
        ['phase', 'record', 'relation', 'records/task', 'bytes/task', 'of which images'],
        [...rows('enqueue', enqueue), ...rows('drain', drained)],
      )}`;
    });
    return {
      id: 'W7',
      notes: ownTable
        ? [`Only the bench database's WAL records (pg_waldump over the same ranges; other sessions' writes left out):\n\n${ownTable}`, ...breakdown]
        : undefined,
      metrics: Object.fromEntries(systems.map((s) => [s.name, { wal: of('wal')(s.name), ...(walDir ? { ownWal: of('ownWal')(s.name) } : {}) }])),
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
