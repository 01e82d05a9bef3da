/*
 * The entry of a worker thread that runs an isolated handler (docs/behaviour.md#isolated-handlers).
 * It imports nothing but Node's own modules: it is loaded from the package's dist by whatever
 * loader the application runs with, and it must not depend on how the application resolves
 * packages. The main thread sends one `run` at a time; this side rebuilds the task object and
 * answers with notes (`progress`, `audit`) and one `done`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { IsolateDone, IsolateErrorData, IsolateToMain, MainToIsolate } from './isolate-protocol.js';

const port = parentPort!;
const moduleUrl = (workerData as { module: string }).module;

/** Thrown by `task.checkTimeout()` here: the same name, code and message as the main thread's TaskTimeoutError. */
class TaskTimeoutError extends Error {
  readonly code = 'TASKMILL_TIMEOUT';
  constructor(message = 'Task execution timeout') {
    super(message);
    this.name = 'TaskTimeoutError';
  }
}

/** What `next(children, context?)` returns in a thread; crosses as its parts. */
class NextMarker {
  constructor(
    readonly children: unknown,
    readonly context: unknown,
  ) {}
}

/** What `task.suspend(options)` returns in a thread; the main thread validates the options. */
class SuspendMarker {
  constructor(readonly options: unknown) {}
}

/** What `task.sleep(duration, options)` returns in a thread; the main thread validates it. */
class SleepMarker {
  constructor(
    readonly duration: unknown,
    readonly options: unknown,
  ) {}
}

/** What `task.waitForSignal(name, options)` returns in a thread; the main thread validates it. */
class WaitMarker {
  constructor(
    readonly name: unknown,
    readonly options: unknown,
  ) {}
}

let loaded: Promise<(task: unknown, next: unknown) => unknown> | undefined;

function loadHandler(): Promise<(task: unknown, next: unknown) => unknown> {
  loaded ??= import(moduleUrl).then((mod: Record<string, unknown>) => {
    const fn = typeof mod.default === 'function' ? mod.default : mod.handler;
    if (typeof fn !== 'function') {
      const error = new Error(`Module ${moduleUrl} exports no handler: give it a default export function or a named export "handler"`);
      error.name = 'InvalidHandlerError';
      Object.assign(error, { code: 'TASKMILL_INVALID_HANDLER' });
      throw error;
    }
    return fn as (task: unknown, next: unknown) => unknown;
  });
  return loaded;
}

function errorData(error: unknown): IsolateErrorData {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { name: error.name, message: error.message, stack: error.stack, code: typeof code === 'string' ? code : undefined };
  }
  return { name: 'Error', message: typeof error === 'string' ? error : String(error), stack: undefined, code: undefined, thrown: errorValue(error) };
}

function errorValue(error: unknown): string | undefined {
  try {
    return JSON.stringify(error);
  } catch {
    return undefined;
  }
}

function revive(data: IsolateErrorData): Error {
  const error = new Error(data.message);
  error.name = data.name;
  if (data.code !== undefined) Object.assign(error, { code: data.code });
  return error;
}

/**
 * A copy in which every `toJSON()` but Date's has been applied, as JSON.stringify would, and
 * everything else kept as is: the main thread then checks it with the same rules and messages as
 * an in-process result (a structured clone would drop class instances' `toJSON`, and turn a Map
 * or a BigInt into something the main side must still refuse).
 */
function jsonReady(value: unknown, key: string, seen: Map<object, unknown>): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return seen.get(value);
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function' && !(value instanceof Date)) {
    return jsonReady((value as { toJSON(k: string): unknown }).toJSON(key), key, seen);
  }
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    seen.set(value, out);
    value.forEach((item, i) => out.push(jsonReady(item, String(i), seen)));
    return out;
  }
  if (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null) {
    const out: Record<string, unknown> = {};
    seen.set(value, out);
    for (const [k, item] of Object.entries(value)) out[k] = jsonReady(item, k, seen);
    return out;
  }
  return value;
}

