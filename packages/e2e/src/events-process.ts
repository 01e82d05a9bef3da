/*
 * A process for the results and event-subscription tests (test/results.test.ts,
 * test/event-subscriptions.test.ts). It never calls `start()`: it is no worker, only a reader.
 * - `waiter`: waits for the result of each `{id, timeout}` given and reports every outcome
 *   (`{id, value}` or `{id, code}`) over IPC, then exits.
 * - `subscriber`: subscribes (from `after`, or from the beginning) and, for each batch, appends
 *   one line per event (`<id> <late 0|1> <event_type> <task_id>`) to `log`, then writes the
 *   batch's cursor to `cursor` atomically (so a kill between the two redelivers, never loses). Runs until
 *   killed or told `stop`.
 */
import { appendFileSync, renameSync, writeFileSync } from 'node:fs';
import { TaskManager } from '@taskmill/core';
import type { ProcessConnection } from './backends.js';

type Args =
  | { mode: 'waiter'; connection: ProcessConnection; waits: { id: unknown; timeout?: number }[] }
  | { mode: 'subscriber'; connection: ProcessConnection; log: string; cursor: string; after?: string; filter?: Record<string, unknown> };

const args = JSON.parse(process.argv[2]) as Args;

async function connectionOf(c: ProcessConnection) {
  if (c.kind === 'string') return c.url;
  const { createPostgresStore } = await import('@taskmill/store-postgres');
  return createPostgresStore({ url: c.url, schema: c.schema });
}

const dbConnection = await connectionOf(args.connection);
const tm = new TaskManager({ dbConnection, poll_interval: 200, event_poll_interval: 50, onError: () => undefined });

if (args.mode === 'waiter') {
  await tm.setup();
  process.send?.({ type: 'ready' });
  const outcomes = await Promise.all(
    args.waits.map(({ id, timeout }) =>
      tm.result(id as number, timeout === undefined ? undefined : { timeout }).then(
        (value) => ({ id, value }),
        (error: { code?: string; message?: string }) => ({ id, code: error.code ?? 'uncoded', message: error.message }),
      ),
    ),
  );
  process.send?.({ type: 'done', outcomes });
  await tm.stop();
  if (typeof dbConnection !== 'string') await dbConnection.close();
  process.exit(0);
} else {
  const subscription = await tm.subscribe({ ...(args.filter ?? {}), ...(args.after ? { after: args.after } : { from: 'beginning' }) }, (batch) => {
    appendFileSync(args.log, batch.events.map((e) => `${e.id} ${e.late ? 1 : 0} ${e.event_type} ${e.task_id}\n`).join(''));
    // a SIGKILL between truncating and writing must not leave an empty cursor: write, then rename
    writeFileSync(`${args.cursor}.tmp`, batch.cursor);
    renameSync(`${args.cursor}.tmp`, args.cursor);
  });
  process.send?.({ type: 'ready', cursor: subscription.cursor });
  process.on('message', async (msg: { type: string }) => {
    if (msg.type !== 'stop') return;
    await subscription.close();
    await tm.stop();
    if (typeof dbConnection !== 'string') await dbConnection.close();
    process.exit(0);
  });
}
