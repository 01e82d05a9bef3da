import { describe, expect, it } from 'vitest';
import { NEW_TASK_DEFAULTS, type Task, type TaskAttempt, type TaskEvent } from '@taskmill/contracts';
import { attemptDurationSeconds, slowestAttempts, timedAttempt } from '../src/attempt-durations.js';
import { criticalPath, representativeAttempt } from '../src/critical-path.js';
import { summarizeWorkflow, type WorkflowRows } from '../src/summary.js';
import { countBy, failedTasks, stageTimings, workflowTasks, workflowTiming, workflowTotals, workflowWorkers } from '../src/workflow-totals.js';

const T0 = 1_700_000_000_000;

function task(id: number, overrides: Partial<Task> = {}): Task {
  return {
    id,
    name: 'job',
    type: 'async',
    priority: 0,
    payload: null,
    created_at: T0,
    tag: null,
    status: 'completed',
    next_run_time: T0,
    last_active_time: null,
    last_event_time: null,
    last_event_type: null,
    result: null,
    error: null,
    current_stage_name: null,
    progress_text: null,
    progress_percent: null,
    stage: 0,
    timeout: 60,
    retry_count: 0,
    max_retries: 3,
    retry_interval: 0,
    cron_expr: null,
    cron_tz: null,
    root_id: null,
    parent_id: null,
    total_children: 0,
    completed_children: 0,
    worker_id: null,
    start_time: null,
    context: null,
    attempt: 0,
    suspend_reason: null,
    on_failure: null,
    keep_stage: false,
    wake_at: null,
    awaited_signal: null,
    received_signal: null,
    ...NEW_TASK_DEFAULTS,
    ...overrides,
  };
}

/** A child of `parent`, in the workflow rooted at `root`. */
function child(id: number, parent: number, root: number, overrides: Partial<Task> = {}): Task {
  return task(id, { parent_id: parent, root_id: root, ...overrides });
}

let attemptIds = 1000;
function attempt(taskId: number, n: number, startedAt: number, endedAt: number | null, overrides: Partial<TaskAttempt> = {}): TaskAttempt {
  return {
    id: attemptIds++,
    task_id: taskId,
    attempt: n,
    worker_id: null,
    started_at: startedAt,
    ended_at: endedAt,
    outcome: endedAt === null ? null : 'completed',
    error: null,
    timeout_flag: false,
    ...overrides,
  };
}

let eventIds = 5000;
function event(taskId: number, rootId: number, overrides: Partial<TaskEvent> = {}): TaskEvent {
  return {
    id: eventIds++,
    task_id: taskId,
    root_id: rootId,
    parent_id: null,
    event_type: 'task_progress',
    from_status: null,
    to_status: null,
    stage: 0,
    worker_id: null,
    attempt: null,
    event_time: T0,
    message: null,
    metadata: null,
    ...overrides,
  };
}

