import { describe, expect, it } from 'vitest';
import { ConfigurationError, LIMITS, ValidationError, type Task } from '@taskmill/contracts';
import { HandlerRegistry } from '../src/handler-registry.js';
import { resolveOptions } from '../src/manager-options.js';
import { asyncTask, childTask, cronTask } from '../src/task-options.js';

const defaults = { timeout: 60, max_retries: 3, retry_interval: 0, retry_backoff: 'fixed' as const, retry_max_interval: null, retry_jitter: 0 };
const NOW = Date.UTC(2026, 0, 1);

function registry() {
  const r = new HandlerRegistry({ ...defaults, max_concurrent_tasks: 10, onError: () => undefined });
  r.set('plain', () => 1);
  r.set('ranked', { handler: () => 1, priority: 7, timeout: 9 });
  return r;
}

describe('task options: one resolver for async, cron and children', () => {
  it('priority: the task option, else the handler, else 0 (top level) or the parent (children)', () => {
    const r = registry();
    expect(asyncTask(r, 'plain', {}, {}, NOW).priority).toBe(0);
    expect(asyncTask(r, 'ranked', {}, {}, NOW).priority).toBe(7);
    expect(asyncTask(r, 'ranked', {}, { priority: -2 }, NOW).priority).toBe(-2);
    expect(cronTask(r, 'plain', '* * * * *', {}, {}, NOW).priority).toBe(0);
    const parent = { priority: 4 } as Task;
    expect(childTask(r, { name: 'plain' }, parent).priority).toBe(4);
    expect(childTask(r, { name: 'ranked' }, parent).priority).toBe(7);
    expect(childTask(r, { name: 'plain', priority: 1 }, parent).priority).toBe(1);
  });

  it('dead_letter: the task option (null: none), else the handler; never on cron tasks; a task name other than its own', () => {
    const r = registry();
    r.set('mail', { handler: () => 1, dead_letter: 'mail_failed' });
    expect(asyncTask(r, 'plain', {}, {}, NOW).dead_letter).toBeNull();
    expect(asyncTask(r, 'mail', {}, {}, NOW).dead_letter).toBe('mail_failed');
    expect(asyncTask(r, 'mail', {}, { dead_letter: 'other' }, NOW).dead_letter).toBe('other');
    expect(asyncTask(r, 'mail', {}, { dead_letter: null }, NOW).dead_letter).toBeNull();
    expect(cronTask(r, 'mail', '* * * * *', {}, {}, NOW).dead_letter).toBeNull();
    expect(() => cronTask(r, 'mail', '* * * * *', {}, { dead_letter: 'x' }, NOW)).toThrow(ValidationError);
    const parent = { priority: 0 } as Task;
    expect(childTask(r, { name: 'mail' }, parent).dead_letter).toBe('mail_failed');
    expect(childTask(r, { name: 'mail', dead_letter: 'child_failed' }, parent).dead_letter).toBe('child_failed');
    for (const bad of ['', 'mail', 'x'.repeat(LIMITS.max_name_length + 1), 'a\u0000b', 7, {}]) {
      expect(() => asyncTask(r, 'mail', {}, { dead_letter: bad }, NOW), String(bad)).toThrow(ValidationError);
    }
    expect(() => r.set('loop', { handler: () => 1, dead_letter: 'loop' })).toThrow(ValidationError);
  });

  it('payload: {} for top-level tasks given none, passed through for children', () => {
    const r = registry();
    expect(asyncTask(r, 'plain', undefined, undefined, NOW).payload).toBe('{}');
    expect(cronTask(r, 'plain', '* * * * *', undefined, undefined, NOW).payload).toBe('{}');
    expect(childTask(r, { name: 'plain' }, { priority: 0 } as Task).payload).toBeNull();
  });

  it('every number is bounded by LIMITS with a ValidationError naming it', () => {
    const r = registry();
    expect(asyncTask(r, 'plain', {}, { delay: LIMITS.max_delay_seconds }, NOW).next_run_time).toBe(NOW + LIMITS.max_delay_seconds * 1000);
    for (const [key, value] of [
      ['delay', LIMITS.max_delay_seconds + 1],
      ['delay', -1],
      ['timeout', 0],
      ['timeout', LIMITS.max_duration_seconds + 1],
      ['retry_interval', LIMITS.max_duration_seconds + 1],
      ['max_retries', 1.5],
      ['max_retries', LIMITS.max_retries + 1],
      ['priority', LIMITS.priority.max + 1],
      ['priority', LIMITS.priority.min - 1],
    ] as const) {
      expect(() => asyncTask(r, 'plain', {}, { [key]: value }, NOW), key).toThrow(ValidationError);
      expect(() => asyncTask(r, 'plain', {}, { [key]: value }, NOW), key).toThrow(key);
    }
    expect(() => childTask(r, { name: 'plain', priority: 2 ** 40 }, { priority: 0 } as Task)).toThrow(ValidationError);
  });

  it('constructor options beyond their bounds are ConfigurationErrors', () => {
    expect(resolveOptions({ dbConnection: 'sqlite::memory:', shutdown_timeout: 0 }).shutdown_timeout).toBe(0);
    expect(() => resolveOptions({ dbConnection: 'sqlite::memory:', poll_interval: LIMITS.max_interval_ms + 1 })).toThrow(ConfigurationError);
    expect(() => resolveOptions({ dbConnection: 'sqlite::memory:', timeout: 1e12 })).toThrow(/Option timeout/);
  });
});
