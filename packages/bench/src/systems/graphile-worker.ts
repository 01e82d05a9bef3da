import { Logger, makeWorkerUtils, run, type WorkerUtils } from 'graphile-worker';
import { dropPgSchema, withPgClient } from './pg-client.js';
import { countPgStatements } from './pg-counter.js';
import type { JobSystem, Payload } from './types.js';

/*
 * graphile-worker 0.17.3 (the newest that runs on Node 20), as its docs show it: `run()` with a
 * task list, jobs added with `addJobs` / `addJob` from WorkerUtils. Two variants: its defaults,
 * and its documented batching (https://worker.graphile.org/docs/performance#batching):
 * `localQueue.size` 50 and `completeJobBatchDelay` 0. Info/debug logging (one line per job) is
 * dropped in both; warnings and errors are printed.
 */

const TASK = 'noop';

const quiet = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning') console.error(`[graphile-worker] ${message}`);
});

export function graphileSystem(variant: 'defaults' | 'batched', pgUrl: string): JobSystem {
  const preset = variant === 'batched' ? { worker: { localQueue: { size: 50 }, completeJobBatchDelay: 0 } } : undefined;
  const utils = (place: Record<string, string>): Promise<WorkerUtils> =>
    makeWorkerUtils({ connectionString: place.url, schema: place.schema, logger: quiet });
  return {
    name: variant === 'defaults' ? 'graphile-worker' : 'graphile-worker-batched',
    settings:
      variant === 'defaults'
        ? 'graphile-worker 0.17.3, defaults (pool 10, LISTEN/NOTIFY, pollInterval 2000 ms)'
        : 'graphile-worker 0.17.3, `preset.worker.localQueue.size` 50, `completeJobBatchDelay` 0',
    family: 'peer',
    postgres: true,

    async create(runId) {
      const place = { url: pgUrl, schema: `gw_${variant}_${runId}` };
      const u = await utils(place);
      try {
        await u.migrate();
      } finally {
        await u.release();
      }
      return place;
    },

    destroy: dropPgSchema,

    async producer(place, options) {
      if (options?.countStatements) countPgStatements();
      const u = await utils(place);
      return {
        async enqueueMany(payloads: Payload[]) {
          await u.addJobs(payloads.map((payload) => ({ identifier: TASK, payload })));
        },
        async enqueue(payload: Payload) {
          await u.addJob(TASK, payload);
        },
        close: async () => void (await u.release()),
      };
    },

    async worker(place, options) {
      if (options.countStatements) countPgStatements();
      const runner = await run({
        connectionString: place.url,
        schema: place.schema,
        concurrency: options.concurrency,
        noHandleSignals: true,
        logger: quiet,
        taskList: {
          [TASK]: async (payload) => {
            options.onJob(payload as Payload);
          },
        },
        ...(preset ? { preset } : {}),
      });
      return { stop: () => runner.stop() };
    },

    async unfinished(place) {
      // completed jobs are deleted; anything left in the jobs table did not complete
      const { rows } = await withPgClient(place.url, (client) => client.query(`SELECT COUNT(*)::int AS n FROM "${place.schema}"._private_jobs`));
      return rows[0].n as number;
    },
  };
}
