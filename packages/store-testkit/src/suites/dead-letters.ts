import { SWEEP_ERRORS, type Store, type Task, type TaskId } from '@taskmill/contracts';
import { expect } from 'vitest';
import { claimOne, createAndClaim, createOne, expectApplied, fenceOf, newChild, T0 } from '../fixtures.js';
import type { SuiteContext } from '../suite-context.js';

/*
 * Non-retryable failures and dead letters (docs/behaviour.md#non-retryable-failures,
 * #dead-letters; store.ts FinishOutcome `failed` with `permanent`).
 */

const HOUR = 3_600_000;

/** What a dead letter's payload holds. */
interface DeadLetterPayload {
  task_id: TaskId;
  name: string;
  payload: unknown;
  error: string;
  attempts: number;
  non_retryable: boolean;
}

export function defineDeadLetterTests({ test, open, peer, db }: SuiteContext): void {
  /** The dead-letter tasks (named `name`) in the store, by id. */
  const letters = (store: Store, name = 'dead') => db.tasks(store, { name });

  test('a non-retryable failure ends an async task as permanently_failed on its first attempt, marked on its events', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store, { max_retries: 5, retry_interval: 30 });
    const error = 'PermanentError: no such address\n    at x';
    const after = await expectApplied(store.finishAttempt(fence, { kind: 'failed', status: 'failed', error, permanent: true }, T0 + 10));
    expect(after).toMatchObject({ id: task.id, status: 'permanently_failed', error, retry_count: 0, last_event_type: 'task_permanently_failed' });
    expect(await db.task(store, task.id)).toEqual(after);
    const evs = await db.events(store, { task_id: task.id });
    expect(evs.slice(-2).map((e) => e.event_type)).toEqual(['task_failed', 'task_permanently_failed']);
    expect(evs[evs.length - 2].metadata).toMatchObject({ error, retryable: false, next_run_time: null });
    expect(evs[evs.length - 1]).toMatchObject({ from_status: 'failed', to_status: 'permanently_failed', metadata: { error, non_retryable: true } });
    expect(evs[evs.length - 1].metadata).not.toHaveProperty('retry_exhausted');
    expect(await db.attempts(store, { task_id: task.id })).toMatchObject([{ attempt: 1, outcome: 'failed', error, ended_at: T0 + 10 }]);
    expect(await store.claimTasks({ worker_id: 'w1', now: T0 + 1e9, limit: 5, names: ['job'] })).toEqual([]);
  });

  test('a retryable failure keeps its retries and is not marked non-retryable', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store, { max_retries: 5, retry_interval: 30, dead_letter: 'dead' });
    const after = await expectApplied(store.finishAttempt(fence, { kind: 'failed', status: 'failed', error: 'Error: flaky', permanent: false }, T0 + 10));
    expect(after).toMatchObject({ status: 'failed', next_run_time: T0 + 10 + 30_000 });
    const [failed] = await db.events(store, { task_id: task.id, event_type: 'task_failed' });
    expect(failed.metadata).not.toHaveProperty('retryable');
    expect(await letters(store)).toEqual([]);
  });

  test('a non-retryable failure pauses a cron task instead, with no dead letter', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store, { type: 'cron', cron_expr: '* * * * *', cron_tz: 'UTC', max_retries: 5, dead_letter: 'dead' });
    const after = await expectApplied(store.finishAttempt(fence, { kind: 'failed', status: 'failed', error: 'PermanentError: bad config', permanent: true }, T0 + 10));
    expect(after).toMatchObject({ status: 'paused', retry_count: 0, last_event_type: 'task_paused' });
    const last = (await db.events(store, { task_id: task.id })).pop();
    expect(last).toMatchObject({ event_type: 'task_paused', to_status: 'paused', metadata: { non_retryable: true } });
    expect(last?.metadata).not.toHaveProperty('dead_letter');
    expect(await letters(store)).toEqual([]);
  });

  test('dead_letter is stored with the task and read back', async () => {
    const store = await open();
    const id = await createOne(store, { dead_letter: 'dead' });
    const plain = await createOne(store);
    expect(await store.getTask(id)).toMatchObject({ dead_letter: 'dead' });
    expect(await db.task(store, plain)).toMatchObject({ dead_letter: null });
  });

  test('a task that exhausts its attempts gets exactly one dead letter, in the transaction that fails it', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store, { max_retries: 2, priority: 7, tag: 'mail', payload: '{"to":"a@b.c","n":[1,2]}', dead_letter: 'dead' });
    await expectApplied(store.finishAttempt(fence, { kind: 'failed', status: 'failed', error: 'Error: e1' }, T0 + 10));
    expect(await letters(store)).toEqual([]);
    const second = await claimOne(store, { now: T0 + 20 });
    const after = await expectApplied(store.finishAttempt(fenceOf(second), { kind: 'failed', status: 'failed', error: 'Error: e2' }, T0 + 30));
    expect(after.status).toBe('permanently_failed');

    const [letter, ...more] = await letters(store);
    expect(more).toEqual([]);
    expect(letter).toMatchObject({
      name: 'dead',
      type: 'async',
      status: 'pending',
      priority: 7,
      tag: null,
      next_run_time: T0 + 30,
      created_at: T0 + 30,
      parent_id: null,
      root_id: null,
      dead_letter: null,
      max_retries: 3,
      timeout: 60,
    });
    expect(letter.payload).toEqual({ task_id: task.id, name: 'job', payload: { to: 'a@b.c', n: [1, 2] }, error: 'Error: e2', attempts: 2, non_retryable: false } satisfies DeadLetterPayload);
    const exhausted = (await db.events(store, { task_id: task.id })).pop();
    expect(exhausted).toMatchObject({ event_type: 'task_permanently_failed', metadata: { retry_exhausted: true, dead_letter: 'dead', error: 'Error: e2' } });
    expect(await db.events(store, { task_id: letter.id })).toMatchObject([
      { event_type: 'task_created', to_status: 'pending', event_time: T0 + 30, metadata: { name: 'dead', type: 'async', dead_letter_of: task.id } },
    ]);
    // due at once, claimable by its own name
    expect(await claimOne(store, { names: ['dead'], worker: 'w9', now: T0 + 30 })).toMatchObject({ id: letter.id, status: 'running' });
  });

  test('a non-retryable failure is dead-lettered at once, saying so', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store, { max_retries: 5, dead_letter: 'dead' });
    await expectApplied(store.finishAttempt(fence, { kind: 'failed', status: 'failed', error: 'PermanentError: 404', permanent: true }, T0 + 10));
    const [letter, ...more] = await letters(store);
    expect(more).toEqual([]);
    expect(letter.payload).toEqual({ task_id: task.id, name: 'job', payload: null, error: 'PermanentError: 404', attempts: 1, non_retryable: true } satisfies DeadLetterPayload);
  });

  test('the timeout sweep dead-letters a task it times out on its last attempt, once when two sweepers race', async () => {
    const store = await open();
    const other = await peer(store);
    const { task, fence } = await createAndClaim(store, { max_retries: 1, timeout: 3600, dead_letter: 'dead' });
    const sweep = (s: Store) => s.sweepTimedOutTasks({ now: T0 + 60_000, heartbeat_timeout_ms: 30_000, limit: 10 });
    const [a, b] = await Promise.all([sweep(store), sweep(other)]);
    expect([...a, ...b]).toEqual([{ ...fence, timeout_type: 'heartbeat' }]);
    expect(await db.task(store, task.id)).toMatchObject({ status: 'permanently_failed', error: SWEEP_ERRORS.heartbeat });
    const [letter, ...more] = await letters(store);
    expect(more).toEqual([]);
    expect(letter.payload).toMatchObject({ task_id: task.id, error: SWEEP_ERRORS.heartbeat, attempts: 1, non_retryable: false });
    // the worker that held it writes its late outcome: fenced, nothing changes, no second letter
    expect((await store.finishAttempt(fence, { kind: 'failed', status: 'failed', error: 'PermanentError: late', permanent: true }, T0 + 60_001)).applied).toBe(false);
    expect(await sweep(other)).toEqual([]);
    expect(await letters(store)).toHaveLength(1);
  });

  test('a task with attempts left, or without a dead_letter, writes no dead letter', async () => {
    const store = await open();
    const left = await createAndClaim(store, { max_retries: 3, dead_letter: 'dead' });
    await expectApplied(store.finishAttempt(left.fence, { kind: 'failed', status: 'timeout', error: 'Error: slow', timeout_type: 'check' }, T0 + 5));
    const none = await createAndClaim(store, { name: 'solo', max_retries: 1 });
    await expectApplied(store.finishAttempt(none.fence, { kind: 'failed', status: 'failed', error: 'PermanentError: x', permanent: true }, T0 + 6));
    expect(await db.task(store, none.task.id)).toMatchObject({ status: 'permanently_failed' });
    expect(await db.tasks(store)).toHaveLength(2);
  });

  test('a task retried by an operator after it failed for good is dead-lettered again when it fails for good again', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store, { max_retries: 1, dead_letter: 'dead' });
    await expectApplied(store.finishAttempt(fence, { kind: 'failed', status: 'failed', error: 'Error: first' }, T0 + 1));
    await store.retryTask(task.id, T0 + 2);
    const again = await claimOne(store, { now: T0 + 2 });
    await expectApplied(store.finishAttempt(fenceOf(again), { kind: 'failed', status: 'failed', error: 'Error: second' }, T0 + 3));
    expect((await letters(store)).map((t) => (t.payload as DeadLetterPayload).error)).toEqual(['Error: first', 'Error: second']);
    expect((await letters(store)).map((t) => (t.payload as DeadLetterPayload).attempts)).toEqual([1, 2]);
  });

  test('cancelTask writes no dead letter: the operator chose the end', async () => {
    const store = await open();
    const pending = await createOne(store, { dead_letter: 'dead' });
    const { task: running } = await createAndClaim(store, { name: 'other', dead_letter: 'dead' });
    await store.cancelTask(pending, {}, T0 + 1);
    await store.cancelTask(running.id, { reason: 'no longer needed' }, T0 + 2);
    expect((await db.task(store, pending))?.status).toBe('permanently_failed');
    expect((await db.task(store, running.id))?.status).toBe('permanently_failed');
    expect(await letters(store)).toEqual([]);
  });

  test('a workflow child that fails for good is dead-lettered and credits its parent in the same change', async () => {
    const store = await open();
    const { task: parent, fence } = await createAndClaim(store, { name: 'parent', dead_letter: 'parent-dead' });
    const spawned = await store.finishAttempt(
      fence,
      { kind: 'spawned', children: [newChild({ name: 'child', max_retries: 1, payload: '{"i":1}', dead_letter: 'dead' })] },
      T0 + 1,
    );
    const [childId] = spawned.child_ids;
    expect(await db.task(store, childId)).toMatchObject({ dead_letter: 'dead', parent_id: parent.id });
    const child = await claimOne(store, { names: ['child'], now: T0 + 2 });
    await expectApplied(store.finishAttempt(fenceOf(child), { kind: 'failed', status: 'failed', error: 'Error: child broke' }, T0 + 3));
    const [letter, ...more] = await letters(store);
    expect(more).toEqual([]);
    expect(letter).toMatchObject({ parent_id: null, root_id: null });
    expect(letter.payload).toMatchObject({ task_id: childId, name: 'child', payload: { i: 1 }, error: 'Error: child broke' });
    // the parent is credited and resumed as for any failed child; it failed nothing itself
    expect(await db.task(store, parent.id)).toMatchObject({ status: 'pending', stage: 1, completed_children: 1 });
    expect(await letters(store, 'parent-dead')).toEqual([]);
  });

  test('a grouped finish dead-letters each task that fails for good, and only those', async () => {
    const store = await open();
    await createOne(store, { max_retries: 1, dead_letter: 'dead', payload: '{"k":1}' });
    await createOne(store, { max_retries: 1, dead_letter: 'dead', payload: '{"k":2}' });
    await createOne(store, { max_retries: 3, dead_letter: 'dead', payload: '{"k":3}' });
    const claimed = await store.claimTasks({ worker_id: 'w1', now: T0, limit: 3, names: ['job'] });
    expect(claimed).toHaveLength(3);
    const results = await store.finishAttempts(
      claimed.map((task: Task) => ({ fence: fenceOf(task), outcome: { kind: 'failed', status: 'failed', error: `Error: ${task.id}` } as const })),
      T0 + 5,
    );
    expect(results.map((r) => r.task?.status)).toEqual(['permanently_failed', 'permanently_failed', 'failed']);
    const got = await letters(store);
    expect(got.map((t) => (t.payload as DeadLetterPayload).task_id).sort((x, y) => x - y)).toEqual([claimed[0].id, claimed[1].id].sort((x, y) => x - y));
  });

  test('a peer claims the dead letter the sweep wrote, and the swept worker\'s heartbeat reports its task lost', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store, { max_retries: 1, timeout: 3600, dead_letter: 'dead' });
    await store.sweepTimedOutTasks({ now: T0 + HOUR, heartbeat_timeout_ms: 30_000, limit: 10 });
    expect(await store.heartbeatTasks([fence], T0 + HOUR + 1)).toEqual([task.id]);
    const other = await peer(store);
    expect(await other.claimTasks({ worker_id: 'w2', now: T0 + HOUR, limit: 5, names: ['dead', 'job'] })).toMatchObject([{ name: 'dead' }]);
  });
}
