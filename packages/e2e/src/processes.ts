import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ProcessConnection } from './backends.js';
import type { EnqueueArgs } from './enqueue-process.js';

const SCRIPT = fileURLToPath(new URL('./worker-process.ts', import.meta.url));
const SKEW_PRELOAD = fileURLToPath(new URL('./skew-clock.mjs', import.meta.url));

/** A spawned worker process. */
export interface WorkerProcess {
  child: ChildProcess;
  worker_id: string;
  pid: number;
  /** Ask it to stop gracefully and wait for it to exit. */
  stop(): Promise<void>;
}

/** Spawn a worker process running TaskManager on `connection`; resolves once it has started. */
export function spawnWorker(options: {
  connection: ProcessConnection;
  sideEffects: string;
  managerOptions?: Record<string, unknown>;
  work_ms?: number;
  disableNotify?: boolean;
  clusterLimit?: number;
  /** Register `flow` with these flow-control handler options (see worker-process.ts). */
  flow?: Record<string, unknown>;
  /** Shift the process's `Date.now()` by this many ms (a host whose clock is off). */
  clockSkewMs?: number;
  /** The first handler run blocks the process's event loop this many ms. */
  blockFirstMs?: number;
  /** The store's idle-in-transaction limit in the process, instead of the one derived from its lease. */
  idleTransactionTimeoutMs?: number;
  /** Register `spin` (a busy wait of `payload.ms`) isolated in a worker thread, or in-process. */
  spin?: 'isolated' | 'in-process';
  /** Register the dead-letter handlers `doomed` and `doomed-now` (see worker-process.ts). */
  deadLetters?: boolean;
}): Promise<WorkerProcess> {
  const skew = options.clockSkewMs ?? 0;
  const child = fork(
    SCRIPT,
    [JSON.stringify({ connection: options.connection, sideEffects: options.sideEffects, options: options.managerOptions ?? {}, work_ms: options.work_ms ?? 0, disable_notify: options.disableNotify ?? false, cluster_limit: options.clusterLimit, flow: options.flow, block_first_ms: options.blockFirstMs, idle_transaction_timeout_ms: options.idleTransactionTimeoutMs, spin: options.spin, dead_letters: options.deadLetters })],
    {
      execArgv: ['--conditions=@taskmill/source', '--import', 'tsx', ...(skew !== 0 ? ['--import', SKEW_PRELOAD] : [])],
      env: { ...process.env, TASKMILL_TEST_CLOCK_SKEW_MS: String(skew) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('worker process did not start within 60 s')), 60_000);
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`worker process exited early with code ${code}`)));
    child.on('message', (msg: { type: string; worker_id: string; pid: number }) => {
      if (msg.type !== 'ready') return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve({
        child,
        worker_id: msg.worker_id,
        pid: msg.pid,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            child.once('exit', () => done());
            child.send({ type: 'stop' });
          }),
      });
    });
  });
}

const ENQUEUE_SCRIPT = fileURLToPath(new URL('./enqueue-process.ts', import.meta.url));

/** A spawned enqueuing process (see enqueue-process.ts), set up and waiting for `go()`. */
export interface EnqueueProcess {
  /** Start enqueuing; resolves to the ids it got, in order. */
  go(): Promise<number[]>;
  kill(): void;
}

/** Spawn a process that enqueues `count` tasks of `name` with one `unique_key` when told to. */
export function spawnEnqueuer(options: EnqueueArgs): Promise<EnqueueProcess> {
  const child = fork(ENQUEUE_SCRIPT, [JSON.stringify(options)], {
    execArgv: ['--conditions=@taskmill/source', '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const outcome = new Promise<number[]>((resolve, reject) => {
    child.on('message', (msg: { type: string; ids?: number[]; error?: string }) => {
      if (msg.type === 'done') resolve(msg.ids!);
      if (msg.type === 'failed') reject(new Error(`enqueue process failed: ${msg.error}`));
    });
    child.once('exit', (code) => reject(new Error(`enqueue process exited with code ${code} before reporting`)));
  });
  outcome.catch(() => undefined);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('enqueue process did not start within 60 s')), 60_000);
    child.once('error', reject);
    child.on('message', (msg: { type: string }) => {
      if (msg.type !== 'ready') return;
      clearTimeout(timer);
      resolve({
        go() {
          child.send({ type: 'go' });
          return outcome;
        },
        kill: () => child.kill('SIGKILL'),
      });
    });
  });
}

const EVENTS_SCRIPT = fileURLToPath(new URL('./events-process.ts', import.meta.url));

/** A spawned reader process of events-process.ts (a result waiter or an event subscriber), ready. */
export interface EventsProcess {
  child: ChildProcess;
  /** Waiter: its outcomes once every wait settled. */
  outcomes: Promise<Array<{ id: unknown; value?: unknown; code?: string; message?: string }>>;
  /** Ask a subscriber to close and exit; resolves at exit. */
  stop(): Promise<void>;
  /** SIGKILL; resolves at exit. */
  kill(): Promise<void>;
}

/** Spawn a waiter or a subscriber (see events-process.ts); resolves once it is set up. */
export function spawnEventsProcess(args: Record<string, unknown>): Promise<EventsProcess> {
  const child = fork(EVENTS_SCRIPT, [JSON.stringify(args)], {
    execArgv: ['--conditions=@taskmill/source', '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const outcomes = new Promise<Array<{ id: unknown; value?: unknown; code?: string }>>((resolve, reject) => {
    child.on('message', (msg: { type: string; outcomes?: never }) => {
      if (msg.type === 'done') resolve(msg.outcomes!);
    });
    void exited.then(() => reject(new Error('events process exited before reporting')));
  });
  outcomes.catch(() => undefined);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('events process did not start within 60 s')), 60_000);
    child.once('error', reject);
    void exited.then(() => reject(new Error(`events process exited early with code ${child.exitCode}`)));
    child.on('message', (msg: { type: string }) => {
      if (msg.type !== 'ready') return;
      clearTimeout(timer);
      resolve({
        child,
        outcomes,
        stop() {
          if (child.exitCode !== null || child.signalCode !== null) return exited;
          child.send({ type: 'stop' });
          return exited;
        },
        kill() {
          if (child.exitCode !== null || child.signalCode !== null) return exited;
          child.kill('SIGKILL');
          return exited;
        },
      });
    });
  });
}
