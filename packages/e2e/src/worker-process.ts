/*
 * A worker process for the multi-process tests. Spawned with IPC by src/processes.ts; it builds a
 * TaskManager on the database it is told about, records each handler run as one line
 * `<task id>` in its own side-effect file, and stops when the parent sends `stop`.
 */
import { appendFileSync } from 'node:fs';
import { sessionLimitsForLease } from '@taskmill/contracts';
import { PermanentError, TaskManager } from '@taskmill/core';
import type { ProcessConnection } from './backends.js';

interface WorkerArgs {
  connection: ProcessConnection;
  sideEffects: string;
  options: Record<string, unknown>;
  /** Milliseconds each handler run takes. */
  work_ms: number;
  /** Open the store itself with this idle-in-transaction limit instead of the one the manager derives from its lease. */
  idle_transaction_timeout_ms?: number;
  /** The first `count` handler blocks the event loop (a synchronous busy wait) this many ms, as a CPU-heavy handler would. */
  block_first_ms?: number;
  /** Hide the store's LISTEN/NOTIFY so the worker falls back to polling (benchmarks). */
  disable_notify?: boolean;
  /** Register `limited` with this `cluster_max_concurrent_tasks`; it logs `start|end <id> <ms>` to `<side effects>.spans`. */
  cluster_limit?: number;
  /**
   * Register `flow` with these flow-control options; it logs `start|end <id> <ms> <key>` to
   * `<side effects>.spans` (handler entry and exit on this host's clock).
   */
  flow?: Record<string, unknown>;
  /**
   * Register `spin` (busy-waits `payload.ms`, see isolated/spin.mjs): as an isolated handler in a
   * worker thread, or the same function in-process (to see the test fail without isolation).
   */
  spin?: 'isolated' | 'in-process';
  /**
   * Register `doomed` (hangs until the process dies) and `doomed-now` (throws a `PermanentError`
   * after `work_ms`), both dead-lettering to `doomed-dead`; each logs `<name>:<id>` on entry.
   */
  dead_letters?: boolean;
}

const args = JSON.parse(process.argv[2]) as WorkerArgs;

async function connectionOf(c: ProcessConnection) {
  const idle = args.idle_transaction_timeout_ms;
  if (c.kind === 'string' && idle !== undefined && c.url.startsWith('mysql:')) {
    const { createMysqlStore } = await import('@taskmill/store-mysql');
    return createMysqlStore({ url: c.url, idle_transaction_timeout_ms: idle });
  }
  if (c.kind === 'string') return c.url;
  const { createPostgresStore } = await import('@taskmill/store-postgres');
  // the session limits a TaskManager asks for when it opens a store from a URL itself
  const lease = Number(args.options.worker_heartbeat_timeout ?? 30_000);
  return createPostgresStore({ url: c.url, schema: c.schema, ...sessionLimitsForLease(lease), ...(idle !== undefined ? { idle_transaction_timeout_ms: idle } : {}) });
}

const connected = await connectionOf(args.connection);
const dbConnection = args.disable_notify && typeof connected !== 'string' ? withoutNotify(connected) : connected;

/** The same store, minus its cross-process wake-ups. */
function withoutNotify<S extends object>(store: S): S {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'capabilities') return { ...(target as { capabilities: object }).capabilities, notify: false };
      if (prop === 'listen') return undefined;
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
// every error the loops report goes to `<side effects>.errors`, so tests can assert on them
const onError = (error: unknown, where: string) => {
  const code = (error as { code?: string }).code ?? 'uncoded';
  appendFileSync(`${args.sideEffects}.errors`, `${where}\t${code}\t${String((error as Error).message ?? error).replace(/\s+/g, ' ')}\n`);
};
const tm = new TaskManager({ dbConnection, ...args.options, onError });
let blocked = false;
tm.use('count', async (task) => {
  if (args.block_first_ms && !blocked) {
    blocked = true;
    const until = performance.now() + args.block_first_ms;
    while (performance.now() < until); // no timer, heartbeat or I/O runs meanwhile
  }
  if (args.work_ms > 0) await new Promise((r) => setTimeout(r, args.work_ms));
  appendFileSync(args.sideEffects, `${task.id}\n`);
  return { by: process.pid };
});
// fails its first attempt, then succeeds: for retry timing across processes
tm.use('flaky', (task) => {
  appendFileSync(args.sideEffects, `flaky:${task.id}:${task.attempt}\n`);
  if (task.attempt === 1) throw new Error('first attempt fails');
  return { by: process.pid };
});
// a workflow parent for the fan-out test: N children, then report how many results came back
tm.use('fanout', (task, next) => {
  const { children } = task.payload as { children: number };
  if (task.stage === 0) return next(Array.from({ length: children }, (_, i) => ({ name: 'count', payload: { i } })));
  appendFileSync(args.sideEffects, `parent:${task.id}\n`);
  return { results: (task.result as unknown[]).length };
});
// durable sleep across processes: sleeps `payload.seconds` at stage 0, logs `sleeper:<id>:<stage>:<ms>` on each run
tm.use('sleeper', (task) => {
  appendFileSync(args.sideEffects, `sleeper:${task.id}:${task.stage}:${Date.now()}\n`);
  if (task.stage === 0) return task.sleep((task.payload as { seconds: number }).seconds);
  return { woke_by: process.pid };
});
if (args.cluster_limit !== undefined) {
  tm.use('limited', {
    handler: async (task) => {
      appendFileSync(`${args.sideEffects}.spans`, `start ${task.id} ${Date.now()}\n`);
      await new Promise((r) => setTimeout(r, args.work_ms));
      appendFileSync(`${args.sideEffects}.spans`, `end ${task.id} ${Date.now()}\n`);
      return null;
    },
    cluster_max_concurrent_tasks: args.cluster_limit,
  });
}
if (args.flow !== undefined) {
  tm.use('flow', {
    handler: async (task) => {
      const key = task.concurrency_key ?? '-';
      appendFileSync(`${args.sideEffects}.spans`, `start ${task.id} ${Date.now()} ${key}\n`);
      if (args.work_ms > 0) await new Promise((r) => setTimeout(r, args.work_ms));
      appendFileSync(`${args.sideEffects}.spans`, `end ${task.id} ${Date.now()} ${key}\n`);
      return null;
    },
    ...args.flow,
  });
}
if (args.spin !== undefined) {
  const module = new URL('./isolated/spin.mjs', import.meta.url);
  if (args.spin === 'isolated') tm.use('spin', { module, isolate: 'thread' });
  else tm.use('spin', (await import(module.href)).default);
}
if (args.dead_letters) {
  tm.use('doomed', {
    handler: async (task) => {
      appendFileSync(args.sideEffects, `doomed:${task.id}\n`);
      await new Promise(() => undefined); // until the process is killed
    },
    dead_letter: 'doomed-dead',
    max_retries: 1,
  });
  tm.use('doomed-now', {
    handler: async (task) => {
      appendFileSync(args.sideEffects, `doomed-now:${task.id}\n`);
      if (args.work_ms > 0) await new Promise((r) => setTimeout(r, args.work_ms));
      throw new PermanentError(`task ${task.id} cannot succeed`);
    },
    dead_letter: 'doomed-dead',
  });
}
await tm.start();
process.send?.({ type: 'ready', worker_id: tm.options.worker_id, pid: process.pid });
process.on('message', async (msg: { type: string }) => {
  if (msg.type !== 'stop') return;
  await tm.stop();
  if (typeof dbConnection !== 'string') await dbConnection.close();
  process.send?.({ type: 'stopped' });
  process.exit(0);
});
