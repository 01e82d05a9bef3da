import { describe, expect, it } from 'vitest';
import { DuplicateTaskError, type NewTask, type Task } from '@taskmill/contracts';
import { call, changes, operations, pause, runSteps, runStepsSync, type Steps, type StoreWriter, type SyncWriter } from '../src/index.js';

const T0 = 1_700_000_000_000;

function task(overrides: Partial<Task> = {}): Task {
  return {
    id: 7, name: 'job', type: 'async', priority: 0, payload: null, status: 'pending', created_at: T0, next_run_time: T0,
    last_active_time: null, last_event_time: null, last_event_type: null, result: null, error: null, current_stage_name: null,
    progress_text: null, progress_percent: null, stage: 0, timeout: 60, retry_count: 0, max_retries: 3, retry_interval: 0,
    cron_expr: null, cron_tz: null, root_id: null, parent_id: null, total_children: 0, completed_children: 0, worker_id: null,
    start_time: null, context: null, attempt: 0, suspend_reason: null, retry_backoff: 'fixed', retry_max_interval: null,
    retry_jitter: 0, unique_key: null, unique_scope: null, unique_until: null, trace_context: null, concurrency_key: null, ...overrides,
  } as Task;
}

function newTask(overrides: Partial<NewTask> = {}): NewTask {
  return {
    name: 'job', type: 'async', payload: null, priority: 0, tag: null, next_run_time: T0, timeout: 60, max_retries: 3,
    retry_interval: 0, cron_expr: null, cron_tz: null, retry_backoff: 'fixed', retry_max_interval: null, retry_jitter: 0,
    unique_key: null, unique_scope: null, unique_until: null, trace_context: null, concurrency_key: null, ...overrides,
  };
}

/** An in-memory synchronous writer of the create methods: slots held by name + key. */
function memoryWriter(held: Map<string, number> = new Map()) {
  let next = 100;
  const log: string[] = [];
  const writer: SyncWriter<(typeof operations.CREATE_TASK_METHODS)[number]> = {
    insertTasks: (rows) => rows.map(() => (log.push('insert'), next++)),
    insertUniqueTask: (row) => {
      const key = `${row.name}/${row.unique_slot}`;
      if (held.has(key)) return null;
      held.set(key, next);
      log.push('insert-unique');
      return next++;
    },
    selectUniqueHolder: (name, slot) => held.get(`${name}/${slot}`) ?? null,
    releaseExpiredUnique: () => false,
    // no task here replaces or debounces, so no holder is ever locked
    lockTask: () => {
      throw new Error('lockTask: not expected in these programs');
    },
    applyChanges: (list) => (log.push(`events:${list.length}`), { applied: list.map(() => true), event_ids: [] }),
    wake: () => void log.push('wake'),
  };
  return { writer, log };
}

describe('step programs', () => {
  it('run the same way synchronously and asynchronously', async () => {
    function* program(): Steps<number> {
      const [a] = yield* call('insertTasks', [changes.taskInsert(newTask(), T0)]);
      return a + 1;
    }
    const { writer } = memoryWriter();
    expect(runStepsSync(writer, program())).toBe(101);
    const asyncWriter = Object.fromEntries(Object.entries(memoryWriter().writer).map(([k, fn]) => [k, async (...a: never[]) => (fn as (...x: never[]) => unknown)(...a)]));
    expect(await runSteps(asyncWriter as unknown as StoreWriter, program())).toBe(101);
  });

  it('throw a writer error into the program, refuse a writer that returns a promise or lacks the method', () => {
    function* program(): Steps<string> {
      try {
        yield* call('wake');
        return 'no error';
      } catch (error) {
        return (error as Error).message;
      }
    }
    expect(runStepsSync({ wake: () => { throw new Error('boom'); } }, program())).toBe('boom');
    expect(runStepsSync({ wake: (() => Promise.resolve()) as never }, program())).toMatch(/returned a promise/);
    expect(() => runStepsSync({}, program())).toThrow(/has no wake/);
  });
});

