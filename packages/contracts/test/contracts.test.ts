import { describe, expect, it } from 'vitest';
import {
  ALLOWED_TRANSITIONS,
  LIMITS,
  TASK_STATUSES,
  TaskmillError,
  ValidationError,
  canTransition,
  isTaskmillError,
  planFailure,
  retryDelayMs,
} from '../src/index.js';

describe('planFailure', () => {
  it('retries while retry_count + 1 < max_retries, then exhausts async to permanently_failed and cron to paused', () => {
    const now = 1_000_000;
    expect(planFailure({ type: 'async', retry_count: 0, max_retries: 3, retry_interval: 2 }, now)).toEqual({ kind: 'retry', next_run_time: now + 2000, delay_ms: 2000 });
    expect(planFailure({ type: 'async', retry_count: 2, max_retries: 3, retry_interval: 2 }, now)).toEqual({ kind: 'exhausted', status: 'permanently_failed', non_retryable: false });
    expect(planFailure({ type: 'cron', retry_count: 0, max_retries: 1, retry_interval: 0 }, now)).toEqual({ kind: 'exhausted', status: 'paused', non_retryable: false });
    expect(planFailure({ type: 'async', retry_count: 0, max_retries: 0, retry_interval: 0 }, now).kind).toBe('exhausted');
    // a non-retryable failure exhausts at once, attempts left or not (docs/behaviour.md#non-retryable-failures)
    expect(planFailure({ type: 'async', retry_count: 0, max_retries: 5, retry_interval: 2 }, now, Math.random, true)).toEqual({ kind: 'exhausted', status: 'permanently_failed', non_retryable: true });
    expect(planFailure({ type: 'cron', retry_count: 0, max_retries: 5, retry_interval: 2 }, now, Math.random, true)).toEqual({ kind: 'exhausted', status: 'paused', non_retryable: true });
    expect(planFailure({ type: 'async', retry_count: 0, max_retries: 2, retry_interval: 0.3333 }, now)).toEqual({ kind: 'retry', next_run_time: now + 333, delay_ms: 333 });
  });
});

describe('retry backoff', () => {
  const base = { type: 'async' as const, retry_count: 0, max_retries: 10, retry_interval: 2 };
  it('fixed waits retry_interval every time; exponential doubles it per retry already made', () => {
    expect([0, 1, 2, 3].map((n) => retryDelayMs({ ...base, retry_count: n }))).toEqual([2000, 2000, 2000, 2000]);
    expect([0, 1, 2, 3].map((n) => retryDelayMs({ ...base, retry_count: n, retry_backoff: 'exponential' }))).toEqual([2000, 4000, 8000, 16000]);
  });
  it('caps at retry_max_interval, and without one at LIMITS.max_duration_seconds even for huge counts', () => {
    expect(retryDelayMs({ ...base, retry_count: 5, retry_backoff: 'exponential', retry_max_interval: 30 })).toBe(30_000);
    expect(retryDelayMs({ ...base, retry_count: 1_000_000, retry_backoff: 'exponential' })).toBe(LIMITS.max_duration_seconds * 1000);
  });
  it('jitter shortens a wait by at most its fraction, using the random source', () => {
    const settings = { ...base, retry_backoff: 'exponential' as const, retry_count: 1, retry_jitter: 0.25 };
    expect(retryDelayMs(settings, () => 0)).toBe(4000);
    expect(retryDelayMs(settings, () => 0.5)).toBe(3500);
    expect(retryDelayMs(settings, () => 0.999999)).toBe(3000);
  });
  it('planFailure reports the delay it used and still exhausts at max_retries', () => {
    expect(planFailure({ ...base, retry_count: 2, retry_backoff: 'exponential' }, 1000)).toEqual({ kind: 'retry', next_run_time: 1000 + 8000, delay_ms: 8000 });
    expect(planFailure({ ...base, retry_count: 9 }, 1000)).toEqual({ kind: 'exhausted', status: 'permanently_failed', non_retryable: false });
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

describe('errors', () => {
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
});
