import { expect } from 'vitest';
import * as audit from '@taskmill/audit';
import { ValidationError, type TaskAttempt, type TaskManager } from '@taskmill/core';
import { backends } from '../src/backends.js';
import { describeBackends, waitForStatus } from '../src/harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Seconds with millisecond fractions, as every duration of the audit trail (docs/behaviour.md#time). */
const seconds = (a: TaskAttempt) => (a.ended_at === null ? null : (a.ended_at - a.started_at) / 1000);

/**
 * root → a (20 ms, one checkpoint), b (10 ms, then spawns g: 200 ms), c (40 ms), d (fails, no retry).
 * The critical path is root → b → g: b + g take at least 210 ms, far more than any sibling even on
 * a loaded machine.
 */
async function runWorkflow(tm: TaskManager) {
  tm.use('a', async (task) => {
    await task.audit('halfway', { message: 'a is halfway' });
    await sleep(20);
    return 'a';
  });
  tm.use('b', async (task, next) => {
    if (task.stage === 0) {
      await sleep(10);
      return next([{ name: 'g', payload: {} }]);
    }
    return 'b';
  });
  tm.use('g', async () => {
    await sleep(200);
    return 'g';
  });
  tm.use('c', async () => {
    await sleep(40);
    return 'c';
  });
  tm.use('d', { handler: () => Promise.reject(new Error('d broke')), max_retries: 1 });
  tm.use('root', (task, next) =>
    task.stage === 0 ? next(['a', 'b', 'c', 'd'].map((name) => ({ name, payload: {} }))) : (task.result as unknown[]).length,
  );
  const root = await tm.async('root', {});
  await tm.start();
  await waitForStatus(tm, root, 'completed', 30_000);
  const tasks = await tm.getTasks({ workflow_root_id: root });
  const byName = Object.fromEntries(tasks.map((t) => [t.name, t]));
  return { root, tasks, byName };
}

