import { describe, expect, it } from 'vitest';
import { TASK_STATUSES } from '@taskmill/contracts';
import { countTasksByNameAndStatus } from '../src/task-counts.js';

describe('countTasksByNameAndStatus', () => {
  it('sums tags per name and status, orders by name then status, and counts every status', () => {
    const counts = countTasksByNameAndStatus([
      { tag: 'a', name: 'send', status: 'failed', count: 2 },
      { tag: null, name: 'build', status: 'pending', count: 1 },
      { tag: 'b', name: 'send', status: 'failed', count: 3 },
      { tag: null, name: 'send', status: 'pending', count: 4 },
    ]);
    expect(counts.by_name_status).toEqual([
      { name: 'build', status: 'pending', count: 1 },
      { name: 'send', status: 'pending', count: 4 },
      { name: 'send', status: 'failed', count: 5 },
    ]);
    expect(Object.keys(counts.by_status)).toEqual([...TASK_STATUSES]);
    expect(counts.by_status).toMatchObject({ pending: 5, failed: 5, completed: 0 });
  });

  it('is empty, with zeros, for no tasks', () => {
    expect(countTasksByNameAndStatus([]).by_name_status).toEqual([]);
    expect(Object.values(countTasksByNameAndStatus([]).by_status).every((n) => n === 0)).toBe(true);
  });
});
