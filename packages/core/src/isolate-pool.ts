import { Worker } from 'node:worker_threads';
import { TaskTimeoutError } from '@taskmill/contracts';
import type { IsolateErrorData, IsolateToMain, MainToIsolate } from './isolate-protocol.js';
import { SignalWait, Sleep, SubTasks, Suspension, type SignalWaitOptions, type SleepOptions, type SuspensionOptions } from './suspension.js';
import type { AttemptState } from './task-context.js';
import type { TaskContext } from './types.js';

/**
 * How long a thread may run on after its attempt ended (timed out, paused, cancelled, recovered,
 * given up by stop()) before it is terminated and its slot freed. Shorter than the grace after
 * which an in-process handler is reported overdue: a thread can always be stopped, so it never is.
 */
export const ISOLATE_KILL_GRACE_MS = 500;

/*
 * The thread entry is compiled to dist/isolate-thread.js. Run from the sources (the workspace's
 * tests, with the `@taskmill/source` condition), this file is src/isolate-pool.ts and the entry is
 * taken from the build next to it: a worker thread does not inherit a TypeScript loader.
 */
const THREAD_ENTRY = import.meta.url.endsWith('.ts') ? new URL('../dist/isolate-thread.js', import.meta.url) : new URL('./isolate-thread.js', import.meta.url);

/** A thread of the pool and the attempt it runs, if any. */
interface Thread {
  readonly worker: Worker;
  /** Set while an attempt runs: called with how the thread ended when it exits mid-attempt. */
  onExit: ((code: number, uncaught: unknown) => void) | undefined;
  uncaught: unknown;
  exited: boolean;
}

/**
 * The worker threads of one isolated handler registration (docs/behaviour.md#isolated-handlers):
 * created on demand, one attempt at a time each, reused; a thread that exits, throws an uncaught
 * error or outlives its attempt is dropped (terminated if need be) and the next attempt gets a
 * fresh one. At most `size` idle threads are kept.
 */
export class IsolatePool {
  private readonly idle: Thread[] = [];
  private readonly all = new Set<Thread>();
  private retired = false;

  constructor(
    /** The handler module, as a `file:` URL. */
    readonly module: string,
    private readonly size: number,
    private readonly onError: (error: unknown, where: string) => void,
  ) {}

  /**
   * Run one attempt in a thread. Resolves to what the handler returned (a SubTasks or Suspension
   * rebuilt here), rejects with what it threw or why its thread died.
   */
  run(ctx: TaskContext, state: AttemptState): Promise<unknown> {
    const thread = this.idle.pop() ?? this.spawn();
    thread.worker.ref();
    return new Promise<unknown>((resolve, reject) => {
      let killTimer: NodeJS.Timeout | undefined;
      let killed = false;
      const signal = state.controller.signal;
      const post = (message: MainToIsolate) => thread.worker.postMessage(message);

      const onAbort = () => {
        post({ type: 'abort', reason: errorData(signal.reason) });
        killTimer = setTimeout(() => {
          killed = true;
          void thread.worker.terminate();
        }, ISOLATE_KILL_GRACE_MS);
      };
      const settle = (keep: boolean) => {
        clearTimeout(killTimer);
        signal.removeEventListener('abort', onAbort);
        thread.worker.off('message', onMessage);
        thread.onExit = undefined;
        this.release(thread, keep);
      };
      const onMessage = (message: IsolateToMain) => {
        if (message.type === 'note') {
          const write = (ctx[message.method] as (...args: unknown[]) => Promise<number>)(...message.args);
          write.then(
            (value) =>
              post({
                type: 'note-done',
                id: message.id,
                ok: true,
                value,
                progress: { current_stage_name: ctx.current_stage_name, progress_text: ctx.progress_text, progress_percent: ctx.progress_percent },
              }),
            (error: unknown) => post({ type: 'note-done', id: message.id, ok: false, error: errorData(error) }),
          );
          return;
        }
        settle(!killed && !signal.aborted);
        if (message.checkTimedOut) state.checkTimedOut = true;
        if (!message.ok) return reject(reviveError(message.error));
        try {
          if (message.kind === 'next') resolve(new SubTasks(message.children, message.context));
          else if (message.kind === 'suspend') resolve(new Suspension(message.options as SuspensionOptions));
          else if (message.kind === 'sleep') resolve(new Sleep(message.duration as number | Date, message.options as SleepOptions | undefined));
          else if (message.kind === 'wait_signal') resolve(new SignalWait(message.name as string, message.options as SignalWaitOptions | undefined));
          else resolve(message.value);
        } catch (error) {
          reject(error);
        }
      };
      thread.onExit = (code, uncaught) => {
        settle(false);
        reject(crashError(ctx, code, uncaught, killed));
      };
      thread.worker.on('message', onMessage);
      signal.addEventListener('abort', onAbort, { once: true });
      const task = { ...ctx } as Record<string, unknown>;
      // a deadline on the monotonic clock every thread of the process shares: not moved by how long
      // the thread took to start, nor by anything that shifts Date.now() on one thread only
      const remaining = ctx.timeout * 1000 - (Date.now() - state.startedAt);
      post({ type: 'run', task, deadline: performance.timeOrigin + performance.now() + remaining });
      if (signal.aborted) onAbort();
    });
  }