describeBackends('audit', backends(), (env) => {
  env.test('getWorkflowAuditSummary of a workflow whose critical path is known in advance: every field', async () => {
    const tm = await env.isolated();
    const { root, tasks, byName } = await runWorkflow(tm);
    const summary = await tm.getWorkflowAuditSummary(root);
    const attempts = await tm.getTaskAttempts(root).then(async (own) => [
      ...own,
      ...(await Promise.all(tasks.filter((t) => t.id !== root).map((t) => tm.getTaskAttempts(t.id)))).flat(),
    ]);
    const events = await tm.getWorkflowEvents(root);
    const longest = (id: number) => Math.max(...attempts.filter((a) => a.task_id === id).map((a) => seconds(a)!));

    expect(summary.root_task).toMatchObject({ id: root, status: 'completed', stage: 1 });
    expect(summary.totals).toEqual({ tasks: 6, attempts: 8, events: events.length, checkpoints: 1, max_attempt: 2 });
    expect(Object.entries(summary.statuses)).toEqual([['completed', 5], ['permanently_failed', 1]]);
    expect(Object.entries(summary.attempt_outcomes)).toEqual([['completed', 5], ['failed', 1], ['suspended', 2]]);
    expect(Object.entries(summary.task_names)).toEqual([['a', 1], ['b', 1], ['c', 1], ['d', 1], ['g', 1], ['root', 1]]);
    expect(Object.entries(summary.stages)).toEqual([['0', 4], ['1', 2]]);
    expect(summary.workers).toEqual([tm.options.worker_id]);
    const ended = attempts.map((a) => a.ended_at!);
    expect(summary.timing).toEqual({
      created_at: byName.root.created_at,
      first_started_at: Math.min(...attempts.map((a) => a.started_at)),
      last_ended_at: Math.max(...ended),
      last_event_time: Math.max(...events.map((e) => e.event_time)),
      workflow_duration_seconds: (Math.max(...ended) - byName.root.created_at) / 1000,
    });
    const rootAttempts = attempts.filter((a) => a.task_id === root);
    expect(summary.stage_timings).toEqual(
      rootAttempts.map((a, i) => ({
        stage: i,
        attempt: a.attempt,
        started_at: a.started_at,
        ended_at: a.ended_at,
        duration_seconds: seconds(a),
        outcome: i === 0 ? 'suspended' : 'completed',
        worker_id: tm.options.worker_id,
      })),
    );
    expect(summary.failed_tasks).toEqual([{ task_id: byName.d.id, name: 'd', status: 'permanently_failed', error: expect.stringContaining('d broke') }]);

    // the critical path: root → b → g, each node's own duration its longest attempt, in milliseconds' precision
    const path = summary.critical_path;
    expect(path.nodes.map((n) => n.name)).toEqual(['root', 'b', 'g']);
    expect(path.nodes.map((n) => n.duration_seconds)).toEqual([longest(root), longest(byName.b.id), longest(byName.g.id)]);
    expect(path.total_duration_seconds).toBeCloseTo(longest(root) + longest(byName.b.id) + longest(byName.g.id), 9);
    expect(path.nodes[2].duration_seconds!).toBeGreaterThanOrEqual(0.2);
    expect(path.nodes[1].duration_seconds! + path.nodes[2].duration_seconds!).toBeGreaterThan(longest(byName.c.id));
    expect(path.nodes[2]).toMatchObject({ task_id: byName.g.id, status: 'completed', stage: 0, attempt: 1, outcome: 'completed' });
    expect(Number.isInteger(path.nodes[2].duration_seconds! * 1000)).toBe(true);
    expect(Number.isInteger(path.nodes[2].duration_seconds!)).toBe(false);

    const slowest = [...attempts].sort((x, y) => seconds(y)! - seconds(x)! || x.started_at - y.started_at || x.id - y.id).slice(0, 5);
    expect(summary.slowest_attempts).toEqual(slowest.map((a) => ({ ...a, duration_seconds: seconds(a) })));
  }, 60_000);

  env.test('paged audit queries, views and array forms through the TaskManager (docs/behaviour.md#queries)', async () => {
    const tm = await env.isolated();
    const { root, tasks, byName } = await runWorkflow(tm);
    const all = await tm.queryWorkflowEvents(root);
    expect(all).toMatchObject({ total: all.items.length, limit: null, offset: 0, has_more: false, next_cursor: null });
    expect(new Set(all.items.map((e) => e.task_id))).toEqual(new Set(tasks.map((t) => t.id)));
    expect(all.items.map((e) => [e.event_time, e.id])).toEqual([...all.items].sort((x, y) => x.event_time - y.event_time || x.id - y.id).map((e) => [e.event_time, e.id]));
    expect(await tm.getWorkflowEvents(root)).toEqual(all.items);

    // the filters of docs/behaviour.md#filters, each on its own
    const completed = await tm.queryWorkflowEvents(root, { event_type: 'task_completed' });
    expect(completed.total).toBe(5);
    expect((await tm.queryWorkflowEvents(root, { event_types: ['task_completed', 'task_permanently_failed'] })).total).toBe(6);
    expect((await tm.queryWorkflowEvents(root, { parent_id: root })).items.every((e) => e.parent_id === root)).toBe(true);
    expect((await tm.queryWorkflowEvents(root, { stage: 1 })).items.every((e) => e.stage === 1)).toBe(true);
    // attempt 2 is the second run of root and of b: their task_started events
    const second = (await tm.queryWorkflowEvents(root, { attempt: 2 })).items;
    expect(second.map((e) => [e.task_id, e.event_type]).sort()).toEqual([[root, 'task_started'], [byName.b.id, 'task_started']].sort());
    const t = all.items[Math.floor(all.items.length / 2)].event_time;
    expect((await tm.queryWorkflowEvents(root, { started_after: t })).items).toEqual(all.items.filter((e) => e.event_time >= t));
    expect((await tm.queryWorkflowEvents(root, { started_before: t })).items).toEqual(all.items.filter((e) => e.event_time <= t));
    const page = await tm.queryWorkflowEvents(root, { limit: 3, offset: 2, order: 'desc' });
    expect(page).toMatchObject({ total: all.total, limit: 3, offset: 2, has_more: true });
    expect(page.items).toEqual([...all.items].reverse().slice(2, 5));

    // a whole workflow log walked by cursor equals the log
    const walked = [];
    let next = await tm.queryWorkflowEvents(root, { limit: 4 });
    walked.push(...next.items);
    while (next.next_cursor) {
      next = await tm.queryWorkflowEvents(root, { limit: 4, cursor: next.next_cursor });
      walked.push(...next.items);
    }
    expect(walked).toEqual(all.items);

    // attempts
    const wfAttempts = await tm.queryWorkflowAttempts(root);
    expect(wfAttempts.total).toBe(8);
    expect(wfAttempts.items.map((a) => [a.attempt, a.id])).toEqual([...wfAttempts.items].sort((x, y) => x.attempt - y.attempt || x.id - y.id).map((a) => [a.attempt, a.id]));
    expect((await tm.queryWorkflowAttempts(root, { outcome: 'failed' })).items.map((a) => a.task_id)).toEqual([byName.d.id]);
    expect((await tm.queryWorkflowAttempts(root, { worker_id: tm.options.worker_id })).total).toBe(8);
    expect((await tm.queryWorkflowAttempts(root, { open_only: true })).total).toBe(0);
    const firstEnd = Math.min(...wfAttempts.items.map((a) => a.ended_at!));
    expect((await tm.queryWorkflowAttempts(root, { ended_before: firstEnd })).total).toBe(wfAttempts.items.filter((a) => a.ended_at === firstEnd).length);
    expect((await tm.queryWorkflowAttempts(root, { ended_after: firstEnd + 1 })).items.every((a) => a.ended_at! > firstEnd)).toBe(true);
    expect((await tm.queryTaskAttempts(byName.b.id)).items.map((a) => [a.attempt, a.outcome])).toEqual([[1, 'suspended'], [2, 'completed']]);
    expect(await tm.getTaskAttempts(byName.b.id, { outcome: 'completed' })).toHaveLength(1);
    expect((await tm.getTaskEvents(byName.a.id, { event_type: 'task_checkpoint' })).map((e) => e.message)).toEqual(['a is halfway']);

    // tasks and views
    const wfTasks = await tm.queryTasks({ workflow_root_id: root, limit: 2 });
    expect(wfTasks).toMatchObject({ total: 6, limit: 2, offset: 0, has_more: true });
    expect((await tm.queryTasks({ root_id: root, status: 'permanently_failed' })).items.map((x) => x.name)).toEqual(['d']);
    const taskAudit = await tm.getTaskAudit(byName.b.id, { events: { event_type: 'task_started' }, attempts: { limit: 1 } });
    expect(taskAudit.task).toMatchObject({ id: byName.b.id, name: 'b' });
    expect(taskAudit.events).toMatchObject({ total: 2 });
    expect(taskAudit.attempts).toMatchObject({ total: 2, limit: 1, has_more: true });
    const wfAudit = await tm.getWorkflowAudit(root, { tasks: { name: 'g' }, events: { limit: 1 } });
    expect(wfAudit.root_task?.id).toBe(root);
    expect(wfAudit.tasks.items.map((x) => x.id)).toEqual([byName.g.id]);
    expect(wfAudit.events).toMatchObject({ total: all.total, limit: 1, items: [all.items[0]] });
    // a task that does not exist: empty views, not errors
    expect(await tm.getTaskAudit(999_999)).toMatchObject({ task: null, events: { total: 0 }, attempts: { total: 0 } });
    expect(await tm.getWorkflowAuditSummary(999_999)).toMatchObject({ root_task: null, totals: { tasks: 0 }, critical_path: { total_duration_seconds: 0, nodes: [] } });
  }, 60_000);

  env.test('bad audit input is a ValidationError with one clear message and reads nothing', async () => {
    const tm = await env.isolated();
    tm.use('x', () => null);
    const root = await tm.async('x', {});
    const rejects = (p: Promise<unknown>, message: string | RegExp) => expect(p).rejects.toThrow(message);
    for (const empty of [undefined, null, '', 0]) {
      await rejects(tm.queryTaskEvents(empty as never), 'Task ID is required');
      await rejects(tm.getTaskEvents(empty as never), 'Task ID is required');
      await rejects(tm.queryTaskAttempts(empty as never), 'Task ID is required');
      await rejects(tm.getTaskAudit(empty as never), 'Task ID is required');
      await rejects(tm.queryWorkflowEvents(empty as never), 'Root task ID is required');
      await rejects(tm.queryWorkflowAttempts(empty as never), 'Root task ID is required');
      await rejects(tm.getWorkflowAudit(empty as never), 'Root task ID is required');
      await rejects(tm.getWorkflowAuditSummary(empty as never), 'Root task ID is required');
    }
    await rejects(tm.queryTaskEvents(root, { limit: 0 }), 'limit must be a positive integer');
    await rejects(tm.queryTaskEvents(root, { limit: 2.5 }), 'limit must be a positive integer');
    await rejects(tm.queryWorkflowEvents(root, { limit: 1, offset: -1 }), 'offset must be a non-negative integer');
    await rejects(tm.queryTasks({ order: 'sideways' as never }), `order must be 'asc' or 'desc', got "sideways"`);
    await rejects(tm.queryTasks({ status: 'done' as never }), 'Invalid status value: "done"');
    await rejects(tm.queryTasks({ type: 'weekly' as never }), 'Invalid task type: "weekly"');
    await rejects(tm.queryTaskEvents(root, { event_type: 'task_exploded' as never }), 'Invalid event type: "task_exploded"');
    await rejects(tm.queryTaskEvents(root, { event_types: ['task_created', 'nope'] as never }), 'Invalid event type: "nope"');
    await rejects(tm.queryTaskAttempts(root, { outcome: 'meh' as never }), 'Invalid attempt outcome: "meh"');
    await rejects(tm.queryTaskEvents(root, { evnt_type: 'task_created' } as never), /Unknown event filter option "evnt_type"/);
    await rejects(tm.queryTasks([] as never), 'task filter must be an object');
    await rejects(tm.getTaskAudit(root, { event: {} } as never), /Unknown getTaskAudit option "event"/);
    await rejects(tm.queryTaskEvents(root, { limit: 1, cursor: 'not-a-cursor' }), 'cursor must be a next_cursor returned by this query');
    await expect(tm.queryTasks({ status: 'done' as never })).rejects.toBeInstanceOf(ValidationError);
    // hostile ids find nothing, as everywhere else (docs/behaviour.md#errors)
    expect(await tm.getTaskEvents('1 OR 1=1' as never)).toEqual([]);
    expect((await tm.queryWorkflowAttempts('1; DROP TABLE taskmill_tasks' as never)).total).toBe(0);
    expect(await tm.getTask(root)).toMatchObject({ id: root });
  });

});

