import type { Store, Task, TaskId } from '@taskmill/contracts';
import { expect } from 'vitest';
import { createAndClaim, expectApplied, fenceOf, newChild, newTask, T0 } from '../fixtures.js';
import type { SuiteContext } from '../suite-context.js';

/**
 * Claim in a loop from one store until two claims in a row come back empty, recording every
 * claimed id. `onClaim` runs for each claimed task before the next claim.
 */
async function drain(store: Store, worker: string, names: string[], claimed: TaskId[], onClaim?: (task: Task) => Promise<void>): Promise<void> {
  let empty = 0;
  while (empty < 2) {
    const batch = await store.claimTasks({ worker_id: worker, now: T0 + 1000, limit: 5, names });
    if (batch.length === 0) {
      empty++;
      await new Promise((resolve) => setTimeout(resolve, 5));
      continue;
    }
    empty = 0;
    for (const task of batch) {
      claimed.push(task.id);
      if (onClaim) await onClaim(task);
    }
  }
}

/** A task claimed by one worker at a time (docs/behaviour.md#claiming) and a child credited once (#crediting), under concurrent peers on one database. */
export function defineConcurrencyTests({ test, open, peer, db }: SuiteContext): void {
  test('concurrent claims from three peers hand each task to exactly one worker', async () => {
    const store = await open();
    const peers = [store, await peer(store), await peer(store)];
    const ids = await store.createTasks(Array.from({ length: 300 }, () => newTask()), T0);
    const claims: TaskId[][] = [[], [], []];
    await Promise.all(peers.map((s, i) => drain(s, `w${i}`, ['job'], claims[i])));
    const all = claims.flat();
    expect(all).toHaveLength(300);
    expect(new Set(all)).toEqual(new Set(ids));
    const tasks = await db.tasks(store);
    expect(tasks.every((t) => t.status === 'running' && t.attempt === 1)).toBe(true);
    for (const [i, list] of claims.entries()) {
      const mine = new Set(list);
      for (const t of tasks) if (mine.has(t.id)) expect(t.worker_id).toBe(`w${i}`);
    }
    const attempts = await db.attempts(store);
    expect(attempts).toHaveLength(300);
    expect(new Set(attempts.map((a) => a.task_id)).size).toBe(300);
    const claimedEvents = await db.events(store, { event_type: 'task_claimed' });
    expect(claimedEvents).toHaveLength(300);
  });

  test('children completed concurrently from three peers credit the parent exactly once each', async () => {
    const store = await open();
    const peers = [store, await peer(store), await peer(store)];
    const { task: parent, fence } = await createAndClaim(store, { name: 'parent' });
    const spawned = await store.finishAttempt(fence, { kind: 'spawned', children: Array.from({ length: 40 }, (_, i) => newChild({ payload: JSON.stringify({ i }) })) }, T0 + 1);
    expect(spawned.child_ids).toHaveLength(40);
    const claims: TaskId[][] = [[], [], []];
    await Promise.all(
      peers.map((s, i) =>
        drain(s, `w${i}`, ['child'], claims[i], async (task) => {
          await expectApplied(s.finishAttempt(fenceOf(task), { kind: 'completed', result: JSON.stringify({ id: task.id }) }, T0 + 2000));
        }),
      ),
    );
    expect(claims.flat().sort((a, b) => a - b)).toEqual([...spawned.child_ids].sort((a, b) => a - b));
    const p = (await store.getTask(parent.id)) as Task;
    expect(p).toMatchObject({ status: 'pending', stage: 1, total_children: 40, completed_children: 40 });
    expect(p.result).toEqual([...spawned.child_ids].sort((a, b) => a - b).map((id) => ({ task_id: id, result: { id } })));
    const resumes = (await db.events(store, { task_id: parent.id })).filter((e) => e.metadata?.resume_reason === 'children_completed');
    expect(resumes).toHaveLength(1);
  });

  test('concurrent cancel and completion of the last children resume the parent exactly once', async () => {
    const store = await open();
    const other = await peer(store);
    const { task: parent, fence } = await createAndClaim(store, { name: 'parent' });
    const { child_ids } = await store.finishAttempt(fence, { kind: 'spawned', children: Array.from({ length: 10 }, () => newChild()) }, T0 + 1);
    const running = await store.claimTasks({ worker_id: 'wc', now: T0 + 2, limit: 5, names: ['child'] });
    const runningIds = new Set(running.map((t) => t.id));
    const pendingIds = child_ids.filter((id) => !runningIds.has(id));
    await Promise.all([
      ...running.map((t) => store.finishAttempt(fenceOf(t), { kind: 'completed', result: null }, T0 + 3)),
      ...pendingIds.map((id) => other.cancelTask(id, {}, T0 + 3)),
    ]);
    expect(await store.getTask(parent.id)).toMatchObject({ status: 'pending', stage: 1, completed_children: 10 });
    const resumes = (await db.events(store, { task_id: parent.id })).filter((e) => e.metadata?.resume_reason === 'children_completed');
    expect(resumes).toHaveLength(1);
  });
}
