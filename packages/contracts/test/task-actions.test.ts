import { describe, expect, it } from 'vitest';
import { TASK_ACTIONS, TASK_ACTION_SPECS, TASK_STATUSES, allowedTaskActions, canRetry, canTransition, isTaskAction } from '../src/index.js';

describe('task actions (docs/behaviour.md#manual-control)', () => {
  it('offer exactly the statuses the transition table allows, retry sparing a permanently failed child', () => {
    const target = { pause: 'paused', resume: 'pending', cancel: 'permanently_failed' } as const;
    for (const status of TASK_STATUSES) {
      for (const parent_id of [null, 1]) {
        const task = { status, parent_id };
        const expected = TASK_ACTIONS.filter((a) => (a === 'retry' ? canRetry(task) : canTransition(status, target[a])));
        expect(allowedTaskActions(task), `${status} parent ${parent_id}`).toEqual(expected);
        for (const action of TASK_ACTIONS) {
          if (TASK_ACTION_SPECS[action].allows(task)) expect(TASK_ACTION_SPECS[action].from).toContain(status);
        }
      }
    }
    expect(allowedTaskActions({ status: 'completed', parent_id: null })).toEqual([]);
    expect(allowedTaskActions({ status: 'permanently_failed', parent_id: 3 })).toEqual([]);
    expect(allowedTaskActions({ status: 'permanently_failed', parent_id: null })).toEqual(['retry']);
  });

  it('each names its TaskManager method, and only resume and cancel record a reason', () => {
    expect(TASK_ACTIONS.map((a) => TASK_ACTION_SPECS[a].method)).toEqual(['pauseTask', 'resumeTask', 'cancelTask', 'retryTask']);
    expect(TASK_ACTIONS.map((a) => TASK_ACTION_SPECS[a].reason?.option)).toEqual([undefined, 'resume_reason', 'reason', undefined]);
    expect(TASK_ACTIONS.every((a) => TASK_ACTION_SPECS[a].name === a && isTaskAction(a))).toBe(true);
    expect(isTaskAction('delete')).toBe(false);
  });
});
