import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { HandlerNotFoundError, LIMITS, LimitExceededError, PermanentError, ValidationError, type ChildResult, type FlowDefinition, type TaskManager } from '@taskmill/core';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { appDatabase } from '../src/app-transactions.js';
import { backends, connectionUrl, sharedBackends } from '../src/backends.js';
import { describeBackends, waitFor, waitForStatus } from '../src/harness.js';
import { spawnWorker } from '../src/processes.js';

/*
 * Flows created up front, child failure rules and cascade cancel (docs/behaviour.md#flows,
 * #child-failure-rules, #cascade-cancel), through the TaskManager on every store.
 */

/** What each parent saw when it ran: its stage and its children's outcomes. */
type Seen = Map<string, { stage: number; result: ChildResult[] }>;

/** `parent` records what it sees and returns how many results it got; `leaf` returns `payload.v`, or fails for good when `payload.fail`. */
function register(tm: TaskManager, seen: Seen, order: string[]): void {
  tm.use('parent', (task) => {
    const label = (task.payload as { label: string }).label;
    order.push(label);
    seen.set(label, { stage: task.stage, result: task.result as ChildResult[] });
    return { label, results: (task.result as ChildResult[]).length };
  });
  tm.use('leaf', { max_retries: 1, handler: (task) => {
    const payload = task.payload as { label: string; v?: number; fail?: boolean };
    order.push(payload.label);
    if (payload.fail) throw new PermanentError(`${payload.label} broke`);
    return payload.v ?? null;
  } });
}

/**
 * root ─┬─ mid ─┬─ a
 *       │       └─ b
 *       └─ c
 */
function threeLevels(rules: { a?: { fail?: boolean; on_failure?: 'fail' | 'ignore' | 'continue' }; mid?: 'fail' | 'ignore' | 'continue' } = {}): FlowDefinition {
  return {
    name: 'parent',
    payload: { label: 'root' },
    children: [
      {
        name: 'parent',
        payload: { label: 'mid' },
        ...(rules.mid ? { on_failure: rules.mid } : {}),
        children: [
          { name: 'leaf', payload: { label: 'a', v: 1, fail: rules.a?.fail }, ...(rules.a?.on_failure ? { on_failure: rules.a.on_failure } : {}) },
          { name: 'leaf', payload: { label: 'b', v: 2 } },
        ],
      },
      { name: 'leaf', payload: { label: 'c', v: 3 } },
    ],
  };
}

