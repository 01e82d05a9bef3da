import { Queue, Worker } from 'bullmq';
import { countRedisCommands } from './driver-counters.js';
import type { JobSystem, Payload } from './types.js';

/*
 * BullMQ 6.7.0 on the local Redis (ioredis 5): a Worker at the workloads' concurrency, jobs added
 * with `addBulk` (batch) and `add` (single). Defaults otherwise: completed jobs are kept, as
 * taskmill keeps its rows. Each run gets its own queue name and obliterates it afterwards.
 */

const TASK = 'noop';

export function bullmqSystem(redisUrl: string): JobSystem {
  const url = new URL(redisUrl);
  const connection = { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null };
  return {
    name: 'bullmq',
    settings: 'BullMQ 6.7.0 + ioredis 5.11, Redis 7 (no persistence), `concurrency` 10, defaults otherwise',
    family: 'peer',
    postgres: false,

    async create(runId) {
      return { queue: `bench_${runId}` };
    },

    async destroy(place) {
      const queue = new Queue(place.queue, { connection });
      try {
        await queue.obliterate({ force: true });
      } finally {
        await queue.close();
      }
    },

    async producer(place) {
      const queue = new Queue(place.queue, { connection });
      return {
        async enqueueMany(payloads: Payload[]) {
          await queue.addBulk(payloads.map((data) => ({ name: TASK, data })));
        },
        async enqueue(payload: Payload) {
          await queue.add(TASK, payload);
        },
        close: () => queue.close(),
      };
    },

    async worker(place, options) {
      if (options.countStatements) countRedisCommands();
      const worker = new Worker(
        place.queue,
        async (job) => {
          options.onJob(job.data as Payload);
        },
        { connection, concurrency: options.concurrency },
      );
      worker.on('error', (error) => console.error('[bullmq]', error.message));
      await worker.waitUntilReady();
      return { stop: () => worker.close() };
    },

    async unfinished(place) {
      const queue = new Queue(place.queue, { connection });
      try {
        const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed', 'wait');
        return Object.values(counts).reduce((a, b) => a + b, 0);
      } finally {
        await queue.close();
      }
    },
  };
}