  /** Stop using this pool (its registration was replaced or removed): idle threads end now, busy ones when their attempt does. */
  retire(): void {
    this.retired = true;
    for (const thread of this.idle.splice(0)) this.drop(thread);
  }

  /** End every thread, busy or not (the manager stopped). */
  async close(): Promise<void> {
    this.retired = true;
    this.idle.length = 0;
    await Promise.all([...this.all].map((thread) => this.drop(thread)));
  }

  private spawn(): Thread {
    const worker = new Worker(THREAD_ENTRY, { workerData: { module: this.module } });
    const thread: Thread = { worker, onExit: undefined, uncaught: undefined, exited: false };
    this.all.add(thread);
    worker.on('error', (error) => {
      thread.uncaught = error;
    });
    worker.on('exit', (code) => {
      thread.exited = true;
      this.all.delete(thread);
      const index = this.idle.indexOf(thread);
      if (index >= 0) this.idle.splice(index, 1);
      if (thread.onExit) thread.onExit(code, thread.uncaught);
      else if (thread.uncaught !== undefined) this.onError(thread.uncaught, 'isolated handler thread');
    });
    return thread;
  }

  private release(thread: Thread, keep: boolean): void {
    if (!keep || thread.exited || this.retired || this.idle.length >= this.size) {
      void this.drop(thread);
      return;
    }
    thread.worker.unref();
    this.idle.push(thread);
  }

  private async drop(thread: Thread): Promise<void> {
    if (thread.exited) return;
    await thread.worker.terminate();
  }
}

function errorData(error: unknown): IsolateErrorData {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { name: error.name, message: error.message, stack: error.stack, code: typeof code === 'string' ? code : undefined };
  }
  return { name: 'Error', message: String(error), stack: undefined, code: undefined };
}

/** An error thrown in the thread, rebuilt with its name, code, message and the thread's stack. */
function reviveError(data: IsolateErrorData): unknown {
  if (data.thrown !== undefined && data.stack === undefined) return safeParse(data.thrown) ?? data.message;
  const error = data.name === 'TaskTimeoutError' && data.code === 'TASKMILL_TIMEOUT' ? new TaskTimeoutError(data.message) : new Error(data.message);
  error.name = data.name;
  if (data.code !== undefined) Object.defineProperty(error, 'code', { value: data.code, enumerable: false, writable: true, configurable: true });
  error.stack = data.stack ?? `${data.name}: ${data.message}`;
  return error;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Why an attempt's thread died, as the attempt's error. */
function crashError(ctx: TaskContext, code: number, uncaught: unknown, killed: boolean): Error {
  const what = `Isolated handler of task ${ctx.id} (${ctx.name}) crashed`;
  const how = killed
    ? `its thread was terminated ${ISOLATE_KILL_GRACE_MS} ms after its attempt ended`
    : uncaught !== undefined
      ? `uncaught error in its thread: ${uncaught instanceof Error ? (uncaught.stack ?? uncaught.message) : String(uncaught)}`
      : `its thread exited with code ${code}`;
  const error = new Error(`${what}: ${how}`);
  error.stack = `Error: ${what}: ${how}`;
  return error;
}
