/*
 * An enqueuing process for the unique-task and schedule races (test/unique-tasks.test.ts, test/debounce.test.ts,
 * test/schedules.test.ts).
 * Spawned with IPC by src/processes.ts (spawnEnqueuer): it sets up a TaskManager (no worker), says
 * `ready`, and on `go` enqueues `count` tasks of `name` with the same `unique_key` (and `options`,
 * e.g. a debounce), payload `{from: pid, i}`, as fast as it can, then sends back the ids it got and exits.
 */
import { TaskManager } from '@taskmill/core';
import type { ProcessConnection } from './backends.js';

/** What {@link spawnEnqueuer} (processes.ts) passes to this process. */
export interface EnqueueArgs {
  connection: ProcessConnection;
  name: string;
  key: string;
  count: number;
  options?: Record<string, unknown>;
  /** Call `schedule(name, key, {...schedule, payload})` instead of `async` (test/schedules.test.ts); the ids are the schedule's task ids. */
  schedule?: Record<string, unknown>;
}

const args = JSON.parse(process.argv[2]) as EnqueueArgs;

async function connectionOf(c: ProcessConnection) {
  if (c.kind === 'string') return c.url;
  const { createPostgresStore } = await import('@taskmill/store-postgres');
  return createPostgresStore({ url: c.url, schema: c.schema });
}

const tm = new TaskManager({ dbConnection: await connectionOf(args.connection) });
tm.use(args.name, () => null);
await tm.setup();
process.send!({ type: 'ready', pid: process.pid });
process.on('message', async (msg: { type: string }) => {
  if (msg.type !== 'go') return;
  const ids: number[] = [];
  try {
    for (let i = 0; i < args.count; i++) {
      const payload = { from: process.pid, i };
      if (args.schedule) ids.push((await tm.schedule(args.name, args.key, { ...args.schedule, payload })).task_id);
      else ids.push(await tm.async(args.name, payload, { ...args.options, unique_key: args.key }));
    }
    process.send!({ type: 'done', ids });
  } catch (error) {
    process.send!({ type: 'failed', error: `${(error as { code?: string }).code ?? ''} ${(error as Error).message}` });
  } finally {
    await tm.stop();
    process.disconnect();
  }
});
