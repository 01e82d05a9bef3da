import { describe, expect, it } from 'vitest';
import { NEW_TASK_DEFAULTS, ValidationError, type Task } from '@taskmill/contracts';
import {
  changes,
  CLAIM_ORDER_SQL,
  classifyTimeout,
  compareClaimOrder,
  eventConditions,
  groupBy,
  holdsFence,
  normalizePaging,
  readPaging,
  makePage,
  patchEntries,
  pickClaims,
  planClaim,
  roundRobin,
  taskConditions,
  TASK_PATCH_COLUMNS,
  retryTransaction,
  transactionRetryPause,
} from '../src/index.js';

const T0 = 1_700_000_000_000;

function task(overrides: Partial<Task> = {}): Task {
  return {
    id: 1, name: 'job', type: 'async', priority: 0, payload: {}, created_at: T0, tag: null, status: 'running',
    next_run_time: T0, last_active_time: T0, last_event_time: T0, last_event_type: 'task_started', result: null,
    error: null, current_stage_name: null, progress_text: null, progress_percent: null, stage: 0, timeout: 60,
    retry_count: 0, max_retries: 3, retry_interval: 0, cron_expr: null, cron_tz: null, root_id: null, parent_id: null,
    total_children: 0, completed_children: 0, worker_id: 'w1', start_time: T0, context: null, attempt: 2,
    suspend_reason: null, on_failure: null, keep_stage: false, wake_at: null, awaited_signal: null, received_signal: null, ...NEW_TASK_DEFAULTS, ...overrides,
  };
}

describe('claim order', () => {
  it('orders by priority desc, next_run_time asc, id asc in SQL and in memory alike', () => {
    expect(CLAIM_ORDER_SQL).toBe('priority DESC, next_run_time ASC, id ASC');
    const rows = [
      { id: 3, priority: 0, next_run_time: 5, name: 'a' },
      { id: 1, priority: 5, next_run_time: 9, name: 'a' },
      { id: 2, priority: 0, next_run_time: 5, name: 'a' },
      { id: 4, priority: 0, next_run_time: 1, name: 'a' },
    ];
    expect([...rows].sort(compareClaimOrder).map((r) => r.id)).toEqual([1, 4, 2, 3]);
  });

  it('plans a claim: no slots or no names claim nothing; caps below the limit are kept, others dropped', () => {
    expect(planClaim({ worker_id: 'w', now: T0, limit: 0, names: ['a'] })).toBeNull();
    expect(planClaim({ worker_id: 'w', now: T0, limit: 3, names: [] })).toBeNull();
    expect(planClaim({ worker_id: 'w', now: T0, limit: 3, names: ['a'], name_limits: { a: 0 } })).toBeNull();
    expect(planClaim({ worker_id: 'w', now: T0, limit: 3, names: ['a', 'b', 'a', 'c'], name_limits: { a: 1, b: 7 } })).toEqual({
      worker_id: 'w', now: T0, limit: 3, names: ['a', 'b', 'c'], caps: { a: 1 }, rates: {}, keys: {},
    });
    // rate and per-key limits of the claim's names; one that cannot be read holds back rather than lifts
    expect(
      planClaim({
        worker_id: 'w', now: T0, limit: 3, names: ['a', 'b'],
        rate_limits: { a: { max: 2, per_ms: 1000 }, b: { max: 'x' as never, per_ms: 0 }, z: { max: 1, per_ms: 1 } },
        key_limits: { b: 2, z: 1 },
      }),
    ).toMatchObject({ rates: { a: { max: 2, per_ms: 1000 }, b: { max: 0, per_ms: 1 } }, keys: { b: 2 } });
  });

  it('takes keyed candidates round robin: one task of each turn per round, within its room, each turn in claim order', () => {
    const task = (id: number, key: string | null, priority = 0) => ({ id, priority, next_run_time: T0, name: 'k', concurrency_key: key }) as unknown as Task;
    const order = roundRobin([
      { room: 2, tasks: [task(3, 'a'), task(1, 'a'), task(2, 'a', 5)] },
      { room: 1, tasks: [task(4, 'b'), task(5, 'b')] },
      { room: 0, tasks: [task(6, 'c')] },
      { room: 9, tasks: [task(7, null), task(8, null)] },
    ]);
    expect(order.map((t) => t.id)).toEqual([2, 4, 7, 1, 8]);
  });

  it('merges streams by their heads in claim order, keeping each stream in its own order, under the caps', () => {
    const plan = planClaim({ worker_id: 'w', now: T0, limit: 4, names: ['p', 'k'], name_limits: { k: 2 } })!;
    const t = (id: number, name: string, priority = 0) => ({ id, priority, next_run_time: T0, name });
    const picked = pickClaims([t(1, 'p'), t(2, 'p', 1)], plan, [[t(9, 'k'), t(5, 'k', 3), t(6, 'k')]]);
    expect(picked.map((x) => x.id)).toEqual([2, 1, 9, 5]);
  });

  it('picks the batch in claim order under per-name caps', () => {
    const plan = planClaim({ worker_id: 'w', now: T0, limit: 3, names: ['a', 'b'], name_limits: { a: 1 } })!;
    const candidates = [
      { id: 1, priority: 9, next_run_time: 0, name: 'a' },
      { id: 2, priority: 8, next_run_time: 0, name: 'a' },
      { id: 3, priority: 1, next_run_time: 0, name: 'b' },
      { id: 4, priority: 0, next_run_time: 0, name: 'b' },
      { id: 5, priority: 0, next_run_time: 1, name: 'b' },
    ];
    expect(pickClaims(candidates, plan).map((c) => c.id)).toEqual([1, 3, 4]);
  });
});