/** Deterministic reshuffle: reversed, then rotated, so no input is accidentally sorted. */
function scramble<T>(items: readonly T[]): T[] {
  const reversed = [...items].reverse();
  const cut = Math.floor(reversed.length / 2);
  return [...reversed.slice(cut), ...reversed.slice(0, cut)];
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/**
 * A two-stage workflow: root 1 ran once at stage 0 (spawning children), once at stage 1.
 * Child 2 completed; child 3 failed, timed out, and is permanently failed; child 4 is paused.
 */
function sampleWorkflow(): WorkflowRows {
  const root = task(1, { name: 'root', status: 'completed', stage: 1, worker_id: 'w-b', attempt: 2 });
  const tasks = [
    root,
    child(2, 1, 1, { name: 'fetch', created_at: T0 + 10, worker_id: 'w-a', attempt: 1 }),
    child(3, 1, 1, {
      name: 'fetch',
      created_at: T0 + 10,
      status: 'permanently_failed',
      error: 'Error: boom',
      worker_id: 'w-c',
      attempt: 2,
    }),
    child(4, 1, 1, { name: 'load', created_at: T0 + 5, status: 'paused', worker_id: '', attempt: 0 }),
  ];
  const attempts = [
    attempt(1, 1, T0 + 1, T0 + 9, { id: 1, worker_id: 'w-b', outcome: 'suspended' }),
    attempt(2, 1, T0 + 20, T0 + 32, { id: 2, worker_id: 'w-a' }),
    attempt(3, 1, T0 + 20, T0 + 33, { id: 3, worker_id: 'w-c', outcome: 'failed', error: 'Error: boom' }),
    attempt(3, 2, T0 + 40, T0 + 41, { id: 4, worker_id: 'w-c', outcome: 'timeout', timeout_flag: true }),
    attempt(1, 2, T0 + 50, T0 + 60, { id: 5, worker_id: 'w-d', outcome: 'completed' }),
  ];
  const events = [
    event(1, 1, { id: 1, event_type: 'task_created', event_time: T0 }),
    event(1, 1, { id: 2, event_type: 'task_started', attempt: 1, stage: 0, worker_id: 'w-b', event_time: T0 + 1 }),
    event(1, 1, { id: 3, event_type: 'task_checkpoint', attempt: 1, stage: 0, worker_id: 'w-b', event_time: T0 + 2 }),
    event(2, 1, { id: 4, event_type: 'task_checkpoint', worker_id: 'w-e', event_time: T0 + 25 }),
    event(1, 1, { id: 5, event_type: 'task_started', attempt: 2, stage: 1, worker_id: 'w-d', event_time: T0 + 50 }),
    event(1, 1, { id: 6, event_type: 'task_completed', worker_id: null, event_time: T0 + 61 }),
  ];
  return { root, tasks, attempts, events };
}

describe('attemptDurationSeconds', () => {
  it('keeps millisecond fractions, never goes negative, and is null while open', () => {
    expect(attemptDurationSeconds(attempt(1, 1, T0, T0 + 12))).toBe(0.012);
    expect(attemptDurationSeconds(attempt(1, 1, T0, T0 + 13))).toBe(0.013);
    expect(attemptDurationSeconds(attempt(1, 1, T0, T0 + 1500))).toBe(1.5);
    expect(attemptDurationSeconds(attempt(1, 1, T0 + 5, T0))).toBe(0);
    expect(attemptDurationSeconds(attempt(1, 1, T0, null))).toBeNull();
  });

  it('timedAttempt copies the row and adds duration_seconds', () => {
    const row = attempt(7, 2, T0, T0 + 250, { worker_id: 'w' });
    const timed = timedAttempt(row);
    expect(timed).toEqual({ ...row, duration_seconds: 0.25 });
    expect(timed).not.toBe(row);
    expect(row).not.toHaveProperty('duration_seconds');
  });
});

describe('countBy', () => {
  it('counts per key with keys in sorted order, skipping null keys', () => {
    const counts = countBy(['b', 'a', null, 'c', 'a', undefined], (x) => x);
    expect(counts).toEqual({ a: 2, b: 1, c: 1 });
    expect(Object.keys(counts)).toEqual(['a', 'b', 'c']);
    expect(countBy([], (x: string) => x)).toEqual({});
  });
});

describe('summarizeWorkflow', () => {
  it('computes every field of the summary', () => {
    const rows = sampleWorkflow();
    const summary = summarizeWorkflow(rows);

    expect(summary.root_task).toBe(rows.root);
    expect(summary.totals).toEqual({ tasks: 4, attempts: 5, events: 6, checkpoints: 2, max_attempt: 2 });
    expect(summary.statuses).toEqual({ completed: 2, paused: 1, permanently_failed: 1 });
    expect(Object.keys(summary.statuses)).toEqual(['completed', 'paused', 'permanently_failed']);
    expect(summary.attempt_outcomes).toEqual({ completed: 2, failed: 1, suspended: 1, timeout: 1 });
    expect(Object.keys(summary.attempt_outcomes)).toEqual(['completed', 'failed', 'suspended', 'timeout']);
    expect(summary.task_names).toEqual({ fetch: 2, load: 1, root: 1 });
    expect(Object.keys(summary.task_names)).toEqual(['fetch', 'load', 'root']);
    expect(summary.stages).toEqual({ '0': 3, '1': 1 });
    expect(summary.workers).toEqual(['w-a', 'w-b', 'w-c', 'w-d', 'w-e']);
    expect(summary.timing).toEqual({
      created_at: T0,
      first_started_at: T0 + 1,
      last_ended_at: T0 + 60,
      last_event_time: T0 + 61,
      workflow_duration_seconds: 0.06,
    });
    expect(summary.stage_timings).toEqual([
      { stage: 0, attempt: 1, started_at: T0 + 1, ended_at: T0 + 9, duration_seconds: 0.008, outcome: 'suspended', worker_id: 'w-b' },
      { stage: 1, attempt: 2, started_at: T0 + 50, ended_at: T0 + 60, duration_seconds: 0.01, outcome: 'completed', worker_id: 'w-d' },
    ]);
    expect(summary.failed_tasks).toEqual([
      { task_id: 4, name: 'load', status: 'paused', error: null },
      { task_id: 3, name: 'fetch', status: 'permanently_failed', error: 'Error: boom' },
    ]);
    // Root's longest attempt is #2 (10 ms); child 3's longest is #1 (13 ms) beating child 2 (12 ms).
    expect(summary.critical_path).toEqual({
      total_duration_seconds: 0.023,
      nodes: [
        { task_id: 1, name: 'root', status: 'completed', stage: 1, attempt: 2, outcome: 'completed', duration_seconds: 0.01, started_at: T0 + 50, ended_at: T0 + 60 },
        { task_id: 3, name: 'fetch', status: 'permanently_failed', stage: 0, attempt: 1, outcome: 'failed', duration_seconds: 0.013, started_at: T0 + 20, ended_at: T0 + 33 },
      ],
    });
    expect(summary.slowest_attempts.map((a) => [a.id, a.duration_seconds])).toEqual([
      [3, 0.013],
      [2, 0.012],
      [5, 0.01],
      [1, 0.008],
      [4, 0.001],
    ]);
    expect(summary.slowest_attempts[0]).toEqual({ ...rows.attempts[2], duration_seconds: 0.013 });
  });

  it('gives the same result for scrambled input and never mutates its input', () => {
    const rows = sampleWorkflow();
    const expected = summarizeWorkflow(rows);
    const scrambled = deepFreeze({
      root: rows.root,
      tasks: scramble(rows.tasks),
      attempts: scramble(rows.attempts),
      events: scramble(rows.events),
    });
    expect(summarizeWorkflow(scrambled)).toEqual(expected);
  });

  it('summarises a missing root without inventing one', () => {
    const orphan = child(9, 8, 8, { status: 'failed', worker_id: 'w' });
    const summary = summarizeWorkflow({
      root: null,
      tasks: [orphan],
      attempts: [attempt(9, 1, T0, T0 + 5, { outcome: 'failed' })],
      events: [],
    });
    expect(summary.root_task).toBeNull();
    expect(summary.critical_path).toEqual({ total_duration_seconds: 0, nodes: [] });
    expect(summary.stage_timings).toEqual([]);
    expect(summary.timing.created_at).toBeNull();
    expect(summary.timing.workflow_duration_seconds).toBeNull();
    expect(summary.totals.tasks).toBe(1);

    const empty = summarizeWorkflow({ root: null, tasks: [], attempts: [], events: [] });
    expect(empty).toEqual({
      root_task: null,
      totals: { tasks: 0, attempts: 0, events: 0, checkpoints: 0, max_attempt: 0 },
      statuses: {},
      attempt_outcomes: {},
      task_names: {},
      stages: {},
      workers: [],
      timing: { created_at: null, first_started_at: null, last_ended_at: null, last_event_time: null, workflow_duration_seconds: null },
      stage_timings: [],
      failed_tasks: [],
      critical_path: { total_duration_seconds: 0, nodes: [] },
      slowest_attempts: [],
    });
  });

  it('summarises a pending root that never ran', () => {
    const root = task(1, { status: 'pending', name: 'r' });
    const summary = summarizeWorkflow({ root, tasks: [root], attempts: [], events: [event(1, 1, { event_type: 'task_created' })] });
    expect(summary.critical_path).toEqual({
      total_duration_seconds: 0,
      nodes: [{ task_id: 1, name: 'r', status: 'pending', stage: 0, attempt: null, outcome: null, duration_seconds: null, started_at: null, ended_at: null }],
    });
    expect(summary.stage_timings).toEqual([]);
    expect(summary.totals.max_attempt).toBe(0);
    expect(summary.attempt_outcomes).toEqual({});
    expect(summary.timing.workflow_duration_seconds).toBeNull();
    expect(summary.slowest_attempts).toEqual([]);
  });

  it('counts a root that is missing from the task list, once', () => {
    const root = task(1, { status: 'running' });
    expect(summarizeWorkflow({ root, tasks: [child(2, 1, 1)], attempts: [], events: [] }).statuses).toEqual({ completed: 1, running: 1 });
    expect(workflowTasks(root, [task(1, { status: 'failed' }), child(2, 1, 1)])).toEqual([root, child(2, 1, 1)]);
  });

  it('counts stages per current stage with string keys', () => {
    const root = task(1, { stage: 10 });
    const summary = summarizeWorkflow({
      root,
      tasks: [root, child(2, 1, 1, { stage: 2 }), child(3, 1, 1, { stage: 2 }), child(4, 1, 1, { stage: 0 })],
      attempts: [],
      events: [],
    });
    expect(summary.stages).toEqual({ '0': 1, '2': 2, '10': 1 });
  });
});

describe('workflowTotals', () => {
  it('counts checkpoints and the largest attempt number', () => {
    const totals = workflowTotals(
      [task(1)],
      [attempt(1, 3, T0, T0 + 1), attempt(1, 7, T0, null), attempt(1, 2, T0, T0)],
      [event(1, 1, { event_type: 'task_checkpoint' }), event(1, 1, { event_type: 'task_progress' }), event(1, 1, { event_type: 'task_checkpoint' })],
    );
    expect(totals).toEqual({ tasks: 1, attempts: 3, events: 3, checkpoints: 2, max_attempt: 7 });
  });
});

describe('workflowWorkers', () => {
  it('collects sorted unique non-empty ids from tasks, attempts and events', () => {
    const workers = workflowWorkers(
      [task(1, { worker_id: 'zeta' }), task(2, { worker_id: '' }), task(3, { worker_id: null }), task(4, { worker_id: 'alpha' })],
      [attempt(1, 1, T0, T0, { worker_id: 'mid' }), attempt(1, 2, T0, T0, { worker_id: 'zeta' }), attempt(1, 3, T0, T0, { worker_id: '' })],
      [event(1, 1, { worker_id: 'Beta' }), event(1, 1, { worker_id: null }), event(1, 1, { worker_id: 'alpha' })],
    );
    expect(workers).toEqual(['Beta', 'alpha', 'mid', 'zeta']);
  });
});

describe('workflowTiming', () => {
  it('uses the root creation time and the latest closed attempt', () => {
    const root = task(1, { created_at: T0 });
    const timing = workflowTiming(
      root,
      [attempt(1, 1, T0 + 100, T0 + 1_234), attempt(2, 1, T0 + 50, null), attempt(3, 1, T0 + 200, T0 + 900)],
      [event(1, 1, { event_time: T0 + 2_000 }), event(2, 1, { event_time: T0 + 10 })],
    );
    expect(timing).toEqual({
      created_at: T0,
      first_started_at: T0 + 50,
      last_ended_at: T0 + 1_234,
      last_event_time: T0 + 2_000,
      workflow_duration_seconds: 1.234,
    });
  });

  it('clamps a negative span to 0 and is null without an ended attempt or a root', () => {
    const root = task(1, { created_at: T0 + 5_000 });
    expect(workflowTiming(root, [attempt(1, 1, T0, T0 + 100)], []).workflow_duration_seconds).toBe(0);
    expect(workflowTiming(root, [attempt(1, 1, T0, null)], []).workflow_duration_seconds).toBeNull();
    expect(workflowTiming(null, [attempt(1, 1, T0, T0 + 100)], []).workflow_duration_seconds).toBeNull();
    expect(workflowTiming(root, [], [])).toEqual({
      created_at: T0 + 5_000,
      first_started_at: null,
      last_ended_at: null,
      last_event_time: null,
      workflow_duration_seconds: null,
    });
  });
});

describe('stageTimings', () => {
  const root = task(1, { stage: 2 });

  it('takes the stage from the root first start event of each attempt, else max(0, attempt - 1)', () => {
    const attempts = [
      attempt(1, 3, T0 + 300, null, { worker_id: 'w3' }),
      attempt(1, 1, T0 + 100, T0 + 112, { worker_id: 'w1', outcome: 'suspended' }),
      attempt(1, 2, T0 + 200, T0 + 213, { worker_id: 'w2', outcome: 'failed' }),
      attempt(2, 1, T0 + 150, T0 + 160), // a child's attempt: not a stage timing
    ];
    const events = [
      // Attempt 1: the retry-started event comes later and carries a different stage; the first wins.
      event(1, 1, { event_type: 'task_retry_started', attempt: 1, stage: 9, event_time: T0 + 101 }),
      event(1, 1, { event_type: 'task_started', attempt: 1, stage: 5, event_time: T0 + 100 }),
      // Only a child's start and a non-start root event mention attempt 2: fallback to 2 - 1.
      event(2, 1, { event_type: 'task_started', attempt: 2, stage: 7, event_time: T0 + 200 }),
      event(1, 1, { event_type: 'task_progress', attempt: 2, stage: 8, event_time: T0 + 201 }),
      event(1, 1, { event_type: 'task_retry_started', attempt: 3, stage: 4, event_time: T0 + 300 }),
    ];
    expect(stageTimings(root, attempts, events)).toEqual([
      { stage: 5, attempt: 1, started_at: T0 + 100, ended_at: T0 + 112, duration_seconds: 0.012, outcome: 'suspended', worker_id: 'w1' },
      { stage: 1, attempt: 2, started_at: T0 + 200, ended_at: T0 + 213, duration_seconds: 0.013, outcome: 'failed', worker_id: 'w2' },
      { stage: 4, attempt: 3, started_at: T0 + 300, ended_at: null, duration_seconds: null, outcome: null, worker_id: 'w3' },
    ]);
  });

  it('falls back to stage 0 for the first attempt and is empty without attempts or root', () => {
    expect(stageTimings(root, [attempt(1, 1, T0, T0 + 1)], []).map((s) => s.stage)).toEqual([0]);
    expect(stageTimings(root, [attempt(1, 0, T0, T0 + 1)], []).map((s) => s.stage)).toEqual([0]);
    expect(stageTimings(root, [], [])).toEqual([]);
    expect(stageTimings(null, [attempt(1, 1, T0, T0 + 1)], [])).toEqual([]);
  });
});

describe('failedTasks', () => {
  it('lists failed, timeout, permanently_failed and paused tasks only', () => {
    const statuses = ['pending', 'running', 'completed', 'failed', 'timeout', 'permanently_failed', 'paused', 'suspended'] as const;
    const tasks = statuses.map((status, i) => task(i + 1, { status, name: status, error: status === 'failed' ? 'Error: x' : null }));
    expect(failedTasks(scramble(tasks))).toEqual([
      { task_id: 4, name: 'failed', status: 'failed', error: 'Error: x' },
      { task_id: 5, name: 'timeout', status: 'timeout', error: null },
      { task_id: 6, name: 'permanently_failed', status: 'permanently_failed', error: null },
      { task_id: 7, name: 'paused', status: 'paused', error: null },
    ]);
  });
});

describe('representativeAttempt', () => {
  it('picks the longest attempt', () => {
    const long = attempt(1, 1, T0, T0 + 13);
    expect(representativeAttempt([attempt(1, 2, T0, T0 + 12), long, attempt(1, 3, T0, T0 + 1)])).toBe(long);
  });

  it('ranks open attempts below closed zero-length ones', () => {
    const closed = attempt(1, 2, T0, T0);
    const stale = attempt(1, 1, T0 - 10_000, null);
    expect(representativeAttempt([stale, closed])).toBe(closed);
    expect(representativeAttempt([closed, stale])).toBe(closed);
    const open = attempt(1, 1, T0, null);
    expect(representativeAttempt([open])).toBe(open);
    expect(representativeAttempt([])).toBeNull();
  });

  it('breaks duration ties by earlier ended_at, then by lower attempt number', () => {
    const early = attempt(1, 5, T0, T0 + 10);
    const late = attempt(1, 1, T0 + 100, T0 + 110);
    expect(representativeAttempt([late, early])).toBe(early);

    const first = attempt(1, 1, T0, T0 + 10);
    const second = attempt(1, 2, T0, T0 + 10);
    expect(representativeAttempt([second, first])).toBe(first);

    const openLow = attempt(1, 1, T0, null);
    const openHigh = attempt(1, 2, T0, null);
    expect(representativeAttempt([openHigh, openLow])).toBe(openLow);
  });
});

describe('criticalPath', () => {
  it('follows the child with the greatest total', () => {
    const root = task(1);
    const tasks = [root, child(2, 1, 1), child(3, 1, 1)];
    const attempts = [attempt(1, 1, T0, T0 + 5), attempt(2, 1, T0, T0 + 12), attempt(3, 1, T0, T0 + 13)];
    const path = criticalPath(root, tasks, attempts);
    expect(path.nodes.map((n) => n.task_id)).toEqual([1, 3]);
    expect(path.total_duration_seconds).toBe(0.018);
  });

  it('keeps the lowest child id when totals tie', () => {
    const root = task(1);
    const tasks = [root, child(7, 1, 1), child(3, 1, 1), child(5, 1, 1)];
    const attempts = [attempt(7, 1, T0, T0 + 40), attempt(5, 1, T0 + 1, T0 + 41), attempt(3, 1, T0 + 2, T0 + 42)];
    expect(criticalPath(root, tasks, attempts).nodes.map((n) => n.task_id)).toEqual([1, 3]);
    expect(criticalPath(root, scramble(tasks), scramble(attempts)).nodes.map((n) => n.task_id)).toEqual([1, 3]);
  });

  it('compares children by their whole path: a deep chain beats a longer single child', () => {
    const root = task(1);
    const tasks = [root, child(2, 1, 1, { name: 'a' }), child(3, 1, 1, { name: 'b' }), child(4, 2, 1, { name: 'a1', stage: 1 })];
    const attempts = [
      attempt(1, 1, T0, T0 + 1_000),
      attempt(2, 1, T0, T0 + 1_000),
      attempt(3, 1, T0, T0 + 3_000),
      attempt(4, 1, T0, T0 + 2_500, { outcome: 'failed' }),
      attempt(4, 2, T0 + 3_000, null),
    ];
    const path = criticalPath(root, scramble(tasks), scramble(attempts));
    expect(path.nodes.map((n) => n.task_id)).toEqual([1, 2, 4]);
    expect(path.total_duration_seconds).toBe(4.5);
    expect(path.nodes[2]).toEqual({
      task_id: 4,
      name: 'a1',
      status: 'completed',
      stage: 1,
      attempt: 1,
      outcome: 'failed',
      duration_seconds: 2.5,
      started_at: T0,
      ended_at: T0 + 2_500,
    });
  });

  it('sums totals without floating-point drift', () => {
    const root = task(1);
    const tasks = [root, child(2, 1, 1), child(3, 2, 1)];
    const attempts = [attempt(1, 1, T0, T0 + 100), attempt(2, 1, T0, T0 + 200), attempt(3, 1, T0, T0 + 1)];
    expect(criticalPath(root, tasks, attempts).total_duration_seconds).toBe(0.301);
  });

  it('counts a task without attempts or with only an open one as 0 but still lists it', () => {
    const root = task(1, { status: 'suspended' });
    const tasks = [root, child(2, 1, 1, { status: 'pending' }), child(3, 1, 1, { status: 'running' })];
    const attempts = [attempt(1, 1, T0, T0 + 7, { outcome: 'suspended' }), attempt(3, 1, T0 + 10, null)];
    const path = criticalPath(root, tasks, attempts);
    expect(path.total_duration_seconds).toBe(0.007);
    expect(path.nodes.map((n) => [n.task_id, n.attempt, n.duration_seconds])).toEqual([
      [1, 1, 0.007],
      [2, null, null],
    ]);
  });

  it('ignores tasks not reachable from the root and survives malformed cycles', () => {
    const root = task(1, { parent_id: 3 }); // malformed: the root claims its own grandchild as parent
    const tasks = [
      root,
      child(2, 1, 1),
      child(3, 2, 1),
      child(50, 51, 1), // a cycle outside the tree
      child(51, 50, 1),
      child(60, 99, 1), // parent not in the workflow
      child(61, 61, 1), // its own parent
      task(70, { root_id: 1 }), // no parent at all
    ];
    const attempts = [
      attempt(2, 1, T0, T0 + 10),
      attempt(3, 1, T0, T0 + 20),
      ...[50, 51, 60, 61, 70].map((id) => attempt(id, 1, T0, T0 + 1_000_000)),
    ];
    const path = criticalPath(root, tasks, attempts);
    expect(path.nodes.map((n) => n.task_id)).toEqual([1, 2, 3]);
    expect(path.total_duration_seconds).toBe(0.03);
  });

  it('handles a chain 10,000 tasks deep', () => {
    const depth = 10_000;
    const root = task(1);
    const tasks = [root];
    const attempts = [attempt(1, 1, T0, T0 + 1)];
    for (let id = 2; id <= depth; id++) {
      tasks.push(child(id, id - 1, 1));
      attempts.push(attempt(id, 1, T0, T0 + 1));
    }
    const path = criticalPath(root, scramble(tasks), attempts);
    expect(path.nodes).toHaveLength(depth);
    expect(path.nodes.at(-1)?.task_id).toBe(depth);
    expect(path.total_duration_seconds).toBe(10);
    expect(() => summarizeWorkflow({ root, tasks, attempts, events: [] })).not.toThrow();
  });

  it('is empty for a missing root', () => {
    expect(criticalPath(null, [task(2)], [attempt(2, 1, T0, T0 + 5)])).toEqual({ total_duration_seconds: 0, nodes: [] });
  });
});

describe('slowestAttempts', () => {
  it('returns the top five by duration with open attempts ranked below zero-length ones', () => {
    const attempts = [
      attempt(1, 1, T0, null, { id: 1 }),
      attempt(1, 2, T0, T0, { id: 2 }),
      attempt(2, 1, T0, T0 + 12, { id: 3 }),
      attempt(3, 1, T0, T0 + 13, { id: 4 }),
      attempt(4, 1, T0, T0 + 500, { id: 5 }),
      attempt(5, 1, T0, T0 + 2, { id: 6 }),
      attempt(6, 1, T0, T0 + 1, { id: 7 }),
    ];
    const slowest = slowestAttempts(scramble(attempts));
    expect(slowest.map((a) => [a.id, a.duration_seconds])).toEqual([
      [5, 0.5],
      [4, 0.013],
      [3, 0.012],
      [6, 0.002],
      [7, 0.001],
    ]);
    expect(slowestAttempts(attempts, 7).slice(5).map((a) => [a.id, a.duration_seconds])).toEqual([
      [2, 0],
      [1, null],
    ]);
    expect(slowestAttempts(attempts, 0)).toEqual([]);
  });

  it('breaks duration ties by started_at, then by id', () => {
    const attempts = [
      attempt(1, 1, T0 + 20, T0 + 30, { id: 10 }),
      attempt(2, 1, T0 + 10, T0 + 20, { id: 30 }),
      attempt(3, 1, T0 + 10, T0 + 20, { id: 20 }),
      attempt(4, 1, T0 + 5, null, { id: 40 }),
      attempt(5, 1, T0 + 1, null, { id: 50 }),
    ];
    expect(slowestAttempts(attempts).map((a) => a.id)).toEqual([20, 30, 10, 50, 40]);
  });

  it('does not reorder its input', () => {
    const attempts = Object.freeze([attempt(1, 1, T0, T0 + 1, { id: 2 }), attempt(1, 2, T0, T0 + 5, { id: 1 })]);
    expect(slowestAttempts(attempts).map((a) => a.id)).toEqual([1, 2]);
    expect(attempts.map((a) => a.id)).toEqual([2, 1]);
  });
});
