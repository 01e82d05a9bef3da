import PgBoss from 'pg-boss';
import { dropPgSchema, withPgClient } from './pg-client.js';
import { countPgStatements } from './pg-counter.js';
import type { JobSystem, Payload } from './types.js';

/*
 * pg-boss 10.4.2 (the newest that runs on Node 20). Its docs: "Each call to work() will add a new
 * worker"; the default is 1 job every 2 seconds, and throughput comes from `batchSize` and more
 * workers. So: `concurrency` work() loops on the queue, each fetching up to BATCH jobs per poll,
 * polling every 0.5 s (the minimum `pollingIntervalSeconds`). Batch enqueue is `insert()`,
 * single enqueue `send()`. The producer instance runs no supervisor or scheduler; the worker
 * instance keeps pg-boss's defaults for maintenance.
 */

const TASK = 'noop';
const BATCH = Number(process.env.BENCH_PGBOSS_BATCH ?? 50);
const POLL_SECONDS = 0.5;

export function pgBossSystem(pgUrl: string): JobSystem {
  const boss = (place: Record<string, string>, role: 'producer' | 'worker') =>
    new PgBoss({
      connectionString: place.url,
      schema: place.schema,
      ...(role === 'producer' ? { supervise: false, schedule: false } : {}),
    });
  const started = async (b: PgBoss) => {
    b.on('error', (error) => console.error('[pg-boss]', error.message));
    await b.start();
    return b;
  };
  return {
    name: 'pg-boss',
    settings: `pg-boss 10.4.2, ${'`work()`'} × concurrency, each ${'`batchSize`'} ${BATCH}, ${'`pollingIntervalSeconds`'} ${POLL_SECONDS}`,
    family: 'peer',
    postgres: true,

    async create(runId) {
      const place = { url: pgUrl, schema: `pgboss_${runId}` };
      const b = await started(boss(place, 'producer'));
      try {
        await b.createQueue(TASK);
      } finally {
        await b.stop({ graceful: false, wait: true });
      }
      return place;
    },

    destroy: dropPgSchema,

    async producer(place, options) {
      if (options?.countStatements) countPgStatements();
      const b = await started(boss(place, 'producer'));
      return {
        async enqueueMany(payloads: Payload[]) {
          await b.insert(payloads.map((data) => ({ name: TASK, data })));
        },
        async enqueue(payload: Payload) {
          await b.send(TASK, payload);
        },
        close: () => b.stop({ graceful: false, wait: true }),
      };
    },

    async worker(place, options) {
      if (options.countStatements) countPgStatements();
      const b = await started(boss(place, 'worker'));
      for (let k = 0; k < options.concurrency; k++) {
        await b.work<Payload>(TASK, { batchSize: BATCH, pollingIntervalSeconds: POLL_SECONDS }, async (jobs) => {
          for (const job of jobs) options.onJob(job.data);
        });
      }
      return { stop: () => b.stop({ graceful: true, wait: true, timeout: 30_000 }) };
    },

    async unfinished(place) {
      const { rows } = await withPgClient(place.url, (client) =>
        client.query(`SELECT COUNT(*)::int AS n FROM "${place.schema}".job WHERE name = $1 AND state <> 'completed'`, [TASK]),
      );
      return rows[0].n as number;
    },
  };
}