describe('filters and paging', () => {
  it('rejects bad paging with one message per mistake and reads order case-insensitively', () => {
    expect(() => normalizePaging({ limit: 0 })).toThrow(new ValidationError('limit must be a positive integer'));
    expect(() => normalizePaging({ limit: 1.5 })).toThrow('limit must be a positive integer');
    expect(() => normalizePaging({ limit: 5, offset: -1 })).toThrow('offset must be a non-negative integer');
    for (const order of ['descending', 'up', '', 1, {}]) {
      expect(() => normalizePaging({ order: order as never }), String(order)).toThrow(new ValidationError(`order must be 'asc' or 'desc', got ${JSON.stringify(order)}`));
    }
    expect(normalizePaging({ order: 'Asc' as 'asc' }).direction).toBe('ASC');
    expect(normalizePaging({ order: 'DESC' as 'desc' })).toEqual({ limit: null, offset: 0, direction: 'DESC', after: null });
    expect(normalizePaging({ limit: 2, offset: 4 })).toEqual({ limit: 2, offset: 4, direction: 'ASC', after: null });
  });

  it('hands out a keyset cursor after a full page and reads it back as an `after` condition in its own order', () => {
    const rows = [{ id: 7, event_time: 100 }, { id: 9, event_time: 100 }, { id: 3, event_time: 101 }];
    const first = makePage(rows.slice(0, 2), 3, normalizePaging({ limit: 2 }, 'events'), 'events');
    expect(first).toMatchObject({ total: 3, limit: 2, offset: 0, has_more: true });
    expect(first.next_cursor).toEqual(expect.any(String));
    const next = normalizePaging({ limit: 2, cursor: first.next_cursor! }, 'events');
    expect(next).toEqual({ limit: 2, offset: 0, direction: 'ASC', after: { kind: 'after', columns: ['event_time', 'id'], op: '>', values: [100, 9] } });
    // the store reads one row beyond the limit; only that row tells whether more follow
    expect(readPaging(next).limit).toBe(3);
    expect(makePage(rows.slice(2), 3, next, 'events')).toEqual({ items: [rows[2]], total: 3, limit: 2, offset: null, has_more: false, next_cursor: null });
    const desc = makePage([rows[2], rows[1]], 3, normalizePaging({ limit: 2, order: 'desc' }, 'events'), 'events');
    expect(normalizePaging({ limit: 5, cursor: desc.next_cursor! }, 'events').after).toMatchObject({ op: '<', values: [100, 9] });
    expect(makePage(rows, 3, normalizePaging({}, 'events'), 'events').next_cursor).toBeNull();
  });

  it('rejects cursors that are not a next_cursor of the same query, or misused, with one message each', () => {
    const cursor = makePage([{ id: 1, event_time: 5 }], 2, normalizePaging({ limit: 1 }, 'events'), 'events').next_cursor!;
    const foreign = 'cursor must be a next_cursor returned by this query';
    for (const bad of ['', 'x', '1 OR 1=1', Buffer.from('[1,"events","ASC",1.5,2]').toString('base64url'), Buffer.from('{"a":1}').toString('base64url'), 42, {}, 'a'.repeat(500)]) {
      expect(() => normalizePaging({ limit: 1, cursor: bad as never }, 'events'), String(bad)).toThrow(new ValidationError(foreign));
    }
    expect(() => normalizePaging({ limit: 1, cursor }, 'attempts')).toThrow(foreign);
    expect(() => normalizePaging({ cursor }, 'events')).toThrow(new ValidationError('cursor needs a limit'));
    expect(() => normalizePaging({ limit: 1, offset: 3, cursor }, 'events')).toThrow(new ValidationError('cursor and offset cannot be combined'));
    expect(() => normalizePaging({ limit: 1, order: 'desc', cursor }, 'events')).toThrow(new ValidationError('cursor was made for order asc'));
    expect(normalizePaging({ limit: 1, order: 'asc', cursor }, 'events').direction).toBe('ASC');
  });

  it('validates status and type filters and turns invalid ids into a condition that matches nothing', () => {
    expect(() => taskConditions({ status: 'done' as never })).toThrow('Invalid status value: "done"');
    expect(() => taskConditions({ type: 'weekly' as never })).toThrow('Invalid task type: "weekly"');
    expect(taskConditions({ parent_id: '1 OR 1=1' as never })).toEqual([{ kind: 'none' }]);
    expect(taskConditions({ tag: '', name: 'x', root_id: 7 })).toEqual([
      { kind: 'eq', column: 'name', value: 'x' },
      { kind: 'eq', column: 'root_id', value: 7 },
    ]);
    expect(() => eventConditions({ event_types: ['task_nope' as never] })).toThrow('Invalid event type: "task_nope"');
    expect(eventConditions({ started_after: 0, attempt: 0 })).toEqual([{ kind: 'eq', column: 'attempt', value: 0 }]);
  });
});

