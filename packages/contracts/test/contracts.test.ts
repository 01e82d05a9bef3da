import { describe, expect, it } from 'vitest';
import {
  ALLOWED_TRANSITIONS,
  TASK_STATUSES,
  TaskmillError,
  ValidationError,
  canTransition,
  isTaskmillError,
} from '../src/index.js';
import { decodeChildResults, decodeTask, encodeChildResult, events, makePage, normalizePaging, planFailure } from '../src/store-kit/index.js';

describe('planFailure', () => {
  it('retries while retry_count + 1 < max_retries, then exhausts async to permanently_failed and cron to paused', () => {
    const now = 1_000_000;
    expect(planFailure({ type: 'async', retry_count: 0, max_retries: 3, retry_interval: 2 }, now)).toEqual({ kind: 'retry', next_run_time: now + 2000, delay_ms: 2000 });
    expect(planFailure({ type: 'async', retry_count: 2, max_retries: 3, retry_interval: 2 }, now)).toEqual({ kind: 'exhausted', status: 'permanently_failed' });
    expect(planFailure({ type: 'cron', retry_count: 0, max_retries: 1, retry_interval: 0 }, now)).toEqual({ kind: 'exhausted', status: 'paused' });
    expect(planFailure({ type: 'async', retry_count: 0, max_retries: 0, retry_interval: 0 }, now).kind).toBe('exhausted');
    expect(planFailure({ type: 'async', retry_count: 0, max_retries: 2, retry_interval: 0.3333 }, now)).toEqual({ kind: 'retry', next_run_time: now + 333, delay_ms: 333 });
  });
});

describe('transitions', () => {
  it('never leave completed or permanently_failed, and follow docs/behaviour.md#transitions, cancel included from any live status', () => {
    for (const to of TASK_STATUSES) {
      expect(canTransition('completed', to)).toBe(false);
      expect(canTransition('permanently_failed', to)).toBe(false);
    }
    expect(ALLOWED_TRANSITIONS.running).toEqual(['pending']);
    expect(canTransition('suspended', 'pending')).toBe(true);
    expect(canTransition('suspended', 'paused')).toBe(false);
    expect(canTransition('pending', 'permanently_failed')).toBe(true);
  });
});

describe('codec', () => {
  it('decodes children results sorted by id and skips foreign lines', () => {
    const text = encodeChildResult({ task_id: 9, result: { a: 1 } }) + 'garbage\n' + encodeChildResult({ task_id: 3, error: 'Error: x' });
    expect(decodeChildResults(text)).toEqual([{ task_id: 3, error: 'Error: x' }, { task_id: 9, result: { a: 1 } }]);
    expect(decodeChildResults('')).toEqual([]);
  });

  it('decodes driver rows: bigint strings to numbers, JSON text, children results at stage >= 1', () => {
    const row = { id: '12', name: 'n', type: 'async', status: 'pending', stage: 1, payload: '{"x":1}', result: '"ignored"', children_results: encodeChildResult({ task_id: 4, result: 2 }), next_run_time: '5', created_at: 1, timeout: 60, max_retries: 3 };
    const task = decodeTask(row);
    expect(task).toMatchObject({ id: 12, payload: { x: 1 }, result: [{ task_id: 4, result: 2 }], next_run_time: 5, root_id: null, context: null });
    expect(decodeTask({ ...row, status: 'completed' }).result).toBe('ignored');
  });

  it('pages follow docs/behaviour.md#queries', () => {
    const rows = [{ id: 1, event_time: 10 }, { id: 2, event_time: 11 }];
    expect(makePage(rows, 5, normalizePaging({ limit: 2, offset: 0 }))).toEqual({ items: rows, total: 5, limit: 2, offset: 0, next_cursor: expect.any(String), has_more: true });
    expect(makePage([1, 2], 2, normalizePaging({ offset: 7 }))).toEqual({ items: [1, 2], total: 2, limit: null, offset: 0, next_cursor: null, has_more: false });
  });
});

describe('errors and events', () => {
  it('typed errors keep a stable code and their cause', () => {
    const cause = new Error('root');
    const error = new ValidationError('bad', { cause });
    expect(error).toBeInstanceOf(TaskmillError);
    expect(error.code).toBe('TASKMILL_VALIDATION');
    expect(error.name).toBe('ValidationError');
    expect(error.cause).toBe(cause);
    expect(isTaskmillError(error, 'TASKMILL_VALIDATION')).toBe(true);
    expect(isTaskmillError(new Error('x'))).toBe(false);
  });

  it('event drafts: a root event carries its own id as root_id; claim events come in order', () => {
    const subject = { id: 7, root_id: null, parent_id: null, name: 'n', type: 'async' as const, tag: null, stage: 0, worker_id: null };
    expect(events.created(subject, 'pending', 5)).toMatchObject({ root_id: 7, event_type: 'task_created', stage: 0 });
    expect(events.claimed(subject, 'w', 2, 1, 5).map((e) => [e.event_type, e.attempt])).toEqual([
      ['task_claimed', null],
      ['task_started', 2],
      ['task_retry_started', 2],
    ]);
  });
});
