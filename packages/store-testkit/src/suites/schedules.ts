import { DuplicateTaskError, type NewTask } from '@taskmill/contracts';
import { expect } from 'vitest';
import { claimOne, fenceOf, newTask, T0 } from '../fixtures.js';
import type { SuiteContext } from '../suite-context.js';

/*
 * Managed schedules (issue 25, item 7; docs/behaviour.md#schedules; Store.upsertSchedule,
 * removeSchedule, listSchedules): one cron row per (name, key), updated in place.
 */

const MINUTE = 60_000;

/** A schedule of `job` with key `k`, as core builds it: a cron task with a unique key of scope `unfinished`. */
function schedule(overrides: Partial<NewTask> = {}): NewTask {
  return newTask({
    type: 'cron',
    cron_expr: '*/5 * * * *',
    cron_tz: 'UTC',
    next_run_time: T0 + 5 * MINUTE,
    unique_key: 'k',
    unique_scope: 'unfinished',
    payload: '{"v":1}',
    ...overrides,
  });
}

export function defineScheduleTests({ test, open, peer, db }: SuiteContext): void {
  test('upsertSchedule inserts the schedule row with task_created, then updates that row in place', async () => {
    const store = await open();
    const first = await store.upsertSchedule(schedule(), T0);
    expect(first.created).toBe(true);
    expect(first.task).toMatchObject({ type: 'cron', status: 'pending', unique_key: 'k', unique_scope: 'unfinished', next_run_time: T0 + 5 * MINUTE, payload: { v: 1 } });
    // payload only: the next run stays
    const second = await store.upsertSchedule(schedule({ payload: '{"v":2}', next_run_time: T0 + 10 * MINUTE }), T0 + 1000);
    expect(second).toMatchObject({ created: false, task: { id: first.task.id, payload: { v: 2 }, next_run_time: T0 + 5 * MINUTE } });
    // a new expression: its next run (computed by core at the call) replaces the old one, and options follow
    const third = await store.upsertSchedule(schedule({ payload: '{"v":2}', cron_expr: '@every 60s', cron_tz: null, next_run_time: T0 + 2 * MINUTE, priority: 4, tag: 'x' }), T0 + 2000);
    expect(third.task).toMatchObject({ id: first.task.id, cron_expr: '@every 60s', cron_tz: null, next_run_time: T0 + 2 * MINUTE, priority: 4, tag: 'x', status: 'pending' });
    // the same definition again writes nothing
    await store.upsertSchedule(schedule({ payload: '{"v":2}', cron_expr: '@every 60s', cron_tz: null, next_run_time: T0 + 3 * MINUTE, priority: 4, tag: 'x' }), T0 + 3000);
    expect(await db.tasks(store)).toHaveLength(1);
    expect(await db.task(store, first.task.id)).toMatchObject({ next_run_time: T0 + 2 * MINUTE, last_event_type: 'schedule_updated', last_event_time: T0 + 2000 });
    const events = await db.events(store, { task_id: first.task.id });
    expect(events.map((e) => e.event_type)).toEqual(['task_created', 'schedule_updated', 'schedule_updated']);
    expect(events[1]).toMatchObject({ from_status: 'pending', to_status: 'pending', metadata: { key: 'k', changed: ['payload'], previous_next_run_time: T0 + 5 * MINUTE, next_run_time: T0 + 5 * MINUTE } });
    expect(events[2].metadata).toMatchObject({ changed: ['expression', 'options'], next_run_time: T0 + 2 * MINUTE });
  });

  test('a running schedule is updated without touching its attempt; its finish keeps the next run the update set', async () => {
    const store = await open();
    const { task } = await store.upsertSchedule(schedule({ next_run_time: T0 }), T0);
    const claimed = await claimOne(store, { now: T0 });
    expect(claimed.id).toBe(task.id);
    const updated = await store.upsertSchedule(schedule({ cron_expr: '0 3 * * *', next_run_time: T0 + 60 * MINUTE, payload: '{"v":9}' }), T0 + 100);
    expect(updated.task).toMatchObject({ status: 'running', attempt: claimed.attempt, worker_id: claimed.worker_id, cron_expr: '0 3 * * *', next_run_time: T0 + 60 * MINUTE });
    // the worker computed its next run from the expression it claimed: the update's time stands
    const basis = { cron_expr: '*/5 * * * *', cron_tz: 'UTC' };
    const done = await store.finishAttempt(fenceOf(claimed), { kind: 'rescheduled', result: null, next_run_time: T0 + 5 * MINUTE, basis }, T0 + 200);
    expect(done).toMatchObject({ applied: true, task: { status: 'pending', next_run_time: T0 + 60 * MINUTE, payload: { v: 9 } } });
    expect(await db.attempts(store, { task_id: task.id })).toMatchObject([{ outcome: 'completed' }]);
    // with its own expression unchanged, the worker's time is taken
    const again = await claimOne(store, { now: T0 + 60 * MINUTE });
    const later = await store.finishAttempt(fenceOf(again), { kind: 'rescheduled', result: null, next_run_time: T0 + 70 * MINUTE, basis: { cron_expr: '0 3 * * *', cron_tz: 'UTC' } }, T0 + 61 * MINUTE);
    expect(later.task).toMatchObject({ status: 'pending', next_run_time: T0 + 70 * MINUTE });
  });

  test('a schedule waiting for a retry keeps its retry time when its expression changes', async () => {
    const store = await open();
    await store.upsertSchedule(schedule({ next_run_time: T0, retry_interval: 30 }), T0);
    const claimed = await claimOne(store, { now: T0 });
    await store.finishAttempt(fenceOf(claimed), { kind: 'failed', status: 'failed', error: 'Error: x' }, T0 + 10);
    const { task } = await store.upsertSchedule(schedule({ cron_expr: '0 3 * * *', next_run_time: T0 + 60 * MINUTE, retry_interval: 30 }), T0 + 20);
    expect(task).toMatchObject({ status: 'failed', next_run_time: T0 + 10 + 30_000, cron_expr: '0 3 * * *' });
  });

  test('removeSchedule cancels an idle schedule, frees its key, and is false for an unknown one', async () => {
    const store = await open();
    const { task } = await store.upsertSchedule(schedule(), T0);
    expect(await store.removeSchedule('job', 'k', T0 + 10)).toBe(true);
    expect(await db.task(store, task.id)).toMatchObject({ status: 'permanently_failed', error: 'Schedule removed', last_event_type: 'task_permanently_failed' });
    const events = await db.events(store, { task_id: task.id });
    expect(events.slice(-2)).toMatchObject([
      { event_type: 'schedule_removed', from_status: 'pending', to_status: 'permanently_failed', metadata: { key: 'k', running: false } },
      { event_type: 'task_permanently_failed', metadata: { cancelled: true, error: 'Schedule removed' } },
    ]);
    expect(await store.removeSchedule('job', 'k', T0 + 20)).toBe(false);
    expect(await store.removeSchedule('other', 'k', T0 + 20)).toBe(false);
    expect((await store.listSchedules({})).items).toEqual([]);
    const again = await store.upsertSchedule(schedule(), T0 + 30);
    expect(again.created).toBe(true);
    expect(again.task.id).not.toBe(task.id);
  });

  test('removeSchedule of a running schedule lets its attempt finish as a one-off task, never rescheduled', async () => {
    const store = await open();
    const { task } = await store.upsertSchedule(schedule({ next_run_time: T0 }), T0);
    const claimed = await claimOne(store, { now: T0 });
    expect(await store.removeSchedule('job', 'k', T0 + 10)).toBe(true);
    expect(await db.task(store, task.id)).toMatchObject({ status: 'running', type: 'async', attempt: claimed.attempt, last_event_type: 'schedule_removed' });
    expect((await store.listSchedules({})).items).toEqual([]);
    const basis = { cron_expr: '*/5 * * * *', cron_tz: 'UTC' };
    const done = await store.finishAttempt(fenceOf(claimed), { kind: 'rescheduled', result: '"ok"', next_run_time: T0 + 5 * MINUTE, basis }, T0 + 20);
    expect(done).toMatchObject({ applied: true, task: { status: 'completed', result: 'ok' } });
    expect(await db.attempts(store, { task_id: task.id })).toMatchObject([{ outcome: 'completed' }]);
  });

  test('listSchedules lists schedule rows holding their key, by name, paged; not one-off or plain cron tasks', async () => {
    const store = await open();
    const a = await store.upsertSchedule(schedule({ name: 'a' }), T0);
    const b = await store.upsertSchedule(schedule({ name: 'b', unique_key: 'k2' }), T0 + 1);
    await store.createTasks([newTask({ name: 'a', unique_key: 'one-off', unique_scope: 'unfinished' }), newTask({ name: 'a', type: 'cron', cron_expr: '* * * * *', cron_tz: 'UTC' })], T0 + 2);
    expect((await store.listSchedules({})).items.map((t) => t.id)).toEqual([a.task.id, b.task.id]);
    expect((await store.listSchedules({ name: 'b' })).items.map((t) => t.id)).toEqual([b.task.id]);
    const page = await store.listSchedules({ limit: 1 });
    expect(page).toMatchObject({ total: 2, has_more: true });
    expect((await store.listSchedules({ limit: 1, cursor: page.next_cursor! })).items.map((t) => t.id)).toEqual([b.task.id]);
    await expect(store.listSchedules({ nmae: 'a' } as never)).rejects.toThrow(/nmae/);
  });

  test('a key held by a task that is not a schedule refuses the upsert with DuplicateTaskError and writes nothing; an ended period frees it', async () => {
    const store = await open();
    const [holder] = await store.createTasks([newTask({ unique_key: 'k', unique_scope: 'unfinished', payload: '{"a":1}' })], T0);
    const error = await store.upsertSchedule(schedule(), T0 + 1).catch((e) => e);
    expect(error).toBeInstanceOf(DuplicateTaskError);
    expect(error).toMatchObject({ taskId: holder });
    expect(await db.tasks(store)).toHaveLength(1);
    expect(await db.eventTypes(store, holder)).toEqual(['task_created']);
    expect(await store.removeSchedule('job', 'k', T0 + 2)).toBe(false);
    // a holder whose period scope has ended is released, and the schedule takes the key
    const [expired] = await store.createTasks([newTask({ unique_key: 'p', unique_scope: 'period', unique_until: T0 + 1000 })], T0);
    await expect(store.upsertSchedule(schedule({ unique_key: 'p' }), T0 + 999)).rejects.toBeInstanceOf(DuplicateTaskError);
    const taken = await store.upsertSchedule(schedule({ unique_key: 'p' }), T0 + 1000);
    expect(taken.created).toBe(true);
    expect(taken.task.id).not.toBe(expired);
  });

  test('concurrent upserts of one key from two stores leave one row', async () => {
    const store = await open();
    const other = await peer(store);
    const calls: Promise<{ created: boolean }>[] = [];
    for (let i = 0; i < 10; i++) calls.push((i % 2 ? other : store).upsertSchedule(schedule({ payload: JSON.stringify({ i }) }), T0 + i));
    const results = await Promise.all(calls);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(await db.tasks(store)).toHaveLength(1);
  });
}
