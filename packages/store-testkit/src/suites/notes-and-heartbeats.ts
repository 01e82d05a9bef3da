import { expect } from 'vitest';
import { createAndClaim, createOne, expectApplied, T0, UNKNOWN_ID } from '../fixtures.js';
import type { SuiteContext } from '../suite-context.js';

/** heartbeatTasks and recordTaskNote (docs/behaviour.md#progress-and-checkpoints, #fencing). */
export function defineNoteAndHeartbeatTests({ test, open, db }: SuiteContext): void {
  test('heartbeatTasks refreshes held fences only and returns the ids of lost ones', async () => {
    const store = await open();
    const t1 = await createAndClaim(store, { name: 'a' }, { now: T0 });
    const t2 = await createAndClaim(store, { name: 'b' }, { now: T0 });
    const t3 = await createAndClaim(store, { name: 'c' }, { now: T0 });
    const t4 = await createAndClaim(store, { name: 'd' }, { now: T0 });
    await store.pauseTask(t2.task.id, T0 + 100);
    const eventsBefore = await db.events(store);
    const lost = await store.heartbeatTasks(
      [t1.fence, t2.fence, t3.fence, { ...t4.fence, worker_id: 'intruder' }, { task_id: UNKNOWN_ID, worker_id: 'w1', attempt: 1 }],
      T0 + 500,
    );
    expect([...lost].sort((a, b) => a - b)).toEqual([t2.task.id, t4.task.id, UNKNOWN_ID].sort((a, b) => a - b));
    expect((await db.task(store, t1.task.id))?.last_active_time).toBe(T0 + 500);
    expect((await db.task(store, t3.task.id))?.last_active_time).toBe(T0 + 500);
    expect((await db.task(store, t2.task.id))?.last_active_time).toBe(T0 + 100);
    expect((await db.task(store, t4.task.id))).toMatchObject({ last_active_time: T0, status: 'running', worker_id: 'w1' });
    expect(await db.events(store)).toEqual(eventsBefore);
    expect(await store.heartbeatTasks([], T0 + 600)).toEqual([]);
  });

  test('recordTaskNote progress updates the snapshot fields and writes task_progress', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store, {}, { worker: 'w1', now: T0 });
    const eventId = await store.recordTaskNote(
      task.id,
      fence,
      {
        event_type: 'task_progress',
        message: 'halfway',
        metadata: { stage_name: 'download', progress_percent: 50, extra: 'x' },
        progress: { current_stage_name: 'download', progress_text: 'halfway there', progress_percent: 50 },
      },
      T0 + 10,
    );
    expect(typeof eventId).toBe('number');
    expect(await db.task(store, task.id)).toMatchObject({
      status: 'running',
      current_stage_name: 'download',
      progress_text: 'halfway there',
      progress_percent: 50,
      last_active_time: T0 + 10,
      last_event_type: 'task_progress',
      last_event_time: T0 + 10,
    });
    const [ev] = await db.events(store, { id: eventId });
    expect(ev).toMatchObject({
      task_id: task.id,
      event_type: 'task_progress',
      from_status: 'running',
      to_status: 'running',
      stage: 0,
      worker_id: 'w1',
      attempt: 1,
      event_time: T0 + 10,
      message: 'halfway',
      metadata: { stage_name: 'download', progress_percent: 50, extra: 'x' },
    });
    // absent keys are left alone
    await store.recordTaskNote(task.id, fence, { event_type: 'task_progress', message: '75', metadata: { progress_percent: 75.5 }, progress: { progress_percent: 75.5 } }, T0 + 20);
    expect(await db.task(store, task.id)).toMatchObject({ current_stage_name: 'download', progress_text: 'halfway there', progress_percent: 75.5, last_active_time: T0 + 20 });
  });

  test('recordTaskNote checkpoint writes task_checkpoint with the fence attempt and leaves progress alone', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store, {}, { worker: 'w3' });
    const eventId = await store.recordTaskNote(task.id, fence, { event_type: 'task_checkpoint', message: 'C1', metadata: { code: 'C1', k: [1] }, stage: 3 }, T0 + 5);
    const [ev] = await db.events(store, { id: eventId });
    expect(ev).toMatchObject({ event_type: 'task_checkpoint', attempt: 1, worker_id: 'w3', stage: 3, message: 'C1', metadata: { code: 'C1', k: [1] } });
    expect(await db.task(store, task.id)).toMatchObject({ current_stage_name: null, progress_text: null, progress_percent: null, stage: 0, last_event_type: 'task_checkpoint' });
  });

  test('recordTaskNote with a fence that does not hold throws NotOwnerError and writes nothing', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store);
    const note = { event_type: 'task_progress' as const, message: 'p', metadata: {}, progress: { progress_text: 'p' } };
    const before = await db.snapshot(store);
    await expect(store.recordTaskNote(task.id, { ...fence, worker_id: 'w2' }, note, T0 + 1)).rejects.toMatchObject({ code: 'TASKMILL_NOT_OWNER' });
    await expect(store.recordTaskNote(task.id, { ...fence, attempt: 2 }, note, T0 + 1)).rejects.toMatchObject({ code: 'TASKMILL_NOT_OWNER' });
    expect(await db.snapshot(store)).toEqual(before);
    await expectApplied(store.finishAttempt(fence, { kind: 'completed', result: null }, T0 + 2));
    const afterFinish = await db.snapshot(store);
    await expect(store.recordTaskNote(task.id, fence, note, T0 + 3)).rejects.toMatchObject({ code: 'TASKMILL_NOT_OWNER' });
    expect(await db.snapshot(store)).toEqual(afterFinish);
  });

  test('recordTaskNote on an unknown task throws TaskNotFoundError', async () => {
    const store = await open();
    await expect(
      store.recordTaskNote(UNKNOWN_ID, null, { event_type: 'task_checkpoint', message: 'c', metadata: { code: 'c' } }, T0),
    ).rejects.toMatchObject({ code: 'TASKMILL_TASK_NOT_FOUND' });
    expect((await db.snapshot(store)).events).toHaveLength(0);
  });

  test('recordTaskNote without a fence works on a pending task', async () => {
    const store = await open();
    const id = await createOne(store);
    const eventId = await store.recordTaskNote(
      id,
      null,
      { event_type: 'task_progress', message: 'queued', metadata: { progress_text: 'queued' }, progress: { progress_text: 'queued' } },
      T0 + 7,
    );
    const [ev] = await db.events(store, { id: eventId });
    expect(ev).toMatchObject({ task_id: id, event_type: 'task_progress', from_status: 'pending', to_status: 'pending', attempt: null, worker_id: null, event_time: T0 + 7 });
    expect(await db.task(store, id)).toMatchObject({ status: 'pending', progress_text: 'queued', last_active_time: T0 + 7 });
  });
}
