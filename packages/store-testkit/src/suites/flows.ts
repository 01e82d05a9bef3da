import { DuplicateTaskError, InvalidTransitionError, TaskNotFoundError, type ChildFailureRule, type NewFlow, type NewFlowChild, type Store, type Task } from '@taskmill/contracts';
import { expect } from 'vitest';
import { expectApplied, fenceOf, newChild, newTask, T0, UNKNOWN_ID } from '../fixtures.js';
import type { SuiteContext } from '../suite-context.js';

/** A flow child named `name` with these children (due at T0 unless `next_run_time` is given). */
function node(name: string, children: NewFlowChild[] = [], extra: { on_failure?: ChildFailureRule; next_run_time?: number; max_retries?: number; dead_letter?: string } = {}): NewFlowChild {
  return {
    task: newChild({ name, on_failure: extra.on_failure ?? null, max_retries: extra.max_retries ?? 3, dead_letter: extra.dead_letter ?? null }),
    next_run_time: extra.next_run_time ?? T0,
    children,
  };
}

/**
 * root ─┬─ mid (─┬─ leaf-a
 *       │        └─ leaf-b)
 *       └─ leaf-c
 */
function threeLevels(rules: { a?: ChildFailureRule; b?: ChildFailureRule; mid?: ChildFailureRule; c?: ChildFailureRule } = {}): NewFlow {
  return {
    task: newTask({ name: 'root', priority: 3 }),
    children: [
      node('mid', [node('leaf-a', [], { on_failure: rules.a, max_retries: 1 }), node('leaf-b', [], { on_failure: rules.b, max_retries: 1 })], { on_failure: rules.mid }),
      node('leaf-c', [], { on_failure: rules.c, max_retries: 1, next_run_time: T0 + 500 }),
    ],
  };
}

/** Claim one task of this name. */
async function claimNamed(store: Store, name: string, now: number, worker = 'w1'): Promise<Task> {
  const [task] = await store.claimTasks({ worker_id: worker, now, limit: 1, names: [name] });
  expect(task?.name).toBe(name);
  return task;
}

/** Fail a claimed task for good (non-retryable). */
function failForGood(store: Store, task: Task, now: number) {
  return store.finishAttempt(fenceOf(task), { kind: 'failed', status: 'failed', error: `Error: ${task.name} broke`, permanent: true }, now);
}