describe('transitions as data', () => {
  it('closes the attempt by its number and stamps the last event on the row', () => {
    const c = changes.complete(task({ parent_id: 9, root_id: 9 }), '{"ok":true}', T0 + 5);
    expect(c.close_attempt).toEqual({ task_id: 1, attempt: 2, ended_at: T0 + 5, outcome: 'completed', error: null, timeout_flag: false });
    expect(c.patch).toMatchObject({ status: 'completed', result: '{"ok":true}', last_event_time: T0 + 5, last_event_type: 'task_completed', suspend_reason: null });
    expect(c.credit).toEqual({ task_id: 1, result: { ok: true } });
  });

  it('keeps suspend_reason only on a change to suspended', () => {
    expect(changes.suspend(task(), 'review', null, undefined, T0).patch.suspend_reason).toBe('review');
    expect(changes.cancel(task({ status: 'suspended', suspend_reason: 'review' }), 'stop', T0).patch.suspend_reason).toBeNull();
    expect(changes.note(task(), { event_type: 'task_checkpoint', message: 'm', metadata: {} }, null, T0).patch).not.toHaveProperty('suspend_reason');
  });

  it('retries a failure while attempts are left, then exhausts and credits the parent', () => {
    const retry = changes.fail(task({ retry_count: 0, retry_interval: 2 }), 'failed', 'Error: x', undefined, T0);
    expect(retry.patch).toMatchObject({ status: 'failed', next_run_time: T0 + 2000 });
    expect(retry.events.map((e) => e.event_type)).toEqual(['task_failed']);
    const last = changes.fail(task({ retry_count: 2, parent_id: 4, root_id: 4 }), 'timeout', 'late', 'total', T0);
    expect(last.patch.status).toBe('permanently_failed');
    expect(last.events.map((e) => e.event_type)).toEqual(['task_timed_out', 'task_permanently_failed']);
    expect(last.close_attempt).toMatchObject({ outcome: 'timeout', timeout_flag: true, attempt: 2 });
    expect(last.credit).toEqual({ task_id: 1, error: 'late' });
  });

  it('a claim of a retry candidate promotes it and opens attempt n + 1, guarded on the status read', () => {
    const c = changes.claim(task({ status: 'failed', retry_count: 1, attempt: 2, stage: 3, next_run_time: T0 - 250 }), 'w9', T0);
    expect(c.guard).toEqual({ status: 'failed' });
    expect(c.patch).toMatchObject({ status: 'running', retry_count: 2, stage: 0, attempt: 3, worker_id: 'w9' });
    // the attempt keeps the time the retry was due: its wait is started_at − due_at
    expect(c.open_attempt).toEqual({ task_id: 1, name: 'job', attempt: 3, worker_id: 'w9', started_at: T0, due_at: T0 - 250 });
    expect(c.events.map((e) => e.event_type)).toEqual(['task_retry_scheduled', 'task_claimed', 'task_started', 'task_retry_started']);
  });

  it('a requeue at the stop deadline names the pod that recovered it', () => {
    const c = changes.requeue(task(), { reason: 'shutdown_timeout', by_worker_id: 'w1', by_pod_id: 'pod-a' }, T0);
    expect(c.events[0].metadata).toMatchObject({ recovery_reason: 'shutdown_timeout', recovered_by_pod_id: 'pod-a' });
    expect(c.guard).toEqual({ status: 'running', worker_id: 'w1', attempt: 2 });
  });

  it('lists patch columns in one fixed order', () => {
    expect(patchEntries({ error: 'e', status: 'failed' }).map(([k]) => k)).toEqual(['status', 'error']);
    expect(new Set(TASK_PATCH_COLUMNS).size).toBe(TASK_PATCH_COLUMNS.length);
  });
});

