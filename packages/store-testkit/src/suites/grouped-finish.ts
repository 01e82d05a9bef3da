import type { FinishItem, FinishOutcome, Store, Task, TaskEvent } from '@taskmill/contracts';
import { expect } from 'vitest';
import { createAndClaim, createOne, expectApplied, fenceOf, newChild, T0, UNKNOWN_ID } from '../fixtures.js';
import type { SuiteContext } from '../suite-context.js';

const FINISHED_AT = T0 + 10;

/**
 * The same starting point on a fresh database: a parent that spawned two children, five jobs and
 * a cron task, all claimed; then one outcome per claimed task, the parent's stale fence and an unknown id.
 */
async function scenario(store: Store): Promise<{ items: FinishItem[]; parentId: number }> {
  const { task: parent, fence } = await createAndClaim(store, { name: 'parent' }, { worker: 'wp', now: T0 + 1 });
  await expectApplied(store.finishAttempt(fence, { kind: 'spawned', children: [newChild(), newChild()] }, T0 + 2));
  for (let i = 0; i < 5; i++) await createOne(store, { name: 'job', max_retries: 3, next_run_time: T0 }, T0);
  await createOne(store, { name: 'job', type: 'cron', cron_expr: '0 * * * *', next_run_time: T0 }, T0);
  const claimed = await store.claimTasks({ worker_id: 'w1', now: T0 + 3, limit: 100, names: ['job', 'child'] });
  expect(claimed).toHaveLength(8);
  const jobs = claimed.filter((t) => t.name === 'job' && t.type === 'async');
  const kinds: FinishOutcome[] = [
    { kind: 'completed', result: '{"n":1}' },
    { kind: 'failed', status: 'failed', error: 'Error: boom' },
    { kind: 'failed', status: 'timeout', error: 'Task execution timeout', timeout_type: 'check' },
    { kind: 'suspended', reason: 'review', metadata: { by: 'ops' } },
    // two suspensions share one grouped UPDATE: bytes (with a zero, a quote and a backslash) and no bytes
    { kind: 'suspended', reason: 'later', context: new Uint8Array([0, 1, 34, 92, 255]) },
  ];
  const outcomeOf = (task: Task): FinishOutcome => {
    if (task.name === 'child') return { kind: 'completed', result: JSON.stringify(`child ${task.id}`) };
    if (task.type === 'cron') return { kind: 'rescheduled', result: '"tick"', next_run_time: T0 + 3_600_000 };
    return kinds[jobs.indexOf(task)];
  };
  const items: FinishItem[] = claimed.map((task) => ({ fence: fenceOf(task), outcome: outcomeOf(task) }));
  // the parent's own attempt ended when it spawned: its fence is stale
  items.push({ fence, outcome: { kind: 'completed', result: null } });
  items.push({ fence: { task_id: UNKNOWN_ID, worker_id: 'w1', attempt: 1 }, outcome: { kind: 'completed', result: null } });
  return { items, parentId: parent.id };
}

/** Each task's events in id order, without their ids. */
function trails(events: TaskEvent[]): Record<number, Omit<TaskEvent, 'id'>[]> {
  const out: Record<number, Omit<TaskEvent, 'id'>[]> = {};
  for (const { id: _id, ...event } of [...events].sort((a, b) => a.id - b.id)) (out[event.task_id] ??= []).push(event);
  return out;
}

/** Grouped finishes (store.ts `finishAttempts`): a group commit of several attempts' outcomes. */
export function defineGroupedFinishTests({ test, open, db }: SuiteContext): void {
  test('finishAttempts leaves every row as finishAttempt one by one does, results in input order', async () => {
    const alone = await open();
    const grouped = await open();
    const one = await scenario(alone);
    const many = await scenario(grouped);
    expect(many.items.map((i) => i.fence)).toEqual(one.items.map((i) => i.fence));

    // one by one, in task id order (the order a group visits them in)
    const byId = [...one.items].sort((a, b) => Number(a.fence.task_id) - Number(b.fence.task_id));
    const aloneResults = new Map<FinishItem, Awaited<ReturnType<Store['finishAttempt']>>>();
    for (const item of byId) aloneResults.set(item, await alone.finishAttempt(item.fence, item.outcome, FINISHED_AT));

    // grouped, given in reverse order: results still come back in input order
    const reversed = [...many.items].reverse();
    const results = await grouped.finishAttempts(reversed, FINISHED_AT);
    expect(results).toHaveLength(reversed.length);
    const expected = [...one.items].reverse().map((item) => aloneResults.get(item));
    expect(results).toEqual(expected);
    expect(results.map((r) => r.applied)).toEqual([false, false, true, true, true, true, true, true, true, true]);

    // the two children credited the parent once each, and the last resumed it
    const parent = await grouped.getTask(many.parentId);
    expect(parent).toMatchObject({ status: 'pending', completed_children: 2, stage: 1 });

    const later = many.items.find((i) => i.outcome.kind === 'suspended' && i.outcome.reason === 'later')!;
    const suspended = await grouped.getTask(later.fence.task_id);
    expect(suspended?.status).toBe('suspended');
    expect([...(suspended?.context ?? [])]).toEqual([0, 1, 34, 92, 255]);

    expect(await db.tasks(grouped)).toEqual(await db.tasks(alone));
    expect(await db.attempts(grouped)).toEqual(await db.attempts(alone));
    // each task's event trail is the same, in the same order; only the interleaving of event ids
    // across tasks may differ (a group inserts its events together)
    expect(trails(await db.events(grouped))).toEqual(trails(await db.events(alone)));
    expect((await db.events(grouped)).length).toBe((await db.events(alone)).length);
  });

  test('finishAttempts of an empty group writes nothing', async () => {
    const store = await open();
    const before = await db.events(store);
    expect(await store.finishAttempts([], FINISHED_AT)).toEqual([]);
    expect(await db.events(store)).toEqual(before);
  });

  test('finishAttempts fences each attempt on its own: the stale one in a group is refused, the rest applied', async () => {
    const store = await open();
    const a = await createAndClaim(store, { name: 'a' });
    const b = await createAndClaim(store, { name: 'b' });
    // b was paused meanwhile: its fence no longer holds
    await store.pauseTask(b.task.id, T0 + 1);
    const [ra, rb] = await store.finishAttempts(
      [
        { fence: a.fence, outcome: { kind: 'completed', result: '"a"' } },
        { fence: b.fence, outcome: { kind: 'completed', result: '"b"' } },
      ],
      T0 + 2,
    );
    expect(ra).toMatchObject({ applied: true, task: { id: a.task.id, status: 'completed', result: 'a' } });
    expect(rb).toMatchObject({ applied: false, task: { id: b.task.id, status: 'paused', result: null } });
    expect((await db.events(store, { task_id: b.task.id })).map((e) => e.event_type)).not.toContain('task_completed');
  });
}
