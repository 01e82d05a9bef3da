import type { StoreWriter, SyncWriter } from './statements.js';

/*
 * An operation written once and run two ways. Most operations are plain async functions over a
 * StoreWriter. An operation that must also run inside an application's *synchronous* transaction
 * (better-sqlite3's `db.transaction(fn)`, drizzle's better-sqlite3 `db.transaction(fn)`, which
 * cannot await) is written as a step program instead: a generator that yields the writer calls
 * it makes and receives their results. {@link runSteps} runs it over any StoreWriter (awaiting
 * each call); {@link runStepsSync} runs it over a {@link SyncWriter}, whose methods return their
 * results at once, so every statement has run when the call returns. The rules stay in one place.
 */

type Method = keyof StoreWriter;

/** One writer call a step program asks for. */
export type WriterCall = { [K in Method]: { method: K; args: Parameters<StoreWriter[K]> } }[Method];

/** A turn of the event loop a step program asks for between chunks of a long write (see {@link pause}). */
export interface Pause {
  method: 'pause';
}

/** What a step program yields: a writer call, or a pause. */
export type Step = WriterCall | Pause;

/** A step program: yields writer calls (and pauses), receives each call's result, returns `T`. */
export type Steps<T> = Generator<Step, T, unknown>;

/** Inside a step program: `const ids = yield* call('insertTasks', rows)` (typed result). */
export function* call<K extends Method>(method: K, ...args: Parameters<StoreWriter[K]>): Generator<Step, Awaited<ReturnType<StoreWriter[K]>>, unknown> {
  return (yield { method, args } as WriterCall) as Awaited<ReturnType<StoreWriter[K]>>;
}

/**
 * Inside a step program, between chunks of a long write: `yield* pause()`. Run by
 * {@link runSteps}, it lets the event loop take one turn (`setImmediate`), so that the process's
 * timers (a worker's heartbeats, its lease) and I/O run while one big transaction is written. A
 * synchronous writer (SQLite: every statement is an in-process call) would otherwise hold the
 * loop for the whole write, and even a networked one spends a chunk's JavaScript (building its
 * statement) in one stretch. The transaction stays open over the turn just as it does over every
 * await on the database; nothing else is awaited. {@link runStepsSync} skips pauses: inside an
 * application's synchronous transaction there is no turn to give.
 */
export function* pause(): Generator<Step, void, unknown> {
  yield { method: 'pause' };
}

/** One turn of the event loop: timers and I/O callbacks that are due run before this resolves. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Run a step program over a writer, awaiting each call; an error of a call is thrown into the program. */
export async function runSteps<T>(tx: StoreWriter, steps: Steps<T>): Promise<T> {
  let next = steps.next();
  while (!next.done) {
    const step = next.value;
    if (step.method === 'pause') {
      await nextTurn();
      next = steps.next();
      continue;
    }
    const { method, args } = step;
    let result: unknown;
    try {
      result = await (tx[method] as (...a: unknown[]) => Promise<unknown>)(...args);
    } catch (error) {
      next = steps.throw(error);
      continue;
    }
    next = steps.next(result);
  }
  return next.value;
}

/**
 * Run a step program over a synchronous writer: every call runs, and the program ends, before
 * this returns. A method the writer lacks, or one that returns a promise, is a programming error.
 */
export function runStepsSync<T>(tx: Partial<SyncWriter>, steps: Steps<T>): T {
  let next = steps.next();
  while (!next.done) {
    const step = next.value;
    if (step.method === 'pause') {
      next = steps.next();
      continue;
    }
    const { method, args } = step;
    const fn = tx[method] as ((...a: unknown[]) => unknown) | undefined;
    if (typeof fn !== 'function') throw new TypeError(`synchronous writer has no ${method}`);
    let result: unknown;
    try {
      result = fn(...args);
      if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
        throw new TypeError(`synchronous writer's ${method} returned a promise`);
      }
    } catch (error) {
      next = steps.throw(error);
      continue;
    }
    next = steps.next(result);
  }
  return next.value;
}
