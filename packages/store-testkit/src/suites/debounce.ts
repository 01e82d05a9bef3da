import { DuplicateTaskError, type NewTask, type Store, type TaskId } from '@taskmill/contracts';
import { expect } from 'vitest';
import { claimOne, fenceOf, newTask, T0 } from '../fixtures.js';
import type { SuiteContext } from '../suite-context.js';

/** A unique task of `job` with key `k` (scope `unfinished` unless given) and this payload. */
function keyed(payload: unknown, overrides: Partial<NewTask> = {}): NewTask {
  return newTask({ unique_key: 'k', unique_scope: 'unfinished', payload: JSON.stringify(payload), ...overrides });
}

/** A duplicate that replaces the holder's payload. */
function replacing(payload: unknown, overrides: Partial<NewTask> = {}): NewTask {
  return keyed(payload, { on_duplicate: 'replace', ...overrides });
}

/** A debounced duplicate due at `at` (core sets `now + debounce`). */
function debounced(payload: unknown, at: number, overrides: Partial<NewTask> = {}): NewTask {
  return keyed(payload, { unique_scope: 'pending', debounce: true, next_run_time: at, ...overrides });
}

async function create(store: Store, task: NewTask, now: number): Promise<TaskId> {
  const [id] = await store.createTasks([task], now);
  return id;
}