/** Flows created up front, child failure rules, cascade cancel (docs/behaviour.md#flows, #child-failure-rules, #cascade-cancel). */
export function defineFlowTests({ test, open, db }: SuiteContext): void {
  test('createFlow writes the tree in one go: parents suspended awaiting children, leaves pending, rules stored', async () => {
    const store = await open();
    const flow = await store.createFlow(threeLevels({ a: 'fail', b: 'ignore' }), T0);
    expect(flow.created).toBe(true);
    const [mid, c] = flow.children;
    const [a, b] = mid.children;
    expect(c.children).toEqual([]);
    const root = (await db.task(store, flow.id))!;
    expect(root).toMatchObject({ name: 'root', status: 'suspended', suspend_reason: 'awaiting_subtasks', total_children: 2, completed_children: 0, stage: 0, root_id: null, parent_id: null, on_failure: null, last_event_type: 'task_subtasks_created' });
    expect(await db.task(store, mid.id)).toMatchObject({ status: 'suspended', suspend_reason: 'awaiting_subtasks', total_children: 2, root_id: flow.id, parent_id: flow.id, on_failure: null });
    expect(await db.task(store, a.id)).toMatchObject({ name: 'leaf-a', status: 'pending', root_id: flow.id, parent_id: mid.id, on_failure: 'fail', next_run_time: T0, last_event_type: 'task_created' });
    expect(await db.task(store, b.id)).toMatchObject({ status: 'pending', parent_id: mid.id, on_failure: 'ignore' });
    expect(await db.task(store, c.id)).toMatchObject({ status: 'pending', parent_id: flow.id, on_failure: null, next_run_time: T0 + 500 });
    const events = await db.events(store);
    expect(events.map((e) => [e.event_type, e.task_id, e.to_status])).toEqual([
      ['task_created', flow.id, 'suspended'],
      ['task_created', mid.id, 'suspended'],
      ['task_created', c.id, 'pending'],
      ['task_created', a.id, 'pending'],
      ['task_created', b.id, 'pending'],
      ['task_subtasks_created', flow.id, 'suspended'],
      ['task_subtasks_created', mid.id, 'suspended'],
    ]);
    expect(events.every((e) => e.root_id === flow.id && e.event_time === T0)).toBe(true);
    expect(events[6].metadata).toMatchObject({ child_task_ids: [a.id, b.id], child_task_names: ['leaf-a', 'leaf-b'], child_count: 2, flow: true });
    // only the leaves due now are claimable
    const claimed = await store.claimTasks({ worker_id: 'w1', now: T0, limit: 10, names: ['root', 'mid', 'leaf-a', 'leaf-b', 'leaf-c'] });
    expect(claimed.map((t) => t.id).sort((x, y) => x - y)).toEqual([a.id, b.id]);
  });

  test('a flow whose root key is held writes nothing, or throws DuplicateTaskError with on_duplicate error', async () => {
    const store = await open();
    const first = await store.createFlow({ task: newTask({ name: 'root', unique_key: 'order-1', unique_scope: 'unfinished' }), children: [node('leaf')] }, T0);
    const before = await db.snapshot(store);
    const again = await store.createFlow({ task: newTask({ name: 'root', unique_key: 'order-1', unique_scope: 'unfinished' }), children: [node('leaf'), node('leaf')] }, T0 + 1);
    expect(again).toEqual({ id: first.id, created: false, children: [] });
    await expect(
      store.createFlow({ task: newTask({ name: 'root', unique_key: 'order-1', unique_scope: 'unfinished', on_duplicate: 'error' }), children: [node('leaf')] }, T0 + 2),
    ).rejects.toBeInstanceOf(DuplicateTaskError);
    expect(await db.snapshot(store)).toEqual(before);
  });

  test('a flow runs leaves first and each parent resumes at stage 1 with its children results', async () => {
    const store = await open();
    const flow = await store.createFlow(threeLevels(), T0);
    const [mid, c] = flow.children;
    const [a, b] = mid.children;
    for (const [name, now] of [['leaf-a', T0 + 1], ['leaf-b', T0 + 2]] as const) {
      const task = await claimNamed(store, name, now);
      await expectApplied(store.finishAttempt(fenceOf(task), { kind: 'completed', result: JSON.stringify(name) }, now));
    }
    expect(await store.getTask(mid.id)).toMatchObject({ status: 'pending', stage: 1, result: [{ task_id: a.id, result: 'leaf-a' }, { task_id: b.id, result: 'leaf-b' }] });
    expect((await db.task(store, flow.id))?.status).toBe('suspended');
    const midRun = await claimNamed(store, 'mid', T0 + 3);
    await expectApplied(store.finishAttempt(fenceOf(midRun), { kind: 'completed', result: '"mid"' }, T0 + 3));
    expect((await db.task(store, flow.id))?.status).toBe('suspended');
    const cRun = await claimNamed(store, 'leaf-c', T0 + 500);
    await expectApplied(store.finishAttempt(fenceOf(cRun), { kind: 'completed', result: '"c"' }, T0 + 501));
    expect(await store.getTask(flow.id)).toMatchObject({ status: 'pending', stage: 1, result: [{ task_id: mid.id, result: 'mid' }, { task_id: c.id, result: 'c' }] });
  });

  test("a flow's parent keeps its stage and children results across a retry, a recovery and an operator's retry", async () => {
    const store = await open();
    const flow = await store.createFlow({ task: newTask({ name: 'root', max_retries: 3, retry_interval: 1 }), children: [node('leaf')] }, T0);
    const [leaf] = flow.children;
    expect((await db.task(store, flow.id))?.keep_stage).toBe(true);
    expect((await db.task(store, leaf.id))?.keep_stage).toBe(false);
    const leafRun = await claimNamed(store, 'leaf', T0 + 1);
    await expectApplied(store.finishAttempt(fenceOf(leafRun), { kind: 'completed', result: '"x"' }, T0 + 2));
    const results = [{ task_id: leaf.id, result: 'x' }];
    // its handler fails at stage 1: the retry is scheduled at once, pending at the retry time, stage kept
    const first = await claimNamed(store, 'root', T0 + 3);
    expect(first).toMatchObject({ stage: 1, result: results });
    await store.finishAttempt(fenceOf(first), { kind: 'failed', status: 'failed', error: 'Error: flaky' }, T0 + 4);
    expect(await store.getTask(flow.id)).toMatchObject({ status: 'pending', stage: 1, retry_count: 1, next_run_time: T0 + 1004, result: results });
    expect((await db.events(store, { task_id: flow.id })).slice(-2).map((e) => [e.event_type, e.from_status, e.to_status, e.stage])).toEqual([
      ['task_failed', 'running', 'failed', 1],
      ['task_retry_scheduled', 'failed', 'pending', 1],
    ]);
    expect(await store.claimTasks({ worker_id: 'w1', now: T0 + 1003, limit: 1, names: ['root'] })).toEqual([]);
    const second = await claimNamed(store, 'root', T0 + 1004);
    expect(second).toMatchObject({ stage: 1, retry_count: 1, result: results });
    // its worker dies: recovered at stage 1
    await store.recoverWorkerTasks({ worker_ids: ['w1'], now: T0 + 1005, by_worker_id: 'w2', by_pod_id: null, limit: 10 });
    expect(await store.getTask(flow.id)).toMatchObject({ status: 'pending', stage: 1, result: results });
    // it fails for good; an operator's retry brings it back at stage 1 with its children results
    const third = await claimNamed(store, 'root', T0 + 1006);
    await store.finishAttempt(fenceOf(third), { kind: 'failed', status: 'failed', error: 'PermanentError: no', permanent: true }, T0 + 1007);
    expect((await db.task(store, flow.id))?.status).toBe('permanently_failed');
    expect(await store.retryTask(flow.id, T0 + 1008)).toMatchObject({ status: 'pending', stage: 1, retry_count: 0, result: results });
  });

  test("on_failure 'ignore' counts the failed child without an entry in its parent's results", async () => {
    const store = await open();
    const flow = await store.createFlow(threeLevels({ a: 'ignore' }), T0);
    const [mid] = flow.children;
    const [, b] = mid.children;
    await failForGood(store, await claimNamed(store, 'leaf-a', T0 + 1), T0 + 1);
    expect(await db.task(store, mid.id)).toMatchObject({ status: 'suspended', completed_children: 1 });
    const bRun = await claimNamed(store, 'leaf-b', T0 + 2);
    await expectApplied(store.finishAttempt(fenceOf(bRun), { kind: 'completed', result: '2' }, T0 + 2));
    expect(await store.getTask(mid.id)).toMatchObject({ status: 'pending', stage: 1, completed_children: 2, result: [{ task_id: b.id, result: 2 }] });
  });

  test("on_failure 'continue' (the default) reports the failed child as {task_id, error}", async () => {
    const store = await open();
    const flow = await store.createFlow(threeLevels(), T0);
    const [mid] = flow.children;
    const [a, b] = mid.children;
    await failForGood(store, await claimNamed(store, 'leaf-a', T0 + 1), T0 + 1);
    const bRun = await claimNamed(store, 'leaf-b', T0 + 2);
    await expectApplied(store.finishAttempt(fenceOf(bRun), { kind: 'completed', result: '2' }, T0 + 2));
    expect(await store.getTask(mid.id)).toMatchObject({ status: 'pending', stage: 1, result: [{ task_id: a.id, error: 'Error: leaf-a broke' }, { task_id: b.id, result: 2 }] });
  });

  test("on_failure 'fail' fails the parent at once, cancels its unfinished children, and propagates by the parent's own rule", async () => {
    const store = await open();
    const flow = await store.createFlow(threeLevels({ a: 'fail', mid: 'fail' }), T0);
    const [mid, c] = flow.children;
    const [a, b] = mid.children;
    const aRun = await claimNamed(store, 'leaf-a', T0 + 1, 'wa');
    const bRun = await claimNamed(store, 'leaf-b', T0 + 1, 'wb');
    await failForGood(store, aRun, T0 + 2);
    expect(await db.task(store, mid.id)).toMatchObject({ status: 'permanently_failed', error: `Child task ${a.id} (leaf-a) failed: Error: leaf-a broke` });
    // the running sibling is cancelled: its attempt closed, its late outcome refused
    expect(await db.task(store, b.id)).toMatchObject({ status: 'permanently_failed', error: `Cancelled: parent task ${mid.id} failed because child task ${a.id} failed` });
    expect(await db.attempts(store, { task_id: b.id })).toEqual([expect.objectContaining({ outcome: 'cancelled', ended_at: T0 + 2 })]);
    expect((await store.finishAttempt(fenceOf(bRun), { kind: 'completed', result: '1' }, T0 + 3)).applied).toBe(false);
    // mid's own rule is `fail`: the root fails too, and leaf-c (not yet due) is cancelled
    expect(await db.task(store, flow.id)).toMatchObject({ status: 'permanently_failed', error: `Child task ${mid.id} (mid) failed: Child task ${a.id} (leaf-a) failed: Error: leaf-a broke` });
    expect(await db.task(store, c.id)).toMatchObject({ status: 'permanently_failed' });
    const midFailed = (await db.events(store, { task_id: mid.id })).filter((e) => e.event_type === 'task_permanently_failed');
    expect(midFailed).toEqual([expect.objectContaining({ from_status: 'suspended', to_status: 'permanently_failed', event_time: T0 + 2, metadata: expect.objectContaining({ child_failed: a.id, on_failure: 'fail' }) })]);
    const bCancelled = (await db.events(store, { task_id: b.id })).filter((e) => e.event_type === 'task_permanently_failed');
    expect(bCancelled).toEqual([expect.objectContaining({ metadata: expect.objectContaining({ cancelled: true, cascade: true, cancelled_by: mid.id }) })]);
    // no parent was resumed by a cancelled child
    expect((await db.events(store)).filter((e) => e.metadata?.resume_reason === 'children_completed')).toEqual([]);
  });

  test("on_failure 'fail' of a grandchild stops at a parent whose own rule is 'continue'", async () => {
    const store = await open();
    const flow = await store.createFlow(threeLevels({ a: 'fail' }), T0);
    const [mid, c] = flow.children;
    await failForGood(store, await claimNamed(store, 'leaf-a', T0 + 1), T0 + 2);
    expect((await db.task(store, mid.id))?.status).toBe('permanently_failed');
    expect(await db.task(store, flow.id)).toMatchObject({ status: 'suspended', completed_children: 1 });
    const cRun = await claimNamed(store, 'leaf-c', T0 + 500);
    await expectApplied(store.finishAttempt(fenceOf(cRun), { kind: 'completed', result: '3' }, T0 + 501));
    const root = (await store.getTask(flow.id))!;
    expect(root).toMatchObject({ status: 'pending', stage: 1 });
    expect(root.result).toEqual([{ task_id: mid.id, error: expect.stringContaining('(leaf-a) failed') }, { task_id: c.id, result: 3 }]);
  });

  test("a parent failed by a child's rule gets its own dead letter", async () => {
    const store = await open();
    const flow = await store.createFlow({ task: newTask({ name: 'root', dead_letter: 'dead' }), children: [node('leaf', [], { on_failure: 'fail', max_retries: 1 })] }, T0);
    await failForGood(store, await claimNamed(store, 'leaf', T0 + 1), T0 + 2);
    const letters = await db.tasks(store, { name: 'dead' });
    expect(letters).toHaveLength(1);
    expect(letters[0].payload).toMatchObject({ task_id: flow.id, name: 'root', error: expect.stringContaining('(leaf) failed') });
  });

  test("next() children take the same on_failure rule: 'fail' fails the spawning parent", async () => {
    const store = await open();
    const [parentId] = await store.createTasks([newTask({ name: 'parent' })], T0);
    const parent = await claimNamed(store, 'parent', T0 + 1);
    const spawned = await store.finishAttempt(fenceOf(parent), { kind: 'spawned', children: [newChild({ on_failure: 'fail', max_retries: 1 }), newChild()] }, T0 + 2);
    expect(await db.task(store, spawned.child_ids[0])).toMatchObject({ on_failure: 'fail' });
    await failForGood(store, await claimNamed(store, 'child', T0 + 3), T0 + 4);
    expect(await db.task(store, parentId)).toMatchObject({ status: 'permanently_failed', error: expect.stringContaining(`Child task ${spawned.child_ids[0]} (child) failed`) });
    expect((await db.task(store, spawned.child_ids[1]))?.status).toBe('permanently_failed');
  });

  test('cancelTaskTree cancels every unfinished task of the tree in one go, parents first, completed ones untouched', async () => {
    const store = await open();
    const flow = await store.createFlow(threeLevels(), T0);
    const [mid, c] = flow.children;
    const [a, b] = mid.children;
    const aRun = await claimNamed(store, 'leaf-a', T0 + 1);
    await expectApplied(store.finishAttempt(fenceOf(aRun), { kind: 'completed', result: '1' }, T0 + 2));
    const bRun = await claimNamed(store, 'leaf-b', T0 + 3);
    const result = await store.cancelTaskTree(flow.id, { reason: 'order withdrawn' }, T0 + 10);
    expect(result.cancelled).toEqual([flow.id, mid.id, c.id, b.id]);
    expect(result.task).toMatchObject({ id: flow.id, status: 'permanently_failed', error: 'order withdrawn' });
    expect((await db.task(store, a.id))?.status).toBe('completed');
    for (const id of [mid.id, c.id, b.id]) {
      expect(await db.task(store, id)).toMatchObject({ status: 'permanently_failed', error: 'order withdrawn' });
      const [event] = (await db.events(store, { task_id: id })).filter((e) => e.event_type === 'task_permanently_failed');
      expect(event).toMatchObject({ event_time: T0 + 10, metadata: expect.objectContaining({ cancelled: true, cascade: true, cancelled_by: flow.id, error: 'order withdrawn' }) });
    }
    expect((await db.events(store, { task_id: flow.id })).at(-1)).toMatchObject({ event_type: 'task_permanently_failed', metadata: expect.objectContaining({ cascade: true, cancelled_by: flow.id }) });
    expect(await db.attempts(store, { task_id: b.id })).toEqual([expect.objectContaining({ outcome: 'cancelled', ended_at: T0 + 10 })]);
    expect((await store.finishAttempt(fenceOf(bRun), { kind: 'completed', result: '2' }, T0 + 11)).applied).toBe(false);
    expect((await db.events(store)).filter((e) => e.metadata?.resume_reason === 'children_completed')).toEqual([]);
    // nothing is left to cancel now
    const before = await db.snapshot(store);
    await expect(store.cancelTaskTree(flow.id, {}, T0 + 12)).rejects.toBeInstanceOf(InvalidTransitionError);
    await expect(store.cancelTaskTree(UNKNOWN_ID, {}, T0 + 12)).rejects.toBeInstanceOf(TaskNotFoundError);
    expect(await db.snapshot(store)).toEqual(before);
  });

  test("cancelTaskTree of a subtree credits the subtree's parent, which resumes when it was the last child", async () => {
    const store = await open();
    const flow = await store.createFlow(threeLevels(), T0);
    const [mid, c] = flow.children;
    const cRun = await claimNamed(store, 'leaf-c', T0 + 500);
    await expectApplied(store.finishAttempt(fenceOf(cRun), { kind: 'completed', result: '3' }, T0 + 501));
    const { cancelled } = await store.cancelTaskTree(mid.id, {}, T0 + 600);
    expect(cancelled).toEqual([mid.id, ...mid.children.map((child) => child.id)]);
    const root = (await store.getTask(flow.id))!;
    expect(root).toMatchObject({ status: 'pending', stage: 1 });
    expect(root.result).toEqual([{ task_id: mid.id, error: 'Task cancelled' }, { task_id: c.id, result: 3 }]);
  });

  test('cancelTaskTree reaches descendants below a finished task', async () => {
    const store = await open();
    const flow = await store.createFlow(threeLevels(), T0);
    const [mid] = flow.children;
    // the middle task cancelled alone: its children run on
    await store.cancelTask(mid.id, {}, T0 + 1);
    expect((await db.tasks(store, { parent_id: mid.id })).map((t) => t.status)).toEqual(['pending', 'pending']);
    const { cancelled, task } = await store.cancelTaskTree(mid.id, {}, T0 + 2);
    expect(task.status).toBe('permanently_failed');
    expect(cancelled).toEqual(mid.children.map((child) => child.id));
  });
}