describe('fences and timeouts', () => {
  it('a fence holds only for the same worker and attempt of a running task', () => {
    expect(holdsFence(task(), { task_id: 1, worker_id: 'w1', attempt: 2 })).toBe(true);
    expect(holdsFence(task(), { task_id: 1, worker_id: 'w1', attempt: 1 })).toBe(false);
    expect(holdsFence(task({ status: 'paused' }), { task_id: 1, worker_id: 'w1', attempt: 2 })).toBe(false);
  });

  it('classifies total before heartbeat timeouts', () => {
    expect(classifyTimeout(task({ start_time: T0, timeout: 1, last_active_time: T0 }), T0 + 1000, 60_000)).toBe('total');
    expect(classifyTimeout(task({ start_time: T0, timeout: 60, last_active_time: T0 }), T0 + 31_000, 30_000)).toBe('heartbeat');
    expect(classifyTimeout(task({ start_time: T0, timeout: 60, last_active_time: T0 }), T0 + 1000, 30_000)).toBeNull();
  });
});

describe('groupBy', () => {
  it('keeps keys in first-seen order and each group in input order', () => {
    const groups = groupBy([3, 1, 4, 1, 5, 9, 2, 6], (n) => (n % 2 === 0 ? 'even' : 'odd'));
    expect([...groups.entries()]).toEqual([
      ['odd', [3, 1, 1, 5, 9]],
      ['even', [4, 2, 6]],
    ]);
    expect(groupBy([], String).size).toBe(0);
  });
});

describe('transaction retry policy', () => {
  const policy = { retries: 3, firstPauseMs: 10, maxPauseMs: 25 };
  it('pauses double from firstPauseMs up to maxPauseMs, jittered between half and one and a half times', () => {
    expect([1, 2, 3].map((rerun) => transactionRetryPause(policy, rerun, T0, T0, () => 0.5))).toEqual([10, 20, 25]);
    expect(transactionRetryPause(policy, 1, T0, T0, () => 0)).toBe(5);
    expect(transactionRetryPause(policy, 1, T0, T0, () => 0.999999)).toBeCloseTo(15);
  });
  it('allows no rerun beyond retries, nor once the budget has passed', () => {
    expect(transactionRetryPause(policy, 4, T0, T0)).toBeNull();
    expect(transactionRetryPause({ ...policy, retries: Infinity, budgetMs: 100 }, 50, T0, T0 + 99, () => 0.5)).toBe(25);
    expect(transactionRetryPause({ ...policy, retries: Infinity, budgetMs: 100 }, 1, T0, T0 + 100)).toBeNull();
  });
  it('reruns only conflicts, and throws the last error unchanged', async () => {
    const conflict = new Error('deadlock');
    let runs = 0;
    const fast = { retries: 2, firstPauseMs: 0, maxPauseMs: 0 };
    await expect(retryTransaction(fast, (error) => error === conflict, async () => { runs++; throw conflict; })).rejects.toBe(conflict);
    expect(runs).toBe(3);
    runs = 0;
    const other = new Error('syntax');
    await expect(retryTransaction(fast, (error) => error === conflict, async () => { runs++; throw other; })).rejects.toBe(other);
    expect(runs).toBe(1);
    runs = 0;
    await expect(retryTransaction(fast, (error) => error === conflict, async () => (++runs < 2 ? Promise.reject(conflict) : 'done'))).resolves.toBe('done');
  });
});
