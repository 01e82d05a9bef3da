import type { Store, Task, TaskId } from '@taskmill/contracts';
import { expect } from 'vitest';
import { bytes, claimOne, createAndClaim, expectApplied, fenceOf, newChild, T0 } from '../fixtures.js';
import type { SuiteContext } from '../suite-context.js';

/** Claim every pending child (name `child`) and return them by id. */
async function claimChildren(store: Store, now: number, worker = 'wc'): Promise<Map<TaskId, Task>> {
  const claimed = await store.claimTasks({ worker_id: worker, now, limit: 1000, names: ['child'] });
  return new Map(claimed.map((t) => [t.id, t]));
}

/** Parent/child workflows and explicit suspension (docs/behaviour.md#workflows). */
export function defineWorkflowTests({ test, open, db }: SuiteContext): void {
  /** A parent claimed at T0+10 that spawned `n` children at T0+20. */
  async function spawnFixture(store: Store, children = [newChild({ payload: '{"i":1}' }), newChild({ payload: '{"i":2}', priority: 4, tag: 'kid' }), newChild({ max_retries: 1, timeout: 5, retry_interval: 2 })]) {
    const { task: parent, fence } = await createAndClaim(store, { name: 'parent', priority: 2 }, { worker: 'wp', now: T0 + 10 });
    const lastEventBefore = (await db.events(store)).pop()?.id ?? 0;
    const res = await store.finishAttempt(fence, { kind: 'spawned', children, context: Buffer.from([1, 2, 3, 255]) }, T0 + 20);
    return { parent, fence, res, lastEventBefore };
  }

  test('spawned suspends the parent and inserts pending async children', async () => {
    const store = await open();
    const { parent, res } = await spawnFixture(store);
    expect(res.applied).toBe(true);
    expect(res.child_ids).toHaveLength(3);
    expect(res.task).toMatchObject({ id: parent.id, status: 'suspended', suspend_reason: 'awaiting_subtasks', total_children: 3, completed_children: 0, stage: 0 });
    const stored = (await db.task(store, parent.id)) as Task;
    expect(stored).toEqual(res.task);
    expect(bytes(stored.context)).toEqual(Buffer.from([1, 2, 3, 255]));
    expect(await db.attempts(store, { task_id: parent.id })).toEqual([expect.objectContaining({ outcome: 'suspended', ended_at: T0 + 20 })]);
    const children = await Promise.all(res.child_ids.map(async (id) => (await db.task(store, id)) as Task));
    const common = { status: 'pending', type: 'async', parent_id: parent.id, root_id: parent.id, next_run_time: T0 + 20, created_at: T0 + 20, stage: 0, attempt: 0, worker_id: null };
    expect(children[0]).toMatchObject({ ...common, name: 'child', payload: { i: 1 }, priority: 0, tag: null, timeout: 60, max_retries: 3 });
    expect(children[1]).toMatchObject({ ...common, payload: { i: 2 }, priority: 4, tag: 'kid' });
    expect(children[2]).toMatchObject({ ...common, payload: null, max_retries: 1, timeout: 5, retry_interval: 2 });
    expect(await store.getTask(res.child_ids[1])).toEqual(children[1]);
  });

  test('spawned writes each child task_created, then task_subtasks_created, then task_status_changed', async () => {
    const store = await open();
    const { parent, res, lastEventBefore } = await spawnFixture(store);
    const fresh = (await db.events(store)).filter((e) => e.id > lastEventBefore);
    expect(fresh.map((e) => [e.event_type, e.task_id])).toEqual([
      ['task_created', res.child_ids[0]],
      ['task_created', res.child_ids[1]],
      ['task_created', res.child_ids[2]],
      ['task_subtasks_created', parent.id],
      ['task_status_changed', parent.id],
    ]);
    for (const e of fresh.slice(0, 3)) expect(e).toMatchObject({ root_id: parent.id, parent_id: parent.id, to_status: 'pending', event_time: T0 + 20 });
    expect(fresh[3]).toMatchObject({ from_status: 'running', to_status: 'suspended', worker_id: 'wp', metadata: { child_task_ids: res.child_ids, child_count: 3 } });
    expect(fresh[4]).toMatchObject({ from_status: 'running', to_status: 'suspended', metadata: { suspend_reason: 'awaiting_subtasks' } });
    expect((await db.task(store, parent.id))?.last_event_type).toBe('task_status_changed');
  });

  test('completing every child credits the parent once each and resumes it with sorted results', async () => {
    const store = await open();
    const { parent, res } = await spawnFixture(store);
    const [c1, c2, c3] = res.child_ids;
    const claimed = await claimChildren(store, T0 + 30);
    expect(claimed.size).toBe(3);
    const results: [TaskId, string | null][] = [[c3, '"r3"'], [c1, '{"v":1}'], [c2, null]];
    for (const [i, [id, result]] of results.entries()) {
      await expectApplied(store.finishAttempt(fenceOf(claimed.get(id) as Task), { kind: 'completed', result }, T0 + 40 + i));
      const p = (await db.task(store, parent.id)) as Task;
      expect(p.completed_children).toBe(i + 1);
      expect(p.status).toBe(i < 2 ? 'suspended' : 'pending');
      // a second finish of the same child is rejected and credits nothing
      expect((await store.finishAttempt(fenceOf(claimed.get(id) as Task), { kind: 'completed', result }, T0 + 50)).applied).toBe(false);
      expect((await db.task(store, parent.id))?.completed_children).toBe(i + 1);
    }
    const resumed = (await store.getTask(parent.id)) as Task;
    expect(resumed).toMatchObject({ status: 'pending', stage: 1, total_children: 3, completed_children: 3, suspend_reason: null });
    expect(resumed.result).toEqual([
      { task_id: c1, result: { v: 1 } },
      { task_id: c2, result: null },
      { task_id: c3, result: 'r3' },
    ]);
    const resumes = (await db.events(store, { task_id: parent.id })).filter((e) => e.metadata?.resume_reason === 'children_completed');
    expect(resumes).toHaveLength(1);
    expect(resumes[0]).toMatchObject({ event_type: 'task_status_changed', from_status: 'suspended', to_status: 'pending', stage: 1, event_time: T0 + 42 });
    for (const id of res.child_ids) expect(Number((await db.rawTask(store, id))?.parent_credited)).toBe(1);
    // the parent runs again at stage 1 and sees the results and its context
    const rerun = await claimOne(store, { names: ['parent'], now: T0 + 42 });
    expect(rerun).toMatchObject({ id: parent.id, stage: 1, attempt: 2, result: resumed.result });
    expect(bytes(rerun.context)).toEqual(Buffer.from([1, 2, 3, 255]));
  });

  test('a child that exhausts its retries is credited with its error', async () => {
    const store = await open();
    const { parent, res } = await spawnFixture(store, [newChild({ max_retries: 1 }), newChild()]);
    const [c1, c2] = res.child_ids;
    const claimed = await claimChildren(store, T0 + 30);
    await expectApplied(store.finishAttempt(fenceOf(claimed.get(c1) as Task), { kind: 'failed', status: 'failed', error: 'Error: child failed' }, T0 + 31));
    expect((await db.task(store, c1))?.status).toBe('permanently_failed');
    expect(await db.task(store, parent.id)).toMatchObject({ status: 'suspended', completed_children: 1 });
    await expectApplied(store.finishAttempt(fenceOf(claimed.get(c2) as Task), { kind: 'completed', result: '2' }, T0 + 32));
    const p = (await store.getTask(parent.id)) as Task;
    expect(p).toMatchObject({ status: 'pending', stage: 1, completed_children: 2 });
    expect(p.result).toEqual([
      { task_id: c1, error: 'Error: child failed' },
      { task_id: c2, result: 2 },
    ]);
  });

  test('a child with retries left does not resume the parent', async () => {
    const store = await open();
    const { parent, res } = await spawnFixture(store, [newChild({ max_retries: 2 })]);
    const [child] = (await claimChildren(store, T0 + 30)).values();
    await expectApplied(store.finishAttempt(fenceOf(child), { kind: 'failed', status: 'failed', error: 'try again' }, T0 + 31));
    expect(await db.task(store, parent.id)).toMatchObject({ status: 'suspended', completed_children: 0 });
    const retry = await claimOne(store, { names: ['child'], now: T0 + 31 });
    expect(retry.id).toBe(res.child_ids[0]);
    await expectApplied(store.finishAttempt(fenceOf(retry), { kind: 'completed', result: '"ok"' }, T0 + 32));
    expect(await store.getTask(parent.id)).toMatchObject({ status: 'pending', completed_children: 1, result: [{ task_id: retry.id, result: 'ok' }] });
  });

  test('a cancelled child is credited with its error exactly once', async () => {
    const store = await open();
    const { parent, res } = await spawnFixture(store, [newChild(), newChild()]);
    const [c1, c2] = res.child_ids;
    await store.cancelTask(c1, { reason: 'not needed' }, T0 + 30);
    expect(await db.task(store, parent.id)).toMatchObject({ status: 'suspended', completed_children: 1 });
    await expect(store.cancelTask(c1, {}, T0 + 31)).rejects.toMatchObject({ code: 'TASKMILL_INVALID_TRANSITION' });
    expect((await db.task(store, parent.id))?.completed_children).toBe(1);
    await store.cancelTask(c2, {}, T0 + 32);
    const p = (await store.getTask(parent.id)) as Task;
    expect(p).toMatchObject({ status: 'pending', stage: 1, completed_children: 2 });
    expect(p.result).toEqual([
      { task_id: c1, error: 'not needed' },
      { task_id: c2, error: 'Task cancelled' },
    ]);
  });

  test('a grandchild has the workflow root as root_id and resumes its own parent first', async () => {
    const store = await open();
    const { parent: root, res } = await spawnFixture(store, [newChild()]);
    const [child] = (await claimChildren(store, T0 + 30)).values();
    const spawned = await expectApplied(store.finishAttempt(fenceOf(child), { kind: 'spawned', children: [newChild({ name: 'grandchild' })] }, T0 + 31));
    expect(spawned.root_id).toBe(root.id);
    const grandchild = await claimOne(store, { names: ['grandchild'], now: T0 + 32 });
    expect(grandchild).toMatchObject({ root_id: root.id, parent_id: res.child_ids[0] });
    const createdEv = (await db.events(store, { task_id: grandchild.id }))[0];
    expect(createdEv).toMatchObject({ event_type: 'task_created', root_id: root.id, parent_id: res.child_ids[0] });
    await expectApplied(store.finishAttempt(fenceOf(grandchild), { kind: 'completed', result: '"g"' }, T0 + 33));
    expect(await db.task(store, child.id)).toMatchObject({ status: 'pending', stage: 1 });
    expect(await db.task(store, root.id)).toMatchObject({ status: 'suspended', completed_children: 0 });
    const childAgain = await claimOne(store, { names: ['child'], now: T0 + 34 });
    expect(childAgain.result).toEqual([{ task_id: grandchild.id, result: 'g' }]);
    await expectApplied(store.finishAttempt(fenceOf(childAgain), { kind: 'completed', result: '"c"' }, T0 + 35));
    expect(await store.getTask(root.id)).toMatchObject({ status: 'pending', stage: 1, result: [{ task_id: child.id, result: 'c' }] });
  });

  test('spawned with zero children resumes the parent at once with an empty result', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store, { name: 'parent' });
    const res = await store.finishAttempt(fence, { kind: 'spawned', children: [] }, T0 + 5);
    expect(res.applied).toBe(true);
    expect(res.child_ids).toEqual([]);
    expect(res.task).toMatchObject({ status: 'pending', stage: 1, result: [], total_children: 0 });
    const evs = await db.events(store, { task_id: task.id });
    expect(evs.filter((e) => e.metadata?.resume_reason === 'children_completed')).toHaveLength(1);
    expect(evs[evs.length - 1]).toMatchObject({ event_type: 'task_status_changed', to_status: 'pending', stage: 1 });
    expect(await claimOne(store, { names: ['parent'], now: T0 + 5 })).toMatchObject({ stage: 1, result: [] });
  });

  test('a second batch of children replaces the results of the first', async () => {
    const store = await open();
    const { parent, res } = await spawnFixture(store, [newChild()]);
    const [c1] = (await claimChildren(store, T0 + 30)).values();
    await expectApplied(store.finishAttempt(fenceOf(c1), { kind: 'completed', result: '"first"' }, T0 + 31));
    const rerun = await claimOne(store, { names: ['parent'], now: T0 + 32 });
    const second = await expectApplied(store.finishAttempt(fenceOf(rerun), { kind: 'spawned', children: [newChild()] }, T0 + 33));
    expect(second).toMatchObject({ status: 'suspended', total_children: 2, stage: 1 });
    const [c2] = (await claimChildren(store, T0 + 34)).values();
    await expectApplied(store.finishAttempt(fenceOf(c2), { kind: 'completed', result: '"second"' }, T0 + 35));
    expect(await store.getTask(parent.id)).toMatchObject({ status: 'pending', stage: 2, completed_children: 2, result: [{ task_id: c2.id, result: 'second' }] });
    expect(res.child_ids).toEqual([c1.id]);
  });

  test('explicit suspend records the reason, writes task_suspended and keeps the stage', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store);
    const res = await store.finishAttempt(fence, { kind: 'suspended', reason: 'needs approval', metadata: { ticket: 7 }, context: Buffer.from('ctx-1') }, T0 + 10);
    expect(res.applied).toBe(true);
    expect(res.task).toMatchObject({ status: 'suspended', suspend_reason: 'needs approval', stage: 0 });
    expect(bytes((await db.task(store, task.id))?.context)).toEqual(Buffer.from('ctx-1'));
    expect((await db.attempts(store, { task_id: task.id }))[0]).toMatchObject({ outcome: 'suspended', ended_at: T0 + 10 });
    expect((await db.events(store, { task_id: task.id })).pop()).toMatchObject({
      event_type: 'task_suspended',
      from_status: 'running',
      to_status: 'suspended',
      metadata: { suspend_reason: 'needs approval', ticket: 7 },
    });
    expect(await store.claimTasks({ worker_id: 'w', now: T0 + 1e9, limit: 5, names: ['job'] })).toEqual([]);
    // without a context the stored one is kept
    await store.resumeTask(task.id, {}, T0 + 20);
    const again = await claimOne(store, { now: T0 + 20 });
    expect(bytes(again.context)).toEqual(Buffer.from('ctx-1'));
    const res2 = await expectApplied(store.finishAttempt(fenceOf(again), { kind: 'suspended', reason: 'second look' }, T0 + 30));
    expect(res2).toMatchObject({ stage: 1, suspend_reason: 'second look' });
    expect(bytes(res2.context)).toEqual(Buffer.from('ctx-1'));
  });

  test('queryTasks with suspend_reason awaiting_subtasks finds only parents waiting for children', async () => {
    const store = await open();
    const { parent } = await spawnFixture(store, [newChild()]);
    const { task: other, fence } = await createAndClaim(store, { name: 'other' });
    await expectApplied(store.finishAttempt(fence, { kind: 'suspended', reason: 'review' }, T0 + 50));
    const waiting = await store.queryTasks({ status: 'suspended', suspend_reason: 'awaiting_subtasks' });
    expect(waiting.items.map((t) => t.id)).toEqual([parent.id]);
    expect(waiting.total).toBe(1);
    expect((await store.queryTasks({ status: 'suspended', suspend_reason: 'review' })).items.map((t) => t.id)).toEqual([other.id]);
    expect((await store.queryTasks({ status: 'suspended' })).total).toBe(2);
    expect((await store.queryTasks({ suspend_reason: 'nothing' })).total).toBe(0);
  });
}