/** Debounce and replace of unique tasks (issue 24, item 3; docs/behaviour.md#debounce-and-replace). */
export function defineDebounceTests({ test, open, peer, db }: SuiteContext): void {
  test("replace: a duplicate gives its payload to the pending holder, keeps its id and other fields, with one task_replaced event", async () => {
    const store = await open();
    const holder = await create(store, keyed({ v: 1 }, { priority: 3, tag: 't', next_run_time: T0 + 500 }), T0);
    const again = await create(store, replacing({ v: 2 }, { priority: 9, tag: 'other', next_run_time: T0 + 90_000 }), T0 + 10);
    expect(again).toBe(holder);
    expect(await db.tasks(store)).toHaveLength(1);
    const task = await db.task(store, holder);
    expect(task).toMatchObject({ payload: { v: 2 }, priority: 3, tag: 't', status: 'pending', next_run_time: T0 + 500 });
    expect(task).toMatchObject({ last_event_type: 'task_replaced', last_event_time: T0 + 10 });
    const events = await db.events(store, { task_id: holder });
    expect(events.map((e) => e.event_type)).toEqual(['task_created', 'task_replaced']);
    expect(events[1]).toMatchObject({
      from_status: 'pending',
      to_status: 'pending',
      event_time: T0 + 10,
      metadata: { payload_replaced: true, previous_next_run_time: T0 + 500, next_run_time: T0 + 500 },
    });
  });

  test("replace: on_duplicate 'return' (the default) still leaves the holder untouched", async () => {
    const store = await open();
    const holder = await create(store, keyed({ v: 1 }), T0);
    const before = await db.snapshot(store);
    expect(await create(store, keyed({ v: 2 }), T0 + 1)).toBe(holder);
    expect(await db.snapshot(store)).toEqual(before);
  });

  test('debounce: each duplicate pushes the pending holder to its own later run time, never earlier', async () => {
    const store = await open();
    const holder = await create(store, debounced({ v: 1 }, T0 + 30_000), T0);
    expect(await create(store, debounced({ v: 2 }, T0 + 40_000), T0 + 10_000)).toBe(holder);
    expect(await db.task(store, holder)).toMatchObject({ next_run_time: T0 + 40_000, payload: { v: 1 }, status: 'pending' });
    const [event] = (await db.events(store, { task_id: holder })).filter((e) => e.event_type === 'task_replaced');
    expect(event.metadata).toEqual({ payload_replaced: false, previous_next_run_time: T0 + 30_000, next_run_time: T0 + 40_000 });
    // a duplicate due earlier than the holder moves nothing and writes nothing
    const before = await db.snapshot(store);
    expect(await create(store, debounced({ v: 3 }, T0 + 35_000), T0 + 5_000)).toBe(holder);
    expect(await db.snapshot(store)).toEqual(before);
    // not due before its pushed time; due at it
    expect(await store.claimTasks({ worker_id: 'w1', now: T0 + 39_999, limit: 1, names: ['job'] })).toEqual([]);
    expect((await claimOne(store, { now: T0 + 40_000 })).id).toBe(holder);
  });

  test('debounce with replace: the holder runs once, after the last push, with the last payload', async () => {
    const store = await open();
    const holder = await create(store, debounced({ v: 0 }, T0 + 1_000, { on_duplicate: 'replace' }), T0);
    for (let i = 1; i <= 5; i++) {
      expect(await create(store, debounced({ v: i }, T0 + 1_000 + i * 100, { on_duplicate: 'replace' }), T0 + i * 100)).toBe(holder);
    }
    expect(await db.tasks(store)).toHaveLength(1);
    const claimed = await claimOne(store, { now: T0 + 1_500 });
    expect(claimed).toMatchObject({ id: holder, payload: { v: 5 }, next_run_time: T0 + 1_500 });
    expect(await db.eventTypes(store, holder)).toEqual(['task_created', ...Array(5).fill('task_replaced'), 'task_claimed', 'task_started']);
  });

  test('replace and debounce leave a running holder as it is and return its id', async () => {
    const store = await open();
    const holder = await create(store, keyed({ v: 1 }), T0);
    await claimOne(store);
    const before = await db.snapshot(store);
    expect(await create(store, replacing({ v: 2 }), T0 + 1)).toBe(holder);
    expect(await create(store, debounced({ v: 3 }, T0 + 60_000, { unique_scope: 'unfinished', on_duplicate: 'replace' }), T0 + 2)).toBe(holder);
    expect(await db.snapshot(store)).toEqual(before);
  });

  test('replace leaves a holder waiting for its retry or paused as it is', async () => {
    const store = await open();
    const failed = await create(store, keyed({ v: 1 }), T0);
    const running = await claimOne(store);
    await store.finishAttempt(fenceOf(running), { kind: 'failed', status: 'failed', error: 'boom' }, T0 + 1);
    expect((await db.task(store, failed))?.status).toBe('failed');
    const paused = await create(store, keyed({ v: 1 }, { unique_key: 'p' }), T0);
    await store.pauseTask(paused, T0 + 1);
    const before = await db.snapshot(store);
    expect(await create(store, replacing({ v: 2 }), T0 + 2)).toBe(failed);
    expect(await create(store, replacing({ v: 2 }, { unique_key: 'p' }), T0 + 2)).toBe(paused);
    expect(await db.snapshot(store)).toEqual(before);
  });

  test("debounce with scope 'pending': once the holder is claimed its key is free, and a duplicate makes a new task", async () => {
    const store = await open();
    const first = await create(store, debounced({ v: 1 }, T0), T0);
    await claimOne(store);
    const second = await create(store, debounced({ v: 2 }, T0 + 30_000, { on_duplicate: 'replace' }), T0 + 1);
    expect(second).not.toBe(first);
    expect(await db.task(store, first)).toMatchObject({ status: 'running', payload: { v: 1 } });
    expect(await db.task(store, second)).toMatchObject({ status: 'pending', payload: { v: 2 }, next_run_time: T0 + 30_000 });
    expect(await db.eventTypes(store, second)).toEqual(['task_created']);
  });

  test('duplicates inside one createTasks fold into the first: one row, the last replace payload, the latest debounce, one event', async () => {
    const store = await open();
    const ids = await store.createTasks(
      [
        debounced({ v: 0 }, T0 + 1_000),
        newTask({ name: 'plain' }),
        debounced({ v: 1 }, T0 + 3_000, { on_duplicate: 'replace' }),
        debounced({ v: 2 }, T0 + 2_000, { on_duplicate: 'replace' }),
        debounced({ v: 3 }, T0 + 1_500),
      ],
      T0,
    );
    expect(new Set([ids[0], ids[2], ids[3], ids[4]]).size).toBe(1);
    expect(await db.task(store, ids[0])).toMatchObject({ payload: { v: 2 }, next_run_time: T0 + 3_000 });
    expect(await db.eventTypes(store, ids[0])).toEqual(['task_created']);
    // the same batch against an existing holder: one change with the folded values
    const again = await store.createTasks([debounced({ v: 4 }, T0 + 9_000, { on_duplicate: 'replace' }), debounced({ v: 5 }, T0 + 8_000)], T0 + 10);
    expect(again).toEqual([ids[0], ids[0]]);
    expect(await db.task(store, ids[0])).toMatchObject({ payload: { v: 4 }, next_run_time: T0 + 9_000 });
    expect(await db.eventTypes(store, ids[0])).toEqual(['task_created', 'task_replaced']);
  });

  test("replace: a call with an on_duplicate 'error' duplicate writes nothing, replacements included", async () => {
    const store = await open();
    const holder = await create(store, keyed({ v: 1 }), T0);
    const before = await db.snapshot(store);
    const batch = [
      replacing({ v: 2 }),
      newTask({ name: 'plain' }),
      keyed({ v: 3 }, { unique_key: 'other' }),
      keyed({ v: 3 }, { unique_key: 'other', on_duplicate: 'error' }),
    ];
    const error = await store.createTasks(batch, T0 + 1).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(DuplicateTaskError);
    expect(await db.snapshot(store)).toEqual(before);
    expect(await db.task(store, holder)).toMatchObject({ payload: { v: 1 } });
  });

  test('debounce: concurrent duplicates from two stores leave one task at the latest pushed time, with one of their payloads', async () => {
    const store = await open();
    const other = await peer(store);
    const holder = await create(store, debounced({ v: -1 }, T0 + 1_000, { on_duplicate: 'replace' }), T0);
    const pushes = 20;
    const results = await Promise.all(
      Array.from({ length: pushes }, (_, i) =>
        (i % 2 ? store : other).createTasks([debounced({ v: i }, T0 + 2_000 + i, { on_duplicate: 'replace' }), newTask({ name: 'plain' })], T0 + i),
      ),
    );
    expect(new Set(results.map(([id]) => id))).toEqual(new Set([holder]));
    expect(await db.tasks(store, { name: 'job' })).toHaveLength(1);
    expect(await db.tasks(store, { name: 'plain' })).toHaveLength(pushes);
    const task = (await db.task(store, holder))!;
    expect(task.next_run_time).toBe(T0 + 2_000 + pushes - 1);
    const replaced = (await db.events(store, { task_id: holder })).filter((e) => e.event_type === 'task_replaced');
    // every duplicate replaced the payload, so each wrote its event, and the last one's payload is the row's
    expect(replaced).toHaveLength(pushes);
    expect((task.payload as { v: number }).v).toBeGreaterThanOrEqual(0);
  });

  test('a claim racing replacements takes the holder either before a replacement or after it, never changed afterwards', async () => {
    const store = await open();
    const other = await peer(store);
    const rounds = 8;
    for (let round = 0; round < rounds; round++) {
      const key = `race-${round}`;
      const holder = await create(store, keyed({ v: 0 }, { unique_key: key }), T0);
      let [claimed, [again]] = await Promise.all([
        other.claimTasks({ worker_id: 'w1', now: T0 + 1, limit: 1, names: ['job'] }),
        store.createTasks([replacing({ v: 1 }, { unique_key: key })], T0 + 1),
      ]);
      expect(again).toBe(holder);
      // a claim may skip the row while the replacement holds its lock (SKIP LOCKED): the next one takes it
      if (claimed.length === 0) claimed = await other.claimTasks({ worker_id: 'w1', now: T0 + 1, limit: 1, names: ['job'] });
      expect(claimed.map((t) => t.id)).toEqual([holder]);
      const row = (await db.task(store, holder))!;
      // what the worker got is what the row holds: nothing changed it after the claim
      expect(row.payload).toEqual(claimed[0].payload);
      const types = await db.eventTypes(store, holder);
      if ((row.payload as { v: number }).v === 1) expect(types).toEqual(['task_created', 'task_replaced', 'task_claimed', 'task_started']);
      else expect(types).toEqual(['task_created', 'task_claimed', 'task_started']);
      await store.cancelTask(holder, {}, T0 + 2);
    }
  });
  test("a claim racing replacements (scope 'pending') takes the old or the new version; a replacement after it makes a new task", async () => {
    const store = await open();
    const other = await peer(store);
    const rounds = 8;
    for (let round = 0; round < rounds; round++) {
      const key = `race-${round}`;
      const holder = await create(store, keyed({ v: 0 }, { unique_key: key, unique_scope: 'pending' }), T0);
      let [claimed, [again]] = await Promise.all([
        other.claimTasks({ worker_id: 'w1', now: T0 + 1, limit: 1, names: ['job'] }),
        store.createTasks([replacing({ v: 1 }, { unique_key: key, unique_scope: 'pending', next_run_time: T0 + 60_000 })], T0 + 1),
      ]);
      if (claimed.length === 0) claimed = await other.claimTasks({ worker_id: 'w1', now: T0 + 1, limit: 1, names: ['job'] });
      expect(claimed.map((t) => t.id)).toEqual([holder]);
      const row = (await db.task(store, holder))!;
      expect(row.payload).toEqual(claimed[0].payload);
      if (again === holder) {
        // the replacement came first: the claim took the new version
        expect(row.payload).toEqual({ v: 1 });
        expect(await db.eventTypes(store, holder)).toEqual(['task_created', 'task_replaced', 'task_claimed', 'task_started']);
      } else {
        // the claim came first and freed the key: the duplicate is a task of its own
        expect(row.payload).toEqual({ v: 0 });
        expect(await db.eventTypes(store, holder)).toEqual(['task_created', 'task_claimed', 'task_started']);
        expect(await db.task(store, again)).toMatchObject({ status: 'pending', payload: { v: 1 } });
        await store.cancelTask(again, {}, T0 + 2);
      }
      await store.cancelTask(holder, {}, T0 + 2);
    }
  });
}
