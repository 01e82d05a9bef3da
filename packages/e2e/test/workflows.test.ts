import { expect } from 'vitest';
import { InvalidTransitionError, Suspension, type ChildResult } from '@taskmill/core';
import { backends } from '../src/backends.js';
import { describeBackends, waitFor, waitForStatus } from '../src/harness.js';

const types = async (tm: { getTaskEvents(id: number): Promise<{ event_type: string }[]> }, id: number) =>
  (await tm.getTaskEvents(id)).map((e) => e.event_type);

describeBackends('workflows', backends(), (env) => {
  env.test('a 3-stage workflow: 5 children, then 3 children, then the parent completes with the exact stages, results and events', async () => {
    const tm = await env.isolated();
    const seen: Array<{ stage: number; result: unknown; context: string | null }> = [];
    tm.use('square', (task) => (task.payload as { n: number }).n ** 2);
    tm.use('parent', (task, next) => {
      seen.push({ stage: task.stage, result: task.result, context: task.context ? Buffer.from(task.context).toString() : null });
      if (task.stage === 0) return next([1, 2, 3, 4, 5].map((n) => ({ name: 'square', payload: { n } })), Buffer.from('after-five'));
      if (task.stage === 1) return next([6, 7, 8].map((n) => ({ name: 'square', payload: { n } })));
      return { sum: (task.result as Array<{ result: number }>).reduce((s, r) => s + r.result, 0) };
    });
    const root = await tm.async('parent', {});
    await tm.start();
    const done = await waitForStatus(tm, root, 'completed');
    expect(done).toMatchObject({ stage: 2, result: { sum: 36 + 49 + 64 }, total_children: 8, completed_children: 8 });
    expect(seen.map((s) => s.stage)).toEqual([0, 1, 2]);
    expect(seen[0]).toMatchObject({ result: null, context: null });
    const children = await tm.getChildTasks(root);
    expect(children).toHaveLength(8);
    expect(children.every((c) => c.parent_id === root && c.root_id === root && c.type === 'async' && c.status === 'completed')).toBe(true);
    const ids = children.map((c) => c.id);
    expect(seen[1].result).toEqual(ids.slice(0, 5).map((id, i) => ({ task_id: id, result: (i + 1) ** 2 })));
    expect(seen[1].context).toBe('after-five');
    expect(seen[2].result).toEqual(ids.slice(5).map((id, i) => ({ task_id: id, result: (i + 6) ** 2 })));
    expect(seen[2].context).toBe('after-five'); // kept: the second next() gave none
    expect(await types(tm, root)).toEqual([
      'task_created',
      'task_claimed', 'task_started', 'task_subtasks_created', 'task_status_changed', 'task_status_changed',
      'task_claimed', 'task_started', 'task_subtasks_created', 'task_status_changed', 'task_status_changed',
      'task_claimed', 'task_started', 'task_completed',
    ]);
    const events = await tm.getTaskEvents(root);
    expect(events.filter((e) => e.event_type === 'task_status_changed').map((e) => [e.to_status, e.stage, e.metadata?.suspend_reason ?? e.metadata?.resume_reason])).toEqual([
      ['suspended', 0, 'awaiting_subtasks'],
      ['pending', 1, 'children_completed'],
      ['suspended', 1, 'awaiting_subtasks'],
      ['pending', 2, 'children_completed'],
    ]);
    const attempts = await tm.getTaskAttempts(root);
    expect(attempts.map((a) => a.outcome)).toEqual(['suspended', 'suspended', 'completed']);
    // the children's task_created events come before the parent's task_subtasks_created, in the same instant
    const workflow = events.find((e) => e.event_type === 'task_subtasks_created')!;
    expect(workflow.metadata).toMatchObject({ child_count: 5, child_task_ids: ids.slice(0, 5) });
    const firstChildCreated = (await tm.getTaskEvents(ids[0]))[0];
    expect(firstChildCreated.event_type).toBe('task_created');
    expect(firstChildCreated.id).toBeLessThan(workflow.id);
    expect(firstChildCreated.root_id).toBe(root);
  });

  env.test('a child that exhausts its retries and a cancelled child are reported to the parent exactly once', async () => {
    const tm = await env.isolated();
    let gateOpen = false;
    tm.use('ok', () => 'fine');
    tm.use('bad', () => {
      throw new Error('child broke');
    });
    tm.use('wait', async () => {
      await waitFor(() => gateOpen, { timeout: 60_000 });
      return 'never';
    });
    let parentRuns = 0;
    let received: ChildResult[] = [];
    tm.use('parent', (task, next) => {
      parentRuns++;
      if (task.stage === 0) {
        return next([
          { name: 'ok' },
          { name: 'bad', max_retries: 2 },
          { name: 'wait', payload: {}, timeout: 60 },
        ]);
      }
      received = task.result as ChildResult[];
      return 'parent done';
    });
    const root = await tm.async('parent', {});
    await tm.start();
    await waitFor(async () => (await tm.getChildTasks(root)).length === 3);
    const [okId, badId, waitId] = (await tm.getChildTasks(root)).map((c) => c.id);
    await waitForStatus(tm, badId, 'permanently_failed');
    await waitForStatus(tm, waitId, 'running');
    expect((await tm.getTask(root))!.status).toBe('suspended');
    await tm.cancelTask(waitId, { reason: 'operator cancelled' });
    gateOpen = true;
    const done = await waitForStatus(tm, root, 'completed');
    expect(parentRuns).toBe(2);
    expect(done).toMatchObject({ total_children: 3, completed_children: 3 });
    expect(received.map((r) => r.task_id)).toEqual([okId, badId, waitId]);
    expect(received[0]).toEqual({ task_id: okId, result: 'fine' });
    expect((received[1] as { error: string }).error).toMatch(/^Error: child broke/);
    expect(received[2]).toEqual({ task_id: waitId, error: 'operator cancelled' });
    expect((await tm.getTaskEvents(root)).filter((e) => e.metadata?.resume_reason === 'children_completed')).toHaveLength(1);
    // nothing credits again later
    await new Promise((r) => setTimeout(r, 400));
    expect(await tm.getTask(root)).toMatchObject({ completed_children: 3, result: 'parent done' });
  });

  env.test('next([]) resumes the parent at once at stage + 1 with an empty result', async () => {
    const tm = await env.isolated();
    const stages: Array<[number, unknown]> = [];
    tm.use('p', (task, next) => {
      stages.push([task.stage, task.result]);
      return task.stage === 0 ? next([]) : 'after-empty';
    });
    const id = await tm.async('p', {});
    await tm.start();
    await waitForStatus(tm, id, 'completed');
    expect(stages).toEqual([[0, null], [1, []]]);
  });

  env.test('explicit suspend → resumeTask with context; getTasksByStatus tells awaiting_subtasks from other reasons', async () => {
    const tm = await env.isolated();
    const runs: Array<{ stage: number; result: unknown; context: string | null }> = [];
    tm.use('approval', (task) => {
      runs.push({ stage: task.stage, result: task.result, context: task.context ? Buffer.from(task.context).toString() : null });
      if (task.stage === 0) return task.suspend({ reason: 'needs_approval', metadata: { by: 'ops' }, context: Buffer.from('draft-1') });
      return 'approved';
    });
    tm.use('child', (task) => new Promise((r) => task.signal.addEventListener('abort', r)));
    tm.use('fan', (_task, next) => next({ name: 'child' }));
    const id = await tm.async('approval', {});
    const fan = await tm.async('fan', {});
    await tm.start();
    const suspended = await waitForStatus(tm, id, 'suspended');
    expect(suspended).toMatchObject({ suspend_reason: 'needs_approval', stage: 0 });
    await waitForStatus(tm, fan, 'suspended');
    expect((await tm.getTasksByStatus('suspended', { suspend_reason: 'awaiting_subtasks' })).map((t) => t.id)).toEqual([fan]);
    expect((await tm.getTasksByStatus('suspended', { suspend_reason: 'needs_approval' })).map((t) => t.id)).toEqual([id]);
    expect((await tm.getTasksByStatus('suspended')).map((t) => t.id).sort()).toEqual([id, fan].sort());
    const suspendEvent = (await tm.getTaskEvents(id)).at(-1)!;
    expect(suspendEvent).toMatchObject({ event_type: 'task_suspended', metadata: { suspend_reason: 'needs_approval', by: 'ops' } });
    await tm.resumeTask(id, { resume_reason: 'approved by alice' });
    const done = await waitForStatus(tm, id, 'completed');
    expect(done.stage).toBe(1);
    expect(runs).toEqual([
      { stage: 0, result: null, context: null },
      { stage: 1, result: [], context: 'draft-1' },
    ]);
    const resumed = (await tm.getTaskEvents(id)).find((e) => e.event_type === 'task_resumed')!;
    expect(resumed).toMatchObject({ from_status: 'suspended', to_status: 'pending', stage: 1, metadata: { resume_reason: 'approved by alice' } });
    // a suspended task can be cancelled; so can its running child
    await tm.cancelTask(fan, { reason: 'stop waiting' });
    for (const child of await tm.getChildTasks(fan)) await tm.cancelTask(child.id);
    expect(await tm.getTask(fan)).toMatchObject({ status: 'permanently_failed', error: 'stop waiting' });
  });

  env.test('a 3-level tree: grandchildren carry the root id, each level resumes with its own children', async () => {
    const tm = await env.isolated();
    tm.use('leaf', (task) => `leaf-${(task.payload as { i: number }).i}`);
    tm.use('mid', (task, next) => (task.stage === 0 ? next([{ name: 'leaf', payload: { i: 1 } }, { name: 'leaf', payload: { i: 2 } }]) : (task.result as ChildResult[]).length));
    tm.use('root', (task, next) => (task.stage === 0 ? next([{ name: 'mid' }, { name: 'mid' }]) : (task.result as Array<{ result: number }>).map((r) => r.result)));
    const root = await tm.async('root', {});
    await tm.start();
    const done = await waitForStatus(tm, root, 'completed');
    expect(done.result).toEqual([2, 2]);
    const mids = await tm.getChildTasks(root);
    expect(mids.map((m) => m.root_id)).toEqual([root, root]);
    for (const mid of mids) {
      const leaves = await tm.getChildTasks(mid.id);
      expect(leaves.map((l) => [l.parent_id, l.root_id, l.status])).toEqual([[mid.id, root, 'completed'], [mid.id, root, 'completed']]);
    }
    expect(await tm.getTasks({ workflow_root_id: root })).toHaveLength(7);
  });

  env.test('children take their defaults from the live registry and the parent priority; a cron parent can spawn children', async () => {
    const tm = await env.isolated();
    tm.use('c1', { handler: () => 1, timeout: 77, max_retries: 5 });
    tm.use('c2', { handler: () => 2, priority: 9 });
    tm.use('parent', (task, next) => (task.stage === 0 ? next([{ name: 'c1', tag: 'kid' }, { name: 'c2' }, { name: 'c1', priority: -1, timeout: 3 }]) : 'ok'));
    let cronRuns = 0;
    tm.use('cron-parent', (task, next) => {
      if (task.stage === 0) return next({ name: 'c1' });
      cronRuns++;
      return 'round';
    });
    const id = await tm.async('parent', {}, { priority: 4 });
    const cronId = await tm.cron('cron-parent', '* * * * * *');
    await tm.start();
    await waitForStatus(tm, id, 'completed');
    const kids = await tm.getChildTasks(id);
    expect(kids.map((k) => [k.priority, k.timeout, k.max_retries, k.tag])).toEqual([
      [4, 77, 5, 'kid'],
      [9, 60, 3, null],
      [-1, 3, 5, null],
    ]);
    await waitFor(() => cronRuns >= 1, { timeout: 10_000 });
    const cronTask = await waitFor(async () => {
      const t = await tm.getTask(cronId);
      return t && t.status === 'pending' && t.stage === 0 ? t : null;
    });
    expect(cronTask.type).toBe('cron');
    expect((await tm.getChildTasks(cronId)).length).toBeGreaterThanOrEqual(1);
  });

  env.test('bad workflow input fails the attempt or throws a typed error and leaves no orphan children', async () => {
    const tm = await env.isolated();
    tm.use('ok', () => 1);
    const cases: Record<string, (task: any, next: any) => unknown> = {
      noName: (_t, next) => next([{ name: 'ok' }, { payload: {} }]),
      unregistered: (_t, next) => next([{ name: 'ok' }, { name: 'ghost' }]),
      badContext: (_t, next) => next([{ name: 'ok' }], 'not binary'),
      emptyReason: (task) => task.suspend({ reason: '   ' }),
      suspensionNoReason: () => new Suspension({} as never),
      badChildOption: (_t, next) => next([{ name: 'ok', priority: 1.5 }]),
    };
    const expected: Record<string, RegExp> = {
      noName: /Child task missing required name property/,
      unregistered: /No handler registered for child task: ghost/,
      badContext: /Context must be a Buffer or Uint8Array/,
      emptyReason: /Suspension requires a non-empty reason/,
      suspensionNoReason: /Suspension requires a non-empty reason/,
      badChildOption: /priority must be an integer/,
    };
    const ids: Record<string, number> = {};
    for (const [name, handler] of Object.entries(cases)) {
      tm.use(name, handler);
      ids[name] = await tm.async(name, {}, { max_retries: 1 });
    }
    await tm.start();
    for (const [name, id] of Object.entries(ids)) {
      const t = await waitForStatus(tm, id, 'permanently_failed');
      expect(t.error, name).toMatch(expected[name]);
      expect(await tm.getChildTasks(id), name).toEqual([]);
      expect(t.total_children).toBe(0);
    }
    expect(await tm.getTasksByName('ok')).toEqual([]);
    const done = await tm.async('ok', {});
    await waitForStatus(tm, done, 'completed');
    await expect(tm.resumeTask(done)).rejects.toBeInstanceOf(InvalidTransitionError);
  });

  env.test('a parent whose worker lost ownership cannot create children', async () => {
    const tm = await env.isolated();
    tm.use('ok', () => 1);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    tm.use('parent', async (_task, next) => {
      await gate;
      return next([{ name: 'ok' }, { name: 'ok' }]);
    });
    const id = await tm.async('parent', {});
    await tm.start();
    await waitForStatus(tm, id, 'running');
    // ownership is lost (paused by an operator); the handler ignores its signal and returns next()
    await tm.pauseTask(id);
    release();
    await new Promise((r) => setTimeout(r, 300));
    expect(await tm.getTask(id)).toMatchObject({ status: 'paused', total_children: 0 });
    expect(await tm.getChildTasks(id)).toEqual([]);
    expect(await tm.getTasksByName('ok')).toEqual([]);
    expect(await types(tm, id)).not.toContain('task_subtasks_created');
  });
});
