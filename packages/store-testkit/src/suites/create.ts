import { NEW_TASK_DEFAULTS, type Task } from '@taskmill/contracts';
import { events } from '@taskmill/store-kit';
import { expect } from 'vitest';
import { newTask, SQL_INJECTION, T0 } from '../fixtures.js';
import type { SuiteContext } from '../suite-context.js';

/** setup() and createTasks (docs/behaviour.md#connections, #enqueueing; `task_created`: #events). */
export function defineCreateTests({ test, open, peer, db }: SuiteContext): void {
  test('setup() is idempotent, also from a peer on the same database', async () => {
    const store = await open();
    await store.setup();
    await store.setup();
    const [id] = await store.createTasks([newTask()], T0);
    await store.setup();
    const other = await peer(store);
    await other.setup();
    expect((await other.getTask(id))?.name).toBe('job');
    expect(await db.tasks(store)).toHaveLength(1);
    const [id2] = await other.createTasks([newTask({ name: 'from-peer' })], T0);
    expect((await store.getTask(id2))?.name).toBe('from-peer');
  });

  test('createTasks stores the defaulted columns (backoff, trace) as given, in a batch mixing rows with and without them', async () => {
    const store = await open();
    const special = { retry_backoff: 'exponential' as const, retry_max_interval: 90, retry_jitter: 0.25, trace_context: '{"traceparent":"00-x"}' };
    const ids = await store.createTasks([newTask(), newTask(special), newTask()], T0);
    const defaults = { retry_backoff: 'fixed', retry_max_interval: null, retry_jitter: 0, trace_context: null };
    expect(await store.getTask(ids[0])).toMatchObject(defaults);
    expect(await store.getTask(ids[1])).toMatchObject(special);
    expect(await store.getTask(ids[2])).toMatchObject(defaults);
    const [alone] = await store.createTasks([newTask()], T0);
    expect(await db.task(store, alone)).toMatchObject(defaults);
  });

  test('createTasks keeps fractional seconds of timeout and retry_interval', async () => {
    const store = await open();
    const [id] = await store.createTasks([newTask({ timeout: 0.4, retry_interval: 1.25 })], T0);
    expect(await store.getTask(id)).toMatchObject({ timeout: 0.4, retry_interval: 1.25 });
    const [raw] = await db.tasks(store);
    expect(raw).toMatchObject({ timeout: 0.4, retry_interval: 1.25 });
  });

  test('createTasks returns the ids in input order and stores every field exactly', async () => {
    const store = await open();
    const payload = { text: 'héllo wörld 世界 🚀', quote: `it's "quoted" \\ back`, nested: { list: [1, 2.5, null, true] } };
    const ids = await store.createTasks(
      [
        newTask(),
        newTask({
          name: SQL_INJECTION,
          tag: `tag with 'quotes' and "double" ${SQL_INJECTION}`,
          payload: JSON.stringify(payload),
          priority: -7,
          next_run_time: T0 + 5000,
          timeout: 15,
          max_retries: 0,
          retry_interval: 9,
        }),
        newTask({ name: 'every-5', type: 'cron', cron_expr: '*/5 * * * *', cron_tz: 'UTC', next_run_time: T0 + 300_000 }),
      ],
      T0,
    );
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(3);

    const base: Task = {
      id: ids[0],
      name: 'job',
      type: 'async',
      priority: 0,
      payload: null,
      created_at: T0,
      tag: null,
      status: 'pending',
      next_run_time: T0,
      last_active_time: null,
      last_event_time: T0,
      last_event_type: 'task_created',
      result: null,
      error: null,
      current_stage_name: null,
      progress_text: null,
      progress_percent: null,
      stage: 0,
      timeout: 60,
      retry_count: 0,
      max_retries: 3,
      retry_interval: 0,
      cron_expr: null,
      cron_tz: null,
      root_id: null,
      parent_id: null,
      total_children: 0,
      completed_children: 0,
      worker_id: null,
      start_time: null,
      context: null,
      attempt: 0,
      suspend_reason: null,
      wake_at: null,
      awaited_signal: null,
      received_signal: null,
      ...NEW_TASK_DEFAULTS,
      on_failure: null,
      keep_stage: false,
    };
    const expected: Task[] = [
      base,
      {
        ...base,
        id: ids[1],
        name: SQL_INJECTION,
        tag: `tag with 'quotes' and "double" ${SQL_INJECTION}`,
        payload,
        priority: -7,
        next_run_time: T0 + 5000,
        timeout: 15,
        max_retries: 0,
        retry_interval: 9,
      },
      { ...base, id: ids[2], name: 'every-5', type: 'cron', cron_expr: '*/5 * * * *', cron_tz: 'UTC', next_run_time: T0 + 300_000 },
    ];
    for (let i = 0; i < 3; i++) {
      expect(await store.getTask(ids[i])).toEqual(expected[i]);
      expect(await db.task(store, ids[i])).toEqual(expected[i]);
    }
    // the JSON text is stored as given (no re-encoding that would lose unicode)
    expect(JSON.parse(String((await db.rawTask(store, ids[1]))?.payload))).toEqual(payload);
    expect(await db.tasks(store)).toHaveLength(3);
    expect(await db.attempts(store)).toHaveLength(0);
  });

  test('createTasks writes one task_created event per task', async () => {
    const store = await open();
    const ids = await store.createTasks([newTask({ name: 'a', tag: 't1' }), newTask({ name: 'b', type: 'cron', cron_expr: '* * * * *' })], T0 + 1);
    const all = await db.events(store);
    expect(all).toHaveLength(2);
    for (const [i, id] of ids.entries()) {
      const task = (await store.getTask(id)) as Task;
      const evs = await db.events(store, { task_id: id });
      expect(evs).toHaveLength(1);
      const { id: _eventId, ...row } = evs[0];
      expect(row).toEqual(events.created(task, 'pending', T0 + 1));
      expect(row).toMatchObject({
        task_id: id,
        root_id: id,
        parent_id: null,
        event_type: 'task_created',
        from_status: null,
        to_status: 'pending',
        stage: 0,
        worker_id: null,
        attempt: null,
        event_time: T0 + 1,
        metadata: i === 0 ? { name: 'a', type: 'async', tag: 't1' } : { name: 'b', type: 'cron', tag: null },
      });
      expect(task.last_event_type).toBe('task_created');
      expect(task.last_event_time).toBe(T0 + 1);
    }
  });

  test('createTasks inserts a batch of 500 in one call', async () => {
    const store = await open();
    const batch = Array.from({ length: 500 }, (_, i) => newTask({ name: `bulk`, payload: JSON.stringify({ i }) }));
    const ids = await store.createTasks(batch, T0);
    expect(ids).toHaveLength(500);
    expect(new Set(ids).size).toBe(500);
    const rows = await db.tasks(store);
    expect(rows).toHaveLength(500);
    const byId = new Map(rows.map((r) => [r.id, r]));
    ids.forEach((id, i) => expect(byId.get(id)?.payload).toEqual({ i }));
    const created = await db.events(store, { event_type: 'task_created' });
    expect(created).toHaveLength(500);
    expect(new Set(created.map((e) => e.task_id))).toEqual(new Set(ids));
  });

  test('createTasks with an empty list writes nothing', async () => {
    const store = await open();
    expect(await store.createTasks([], T0)).toEqual([]);
    const snap = await db.snapshot(store);
    expect(snap.tasks).toHaveLength(0);
    expect(snap.events).toHaveLength(0);
  });
}
