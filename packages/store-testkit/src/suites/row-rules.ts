import type { Store, Task } from '@taskmill/contracts';
import { expect } from 'vitest';
import { claimOne, createAndClaim, createOne, expectApplied, fenceOf, newChild, T0 } from '../fixtures.js';
import type { SuiteContext } from '../suite-context.js';

/*
 * Rules every write follows, whatever the transition (issue 8: these drifted between stores):
 * - an attempt row closes by its number: a write about attempt N never closes another row;
 * - `suspend_reason` is set exactly while the task is `suspended`.
 */

/** Every task row of the store satisfies the suspend_reason rule. */
async function expectSuspendReasonRule(db: SuiteContext['db'], store: Store): Promise<Task[]> {
  const tasks = await db.tasks(store);
  for (const task of tasks) {
    expect({ id: task.id, status: task.status, has_reason: task.suspend_reason !== null }).toEqual({
      id: task.id,
      status: task.status,
      has_reason: task.status === 'suspended',
    });
  }
  return tasks;
}

export function defineRowRuleTests({ test, open, db }: SuiteContext): void {
  test('closing an attempt closes only the row of that attempt number, on every transition that closes one', async () => {
    const store = await open();
    const closers: Array<[string, (store: Store, task: Task) => Promise<unknown>]> = [
      ['finishAttempt completed', (s, t) => expectApplied(s.finishAttempt(fenceOf(t), { kind: 'completed', result: null }, T0 + 50))],
      ['finishAttempt failed', (s, t) => expectApplied(s.finishAttempt(fenceOf(t), { kind: 'failed', status: 'failed', error: 'Error: x' }, T0 + 50))],
      ['finishAttempt suspended', (s, t) => expectApplied(s.finishAttempt(fenceOf(t), { kind: 'suspended', reason: 'wait' }, T0 + 50))],
      ['pauseTask', (s, t) => s.pauseTask(t.id, T0 + 50)],
      ['resumeTask', (s, t) => s.resumeTask(t.id, {}, T0 + 50)],
      ['cancelTask', (s, t) => s.cancelTask(t.id, {}, T0 + 50)],
      ['recoverWorkerTasks', (s, t) => s.recoverWorkerTasks({ worker_ids: [t.worker_id!], by_worker_id: 'rescuer', by_pod_id: null, now: T0 + 50, limit: 10 })],
    ];
    for (const [what, close] of closers) {
      const name = `close-${what.replace(/\W+/g, '-')}`;
      const worker = `w-${name}`;
      const { task } = await createAndClaim(store, { name, max_retries: 3 }, { worker, now: T0 });
      expect(task.attempt).toBe(1);
      // a stray open row of an older attempt (as a crashed writer might leave), which no write about attempt 1 may touch
      await db.insert(store, 'taskmill_task_attempts', { task_id: task.id, attempt: 0, worker_id: 'ghost', started_at: T0 - 10, timeout_flag: false });
      await close(store, task);
      const attempts = await db.attempts(store, { task_id: task.id });
      const byNumber = new Map(attempts.map((a) => [a.attempt, a]));
      expect({ what, ghost: byNumber.get(0)?.ended_at ?? null, current: byNumber.get(1)?.ended_at ?? null }).toEqual({
        what,
        ghost: null,
        current: T0 + 50,
      });
    }
  });

  test('suspend_reason is set exactly while a task is suspended, through suspend, resume, cancel, workflows and cron', async () => {
    const store = await open();
    // explicit suspend, then cancel while suspended
    const a = await createAndClaim(store, { name: 'sus-cancel' });
    await expectApplied(store.finishAttempt(a.fence, { kind: 'suspended', reason: 'review' }, T0 + 1));
    expect((await db.task(store, a.task.id))?.suspend_reason).toBe('review');
    await store.cancelTask(a.task.id, {}, T0 + 2);
    // explicit suspend, manual resume, claim, complete
    const b = await createAndClaim(store, { name: 'sus-resume' });
    await expectApplied(store.finishAttempt(b.fence, { kind: 'suspended', reason: 'review' }, T0 + 1));
    await store.resumeTask(b.task.id, {}, T0 + 2);
    const b2 = await claimOne(store, { names: ['sus-resume'], now: T0 + 3 });
    await expectApplied(store.finishAttempt(fenceOf(b2), { kind: 'completed', result: null }, T0 + 4));
    // a parent awaiting a child; the child is cancelled, the parent resumes and completes
    const p = await createAndClaim(store, { name: 'parent' });
    const spawned = await expectApplied(store.finishAttempt(p.fence, { kind: 'spawned', children: [newChild({ name: 'kid' })] }, T0 + 1));
    expect(spawned).toMatchObject({ status: 'suspended', suspend_reason: 'awaiting_subtasks' });
    const kids = await db.tasks(store, { parent_id: p.task.id });
    await store.cancelTask(kids[0].id, {}, T0 + 2);
    const p2 = await claimOne(store, { names: ['parent'], now: T0 + 3 });
    await expectApplied(store.finishAttempt(fenceOf(p2), { kind: 'completed', result: null }, T0 + 4));
    // a suspended cron task resumed, then rescheduled
    await createOne(store, { name: 'cron', type: 'cron', cron_expr: '* * * * *', cron_tz: 'UTC', next_run_time: T0 }, T0);
    const c = await claimOne(store, { names: ['cron'], now: T0 });
    await expectApplied(store.finishAttempt(fenceOf(c), { kind: 'suspended', reason: 'hold' }, T0 + 1));
    await store.resumeTask(c.id, {}, T0 + 2);
    const c2 = await claimOne(store, { names: ['cron'], now: T0 + 3 });
    await expectApplied(store.finishAttempt(fenceOf(c2), { kind: 'rescheduled', result: null, next_run_time: T0 + 60_000 }, T0 + 4));
    const tasks = await expectSuspendReasonRule(db, store);
    expect(tasks.filter((t) => t.status === 'suspended')).toEqual([]);
  });
}