let current: { controller: AbortController; notes: Map<number, { resolve(v: number): void; reject(e: unknown): void }>; task: Record<string, unknown> } | undefined;
let noteIds = 0;

function send(message: IsolateToMain): void {
  port.postMessage(message);
}

async function run(message: Extract<MainToIsolate, { type: 'run' }>): Promise<void> {
  const controller = new AbortController();
  const notes = new Map<number, { resolve(v: number): void; reject(e: unknown): void }>();
  const task: Record<string, unknown> = { ...message.task };
  current = { controller, notes, task };
  const deadline = message.deadline;
  let checkTimedOut = false;

  const note = (method: 'progress' | 'audit' | 'setProgress') => (...args: unknown[]): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      const id = ++noteIds;
      notes.set(id, { resolve, reject });
      try {
        send({ type: 'note', id, method, args });
      } catch (error) {
        notes.delete(id);
        reject(error);
      }
    });

  Object.defineProperties(task, {
    signal: { value: controller.signal, enumerable: false },
    checkTimeout: {
      enumerable: false,
      value: () => {
        if (performance.timeOrigin + performance.now() >= deadline) {
          checkTimedOut = true;
          throw new TaskTimeoutError();
        }
      },
    },
    progress: { enumerable: false, value: note('progress') },
    setProgress: { enumerable: false, value: note('setProgress') },
    audit: { enumerable: false, value: note('audit') },
    suspend: { enumerable: false, value: (options: unknown) => new SuspendMarker(options) },
    sleep: { enumerable: false, value: (duration: unknown, options?: unknown) => new SleepMarker(duration, options) },
    waitForSignal: { enumerable: false, value: (name: unknown, options?: unknown) => new WaitMarker(name, options) },
  });
  const next = (children: unknown, context?: unknown) => new NextMarker(children, context);

  let done: IsolateDone;
  try {
    const handler = await loadHandler();
    const value = await handler(task, next);
    if (value instanceof NextMarker) done = { type: 'done', ok: true, kind: 'next', children: value.children, context: value.context, checkTimedOut };
    else if (value instanceof SuspendMarker) done = { type: 'done', ok: true, kind: 'suspend', options: value.options, checkTimedOut };
    else if (value instanceof SleepMarker) done = { type: 'done', ok: true, kind: 'sleep', duration: value.duration, options: value.options, checkTimedOut };
    else if (value instanceof WaitMarker) done = { type: 'done', ok: true, kind: 'wait_signal', name: value.name, options: value.options, checkTimedOut };
    else done = { type: 'done', ok: true, kind: 'value', value: jsonReady(value, '', new Map()), checkTimedOut };
  } catch (error) {
    done = { type: 'done', ok: false, error: errorData(error), checkTimedOut };
  }
  current = undefined;
  try {
    send(done);
  } catch (error) {
    // a value a structured clone cannot carry (a function, a symbol) is as unstorable as in-process
    const what = `Result of task ${String(task.id)} (${String(task.name)}) is not JSON-serialisable`;
    const message = `${what}: ${(error as Error).message}`;
    send({
      type: 'done',
      ok: false,
      error: { name: 'SerializationError', message, stack: `SerializationError: ${message}`, code: 'TASKMILL_NOT_SERIALIZABLE' },
      checkTimedOut,
    });
  }
}

port.on('message', (message: MainToIsolate) => {
  switch (message.type) {
    case 'run':
      void run(message);
      return;
    case 'abort':
      current?.controller.abort(revive(message.reason));
      return;
    case 'note-done': {
      const pending = current?.notes.get(message.id);
      if (!pending || !current) return;
      current.notes.delete(message.id);
      if (message.ok) {
        Object.assign(current.task, message.progress);
        pending.resolve(message.value);
      } else pending.reject(revive(message.error));
      return;
    }
  }
});
