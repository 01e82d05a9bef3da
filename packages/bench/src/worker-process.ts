import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildArgs, ChildResult } from './worker-child.js';

const SCRIPT = fileURLToPath(new URL('./worker-child.ts', import.meta.url));

/** A forked worker process (see worker-child.ts), loaded and waiting for `go`. */
export interface WorkerProcess {
  /** Handlers run so far, as last reported (every 100 ms). */
  readonly count: number;
  /** Statements counted so far (with `countStatements`), as last reported. */
  readonly statements: number;
  /** Start the worker; resolves once it is running. */
  go(): Promise<void>;
  /** Stop it gracefully and collect what it saw; the process exits. */
  stop(): Promise<ChildResult>;
}

/** Fork a worker process running `args.system` on `args.place`; resolves once it is loaded. */
export function spawnWorker(args: ChildArgs): Promise<WorkerProcess> {
  const child: ChildProcess = fork(SCRIPT, [JSON.stringify(args)], {
    execArgv: ['--conditions=@taskmill/source', '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let count = 0;
  let statements = 0;
  let exited: Error | null = null;
  const waiters = new Map<string, (msg: any) => void>();
  child.on('message', (msg: { type: string; count?: number; statements?: number }) => {
    if (msg.type === 'progress') {
      count = msg.count ?? count;
      statements = msg.statements ?? statements;
    }
    if (msg.type === 'result') count = (msg as ChildResult).count;
    waiters.get(msg.type)?.(msg);
  });
  const next = (type: string, timeoutMs: number): Promise<any> =>
    new Promise((resolve, reject) => {
      if (exited) return reject(exited);
      const timer = setTimeout(() => reject(new Error(`${args.system} worker process: no "${type}" within ${timeoutMs} ms`)), timeoutMs);
      const onExit = (code: number | null) => reject(new Error(`${args.system} worker process exited with code ${code} before "${type}"`));
      child.once('exit', onExit);
      waiters.set(type, (msg) => {
        clearTimeout(timer);
        child.off('exit', onExit);
        waiters.delete(type);
        resolve(msg);
      });
    });
  child.once('exit', (code) => (exited = new Error(`${args.system} worker process exited with code ${code}`)));
  return next('ready', 60_000).then(() => ({
    get count() {
      return count;
    },
    get statements() {
      return statements;
    },
    async go() {
      const started = next('started', 60_000);
      child.send({ type: 'go' });
      await started;
    },
    async stop() {
      const result = next('result', 120_000);
      child.send({ type: 'stop' });
      const r = (await result) as ChildResult;
      await new Promise<void>((done) => (child.exitCode !== null ? done() : child.once('exit', () => done())));
      return r;
    },
  }));
}

/** Resolve once `done()` holds, checking every 20 ms; reject after `timeoutMs`. */
export async function until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