describeBackends('flows', backends(), (env) => {
  env.test('a flow of three levels runs leaves first and every parent sees its children results', async () => {
    const tm = await env.isolated();
    const seen: Seen = new Map();
    const order: string[] = [];
    register(tm, seen, order);
    const flow = await tm.flow(threeLevels());
    expect(flow.created).toBe(true);
    const [mid, c] = flow.children;
    const [a, b] = mid.children;
    expect((await tm.getTask(flow.id))!).toMatchObject({ status: 'suspended', suspend_reason: 'awaiting_subtasks', total_children: 2 });
    await tm.start();
    expect(await waitForStatus(tm, flow.id, 'completed')).toMatchObject({ stage: 1, result: { label: 'root', results: 2 } });
    // leaves before their parents, each parent after all its children
    expect(order.indexOf('mid')).toBeGreaterThan(Math.max(order.indexOf('a'), order.indexOf('b')));
    expect(order.indexOf('root')).toBeGreaterThan(Math.max(order.indexOf('mid'), order.indexOf('c')));
    expect(seen.get('mid')).toEqual({ stage: 1, result: [{ task_id: a.id, result: 1 }, { task_id: b.id, result: 2 }] });
    expect(seen.get('root')).toEqual({ stage: 1, result: [{ task_id: mid.id, result: { label: 'mid', results: 2 } }, { task_id: c.id, result: 3 }] });
    const tasks = await tm.getTasks({ workflow_root_id: flow.id });
    expect(tasks.every((t) => t.status === 'completed' && (t.id === flow.id || t.root_id === flow.id))).toBe(true);
  });

  env.test("child failure rules: 'continue' reports {task_id, error}, 'ignore' leaves the child out", async () => {
    const tm = await env.isolated();
    const seen: Seen = new Map();
    register(tm, seen, []);
    const kept = await tm.flow(threeLevels({ a: { fail: true } }));
    await tm.start();
    await waitForStatus(tm, kept.id, 'completed');
    const [a, b] = kept.children[0].children;
    expect(seen.get('mid')!.result).toEqual([{ task_id: a.id, error: expect.stringContaining('PermanentError: a broke') }, { task_id: b.id, result: 2 }]);

    seen.clear();
    const ignored = await tm.flow(threeLevels({ a: { fail: true, on_failure: 'ignore' } }));
    await waitForStatus(tm, ignored.id, 'completed');
    expect(seen.get('mid')!.result).toEqual([{ task_id: ignored.children[0].children[1].id, result: 2 }]);
    expect((await tm.getTask(ignored.children[0].id))!.completed_children).toBe(2);
  });

  env.test("child failure rule 'fail': the parent fails at once, its unfinished children are cancelled, and it propagates by the parent's rule", async () => {
    const tm = await env.isolated();
    const seen: Seen = new Map();
    register(tm, seen, []);
    // b waits for a signal that never comes: it is running when a fails
    let bStarted = false;
    let bAborted = false;
    tm.use('slow', (task) => new Promise((resolve) => {
      bStarted = true;
      task.signal.addEventListener('abort', () => {
        bAborted = true;
        resolve('late');
      });
    }));
    const def = threeLevels({ mid: 'fail' });
    const midDef = def.children![0];
    midDef.children = [
      { name: 'leaf', payload: { label: 'a', fail: true }, on_failure: 'fail', options: { delay: 0.3 } },
      { name: 'slow', payload: {} },
    ];
    const flow = await tm.flow(def);
    const [mid, c] = flow.children;
    const [a, b] = mid.children;
    await tm.start();
    await waitFor(() => bStarted, { what: 'b running' });
    const root = await waitForStatus(tm, flow.id, 'permanently_failed');
    expect(root.error).toBe(`Child task ${mid.id} (parent) failed: Child task ${a.id} (leaf) failed: PermanentError: a broke`);
    expect(await tm.getTask(mid.id)).toMatchObject({ status: 'permanently_failed' });
    expect((await tm.getTask(b.id))!.status).toBe('permanently_failed');
    await waitFor(() => bAborted, { what: "b's signal aborted" });
    // c was done or cancelled; no parent handler ran
    expect(['completed', 'permanently_failed']).toContain((await tm.getTask(c.id))!.status);
    expect(seen.size).toBe(0);
    const bEvents = await tm.getTaskEvents(b.id);
    expect(bEvents.filter((e) => e.event_type === 'task_permanently_failed')).toEqual([expect.objectContaining({ metadata: expect.objectContaining({ cancelled: true, cascade: true, cancelled_by: mid.id }) })]);
    expect(bEvents.some((e) => e.event_type === 'task_completed')).toBe(false);
    expect((await tm.getTaskAttempts(b.id)).map((x) => x.outcome)).toEqual(['cancelled']);
  });

  env.test("a flow's parent whose handler fails is retried at its stage with the same children results", async () => {
    const tm = await env.isolated();
    const runs: Array<{ stage: number; result: unknown }> = [];
    tm.use('leaf', (task) => (task.payload as { v: number }).v);
    tm.use('sum', { max_retries: 2, handler: (task) => {
      runs.push({ stage: task.stage, result: task.result });
      if (runs.length === 1) throw new Error('flaky');
      return (task.result as Array<{ result: number }>).reduce((sum, r) => sum + r.result, 0);
    } });
    const flow = await tm.flow({ name: 'sum', children: [{ name: 'leaf', payload: { v: 2 } }, { name: 'leaf', payload: { v: 5 } }] });
    await tm.start();
    expect(await waitForStatus(tm, flow.id, 'completed')).toMatchObject({ result: 7, stage: 1, retry_count: 1 });
    expect(runs).toHaveLength(2);
    expect(runs[1]).toEqual(runs[0]);
    expect(runs[0].stage).toBe(1);
  });

  env.test('next() children take on_failure too', async () => {
    const tm = await env.isolated();
    tm.use('leaf', { max_retries: 1, handler: () => { throw new PermanentError('no'); } });
    tm.use('spawner', (task, next) => (task.stage === 0 ? next([{ name: 'leaf', on_failure: 'fail' }]) : 'never'));
    const id = await tm.async('spawner');
    await tm.start();
    expect((await waitForStatus(tm, id, 'permanently_failed')).error).toMatch(/^Child task \d+ \(leaf\) failed: PermanentError: no/);
  });

  env.test('a flow with one invalid task writes nothing: bad shapes, rules, names, limits are typed errors', async () => {
    const tm = await env.isolated();
    tm.use('parent', () => null);
    tm.use('leaf', () => null);
    await tm.setup();
    const bad: Array<[unknown, new (...args: never[]) => Error, RegExp]> = [
      [{ name: 'parent', children: [{ name: 'leaf' }, 'leaf'] }, ValidationError, /root\.children\[1\] must be an object/],
      [{ name: 'parent', children: [{ name: 'leaf', on_failure: 'explode' }] }, ValidationError, /on_failure must be one of fail, ignore, continue/],
      [{ name: 'parent', on_failure: 'fail', children: [{ name: 'leaf' }] }, ValidationError, /the root has no parent/],
      [{ name: 'parent', children: [{ name: 'leaf' }, { name: 'nobody' }] }, HandlerNotFoundError, /nobody/],
      [{ name: 'parent', children: [{ name: 'leaf', options: { priority: 1.5 } }] }, ValidationError, /priority/],
      [{ name: 'parent', children: [{ name: 'leaf', retries: 3 }] }, ValidationError, /retries/],
      [{ name: 'parent', children: [{ name: '' }] }, ValidationError, /missing its name/],
      [{ name: 'parent', children: { name: 'leaf' } }, ValidationError, /must be an array/],
      [{ name: 'parent', children: [{ name: 'parent', options: { delay: 5 }, children: [{ name: 'leaf' }] }] }, ValidationError, /delay/],
      [{ name: 'parent', options: { unique_key: 'k', unique_scope: 'pending' }, children: [{ name: 'leaf' }] }, ValidationError, /pending/],
      [{ name: 'parent', children: [{ name: 'leaf', payload: { big: 'x'.repeat(LIMITS.max_payload_bytes) } }] }, LimitExceededError, /max_payload_bytes/],
      [{ name: 'parent', children: Array.from({ length: LIMITS.max_flow_tasks }, () => ({ name: 'leaf' })) }, LimitExceededError, /max_flow_tasks/],
    ];
    let deep: Record<string, unknown> = { name: 'leaf' };
    for (let i = 0; i < LIMITS.max_flow_depth; i++) deep = { name: 'parent', children: [deep] };
    bad.push([{ name: 'parent', children: [deep] }, LimitExceededError, /max_flow_depth/]);
    // a child that names itself is cut off by the depth limit, never looped over
    const cyclic: Record<string, unknown> = { name: 'parent' };
    cyclic.children = [cyclic];
    bad.push([cyclic, LimitExceededError, /max_flow_depth/]);
    for (const [i, [def, ErrorClass, message]] of bad.entries()) {
      const error = await tm.flow(def as FlowDefinition).catch((e: unknown) => e);
      expect(error, `case ${i}`).toBeInstanceOf(ErrorClass);
      expect((error as Error).message).toMatch(message);
    }
    expect(await tm.getTasks()).toEqual([]);
    // the deepest flow allowed is accepted
    let deepest: Record<string, unknown> = { name: 'leaf' };
    for (let i = 0; i < LIMITS.max_flow_depth - 1; i++) deepest = { name: 'parent', children: [deepest] };
    const ok = await tm.flow({ name: 'parent', children: [deepest] } as unknown as FlowDefinition);
    expect((await tm.getTasks({ workflow_root_id: ok.id })).length).toBe(LIMITS.max_flow_depth + 1);
  });

  env.test('a flow keyed by unique_key is created once', async () => {
    const tm = await env.isolated();
    tm.use('parent', () => null);
    tm.use('leaf', () => null);
    const first = await tm.flow({ name: 'parent', options: { unique_key: 'order-7' }, children: [{ name: 'leaf' }] });
    const second = await tm.flow({ name: 'parent', options: { unique_key: 'order-7' }, children: [{ name: 'leaf' }, { name: 'leaf' }] });
    expect(second).toEqual({ id: first.id, created: false, children: [] });
    expect(await tm.getTasks()).toHaveLength(2);
  });

  env.test('cascade cancel of a three-level tree while children run: handlers see the abort, nothing completes after, completed ones stay', async () => {
    const tm = await env.isolated();
    const started = new Set<string>();
    const aborted = new Set<string>();
    tm.use('parent', () => 'parent ran');
    tm.use('leaf', (task) => (task.payload as { label: string }).label);
    tm.use('hang', { max_concurrent_tasks: 5, handler: (task) => new Promise((resolve) => {
      const label = (task.payload as { label: string }).label;
      started.add(label);
      task.signal.addEventListener('abort', () => {
        aborted.add(label);
        // a handler that ignores the abort and returns anyway: its outcome must be discarded
        resolve(`late ${label}`);
      });
    }) });
    const flow = await tm.flow({
      name: 'parent',
      children: [
        { name: 'parent', children: [{ name: 'hang', payload: { label: 'x' } }, { name: 'leaf', payload: { label: 'done' } }] },
        { name: 'parent', children: [{ name: 'hang', payload: { label: 'y' } }, { name: 'hang', payload: { label: 'z' } }] },
      ],
    });
    const [left, right] = flow.children;
    await tm.start();
    await waitFor(() => started.size === 3, { what: 'three hanging leaves running' });
    const done = await waitForStatus(tm, left.children[1].id, 'completed');
    await tm.cancelTask(flow.id, { reason: 'customer withdrew', cascade: true });
    await waitFor(() => aborted.size === 3, { what: 'every running handler aborted' });
    const tasks = await tm.getTasks({ workflow_root_id: flow.id });
    expect(tasks).toHaveLength(7);
    for (const task of tasks) {
      if (task.id === done.id) expect(task).toMatchObject({ status: 'completed', result: 'done' });
      else expect(task).toMatchObject({ status: 'permanently_failed', error: 'customer withdrew' });
    }
    // no late outcome lands, no parent resumes
    await new Promise((resolve) => setTimeout(resolve, 300));
    const events = await tm.getWorkflowEvents(flow.id);
    const cancels = events.filter((e) => e.event_type === 'task_permanently_failed');
    expect(cancels.map((e) => e.task_id).sort((p, q) => p - q)).toEqual(tasks.filter((t) => t.id !== done.id).map((t) => t.id).sort((p, q) => p - q));
    expect(cancels.every((e) => e.metadata?.cascade === true && e.metadata?.cancelled_by === flow.id && e.metadata?.cancelled === true)).toBe(true);
    expect(events.filter((e) => e.event_type === 'task_completed').map((e) => e.task_id)).toEqual([done.id]);
    expect(events.some((e) => e.metadata?.resume_reason === 'children_completed')).toBe(false);
    expect((await tm.getTasks({ workflow_root_id: flow.id })).find((t) => t.id === right.id)?.status).toBe('permanently_failed');
    // a second cascade finds nothing to cancel
    await expect(tm.cancelTask(flow.id, { cascade: true })).rejects.toMatchObject({ code: 'TASKMILL_INVALID_TRANSITION' });
    await expect(tm.cancelTask(flow.id, { cascade: 'yes' } as never)).rejects.toBeInstanceOf(ValidationError);
  });
});

