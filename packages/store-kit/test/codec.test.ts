import { describe, expect, it } from 'vitest';
import { decodeChildResults, decodeTask, encodeChildResult, events, makePage, normalizePaging } from '../src/index.js';

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

describe('event drafts', () => {
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