describe('pauses', () => {
  it('give the event loop a turn under runSteps and are skipped by runStepsSync', async () => {
    const order: string[] = [];
    function* program(): Steps<void> {
      order.push('before');
      yield* pause();
      order.push('after');
    }
    setImmediate(() => order.push('immediate'));
    await runSteps({} as StoreWriter, program());
    expect(order).toEqual(['before', 'immediate', 'after']);
    order.length = 0;
    runStepsSync({}, program());
    expect(order).toEqual(['before', 'after']);
  });
});

describe('createTaskSteps of a large batch', () => {
  it(`writes rows and events ${operations.WRITE_CHUNK} at a time, pausing between chunks, ids in input order`, async () => {
    const { writer, log } = memoryWriter();
    const steps: string[] = [];
    const program = operations.createTaskSteps(Array.from({ length: 2500 }, () => newTask()), T0);
    // a recording runner: each step the program yields, then the writer's answer
    let next = program.next();
    while (!next.done) {
      const step = next.value;
      if (step.method === 'pause') {
        steps.push('pause');
        next = program.next();
        continue;
      }
      const fn = writer[step.method as keyof typeof writer] as (...args: unknown[]) => unknown;
      steps.push(`${step.method}:${(step.args[0] as unknown[] | undefined)?.length ?? ''}`);
      next = program.next(fn(...step.args));
    }
    expect(steps).toEqual([
      'insertTasks:1000', 'pause', 'insertTasks:1000', 'pause', 'insertTasks:500',
      'wake:',
      'applyChanges:1000', 'pause', 'applyChanges:1000', 'pause', 'applyChanges:500',
    ]);
    expect(next.value).toEqual(Array.from({ length: 2500 }, (_, i) => 100 + i));
    expect(log.filter((entry) => entry === 'insert')).toHaveLength(2500);
  });
});

describe('createTaskSteps with unique keys', () => {
  it('inserts unique tasks one by one, plain ones together; duplicates get the holder id and no event', () => {
    const { writer, log } = memoryWriter(new Map([['job/held', 5]]));
    const ids = runStepsSync(
      writer,
      operations.createTaskSteps([newTask({ unique_key: 'held' }), newTask(), newTask({ unique_key: 'a' }), newTask({ unique_key: 'a' }), newTask()], T0),
    );
    expect(ids).toEqual([5, 101, 100, 100, 102]);
    expect(log).toEqual(['insert-unique', 'insert', 'insert', 'wake', 'events:3']);
  });

  it("throws DuplicateTaskError with on_duplicate 'error' before inserting the plain tasks", () => {
    const { writer, log } = memoryWriter(new Map([['job/held', 5]]));
    expect(() => runStepsSync(writer, operations.createTaskSteps([newTask(), newTask({ unique_key: 'held', on_duplicate: 'error' })], T0))).toThrow(DuplicateTaskError);
    expect(log).toEqual([]);
  });
});

describe('unique key release', () => {
  it("'pending' leaves at the first claim, 'unfinished' at completion or cancel, 'period' never", () => {
    const pending = task({ unique_key: 'k', unique_scope: 'pending' });
    expect(changes.claim(pending, 'w', T0).patch.unique_slot).toBeNull();
    expect(changes.pause(pending, T0).patch.unique_slot).toBeNull();
    const unfinished = task({ unique_key: 'k', unique_scope: 'unfinished', status: 'running', attempt: 1 });
    expect('unique_slot' in changes.claim({ ...unfinished, status: 'pending' }, 'w', T0).patch).toBe(false);
    expect('unique_slot' in changes.fail(unfinished, 'failed', 'x', undefined, T0).patch).toBe(false);
    expect(changes.complete(unfinished, null, T0).patch.unique_slot).toBeNull();
    expect(changes.cancel(unfinished, 'stop', T0).patch.unique_slot).toBeNull();
    const period = task({ unique_key: 'k', unique_scope: 'period', unique_until: T0 + 1000, status: 'running', attempt: 1 });
    expect('unique_slot' in changes.complete(period, null, T0).patch).toBe(false);
    expect('unique_slot' in changes.complete(task({ status: 'running', attempt: 1 }), null, T0).patch).toBe(false);
  });
});