/** Run the built `taskmill` bin (as test/cli.test.ts does). */
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const bin = fileURLToPath(new URL('../node_modules/@taskmill/cli/dist/bin.js', import.meta.url));
  const env = { ...process.env };
  delete env.TASKMILL_DB;
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

describeBackends('flows across processes and transactions', sharedBackends(), (env) => {
  env.test('taskmill cancel --cascade cancels a whole flow from the command line', async () => {
    const tm = await env.isolated();
    tm.use('parent', () => null);
    tm.use('leaf', () => null);
    const flow = await tm.flow({ name: 'parent', children: [{ name: 'parent', children: [{ name: 'leaf' }, { name: 'leaf' }] }, { name: 'leaf' }] });
    const url = connectionUrl(env.db());
    const plain = await cli(['cancel', String(flow.children[1].id), '--db', url]);
    expect(plain).toMatchObject({ code: 0, stdout: `Task ${flow.children[1].id} (leaf) cancelled: now permanently_failed.\n` });
    const result = await cli(['cancel', String(flow.id), '--cascade', '--reason', 'withdrawn', '--db', url]);
    expect(result).toMatchObject({ code: 0, stderr: '', stdout: `Task ${flow.id} (parent) cancelled with its subtree: 4 tasks cancelled, now permanently_failed.\n` });
    const tasks = await tm.getTasks({ workflow_root_id: flow.id });
    expect(tasks.map((t) => [t.status, t.error])).toEqual([
      ['permanently_failed', 'withdrawn'],
      ['permanently_failed', 'withdrawn'],
      ['permanently_failed', 'Task cancelled'],
      ['permanently_failed', 'withdrawn'],
      ['permanently_failed', 'withdrawn'],
    ]);
    const again = await cli(['cancel', String(flow.id), '--cascade', '--json', '--db', url]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/permanently_failed/);
  });

  env.test('within(tx).flow() commits with the application transaction, or writes nothing when it rolls back', async () => {
    const tm = await env.isolated();
    tm.use('parent', () => 'done');
    tm.use('leaf', () => 1);
    await tm.setup();
    const db = await appDatabase(env.backend, env.db());
    try {
      const def: FlowDefinition = { name: 'parent', children: [{ name: 'parent', children: [{ name: 'leaf' }] }, { name: 'leaf' }] };
      await db.run('rollback', (tx) => tm.within(tx).flow(def)).catch(() => undefined);
      expect(await db.counts()).toEqual({ tasks: 0, events: 0, attempts: 0 });
      const flow = await db.run('commit', (tx) => tm.within(tx).flow(def));
      expect(await db.counts()).toMatchObject({ tasks: 4 });
      await tm.start();
      expect(await waitForStatus(tm, flow.id, 'completed')).toMatchObject({ result: 'done' });
    } finally {
      await db.close();
    }
  });

  env.test('a flow whose children another process finishes resumes its parent here with their results', async () => {
    const tm = await env.isolated();
    // this process validates `count` but never runs it: it registers only `collect` when it starts
    const creator = env.manager();
    creator.use('count', () => null);
    creator.use('collect', () => null);
    const seen: ChildResult[][] = [];
    tm.use('collect', (task) => {
      seen.push(task.result as ChildResult[]);
      return (task.result as ChildResult[]).length;
    });
    const flow = await creator.flow({ name: 'collect', children: [{ name: 'count' }, { name: 'count' }, { name: 'count', on_failure: 'ignore' }] });
    await tm.start();
    const dir = mkdtempSync(join(tmpdir(), 'taskmill-flow-'));
    const worker = await spawnWorker({ connection: env.db().processConnection, sideEffects: join(dir, 'worker.log'), managerOptions: { poll_interval: 20 } });
    try {
      const root = await waitForStatus(tm, flow.id, 'completed', 60_000);
      expect(root.result).toBe(3);
      const ids = flow.children.map((child) => child.id);
      expect(readFileSync(join(dir, 'worker.log'), 'utf8').trim().split('\n').map(Number).sort((p, q) => p - q)).toEqual(ids);
      expect(seen).toHaveLength(1);
      expect(seen[0].map((r) => r.task_id)).toEqual(ids);
      expect(seen[0].every((r) => 'result' in r && (r.result as { by: number }).by !== process.pid)).toBe(true);
    } finally {
      await worker.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