// a second store on the same database: every backend but sqlite::memory:, which one manager owns
describeBackends('audit without a manager', backends().filter((b) => b.name !== 'sqlite-memory'), (env) => {
  env.test('@taskmill/audit works on a store alone, with no TaskManager running', async () => {
    const tm = await env.isolated();
    const { root, byName } = await runWorkflow(tm);
    const expected = await tm.getWorkflowAuditSummary(root);
    const expectedAudit = await tm.getTaskAudit(byName.a.id);
    await tm.stop();
    const store = await env.db().openPeerStore();
    try {
      expect(await audit.getWorkflowAuditSummary(store, root)).toEqual(expected);
      expect(await audit.getTaskAudit(store, byName.a.id)).toEqual(expectedAudit);
      expect((await audit.queryWorkflowEvents(store, root, { event_type: 'task_checkpoint' })).items.map((e) => e.task_id)).toEqual([byName.a.id]);
      expect((await audit.queryTasks(store, { workflow_root_id: root })).total).toBe(6);
      expect((await audit.queryWorkflowAttempts(store, root, { outcome: 'suspended' })).total).toBe(2);
      expect((await audit.getWorkflowAudit(store, root)).root_task?.id).toBe(root);
      await expect(audit.queryTaskAttempts(store, '' as never)).rejects.toThrow('Task ID is required');
    } finally {
      await store.close();
    }
  }, 60_000);
});
