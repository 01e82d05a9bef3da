import type { FinishItem, FinishResult, Task } from '@taskmill/contracts';
import { describe, expect, it } from 'vitest';
import { decodeTask, operations, type PlainCompletion, type PlainPaths } from '../src/index.js';

/*
 * When the kit takes a store's one-round-trip path and when the general one (docs/behaviour.md#one-round-trip).
 * What the two paths write is compared by the conformance suite `plain-paths` on every store.
 */

const task = (id: number, extra: Record<string, unknown> = {}): Task =>
  decodeTask({ id, name: 'n', type: 'async', status: 'running', worker_id: 'w', attempt: 1, next_run_time: 0, created_at: 0, timeout: 60, max_retries: 3, ...extra });
const done = (id: number): FinishItem => ({ fence: { task_id: id, worker_id: 'w', attempt: 1 }, outcome: { kind: 'completed', result: null } });

function recorder(answer: (items: readonly PlainCompletion[]) => { applied: Task[]; found: Task[] }) {
  const calls: { plain: number[][]; general: number[][] } = { plain: [], general: [] };
  const plain: PlainPaths = {
    claim: async () => [],
    complete: async (items) => {
      calls.plain.push(items.map((item) => item.task_id));
      return answer(items);
    },
  };
  const general = async (items: FinishItem[]): Promise<FinishResult[]> => {
    calls.general.push(items.map((item) => Number(item.fence.task_id)));
    return items.map((item) => ({ applied: true, task: task(Number(item.fence.task_id), { status: 'completed' }), child_ids: [] }));
  };
  return { calls, plain, general };
}

describe('one-round-trip paths', () => {
  it('a claim with caps or limits takes the general path; one that can claim nothing takes none', () => {
    const base = { worker_id: 'w', now: 0, limit: 10, names: ['a', 'b'] };
    expect(operations.plainClaimPlan(base)).toMatchObject({ names: ['a', 'b'], limit: 10 });
    expect(operations.plainClaimPlan({ ...base, name_limits: { a: 3 } })).toBeNull();
    expect(operations.plainClaimPlan({ ...base, name_limits: { a: 10 } })).not.toBeNull(); // a cap the claim cannot reach
    expect(operations.plainClaimPlan({ ...base, cluster_limits: { b: 5 } })).toBeNull();
    expect(operations.plainClaimPlan({ ...base, rate_limits: { a: { max: 1, per_ms: 1000 } } })).toBeNull();
    expect(operations.plainClaimPlan({ ...base, key_limits: { a: 1 } })).toBeNull();
    expect(operations.plainClaimPlan({ ...base, limit: 0 })).toBe(false);
    expect(operations.plainClaimPlan({ ...base, names: [] })).toBe(false);
  });

  it('a group of completions goes in one round trip; results in input order, unheld and missing ones as found', async () => {
    const { calls, plain, general } = recorder(() => ({ applied: [task(3, { status: 'completed' })], found: [task(1, { status: 'paused' })] }));
    const results = await operations.finishGroup(plain, [done(3), done(1), done(2)], 5, general);
    expect(calls).toEqual({ plain: [[3, 1, 2]], general: [] });
    expect(results.map((result) => [result.applied, result.task?.status ?? null])).toEqual([
      [true, 'completed'],
      [false, 'paused'],
      [false, null],
    ]);
  });

  it('a group with any other outcome, a repeated task or an invalid id goes the general way whole', async () => {
    for (const group of [
      [done(1), { ...done(2), outcome: { kind: 'failed', status: 'failed', error: 'x' } } as FinishItem],
      [done(1), done(1)],
      [done(1), { ...done(2), fence: { task_id: 'nope' as never, worker_id: 'w', attempt: 1 } }],
    ]) {
      const { calls, plain, general } = recorder(() => ({ applied: [], found: [] }));
      await operations.finishGroup(plain, group, 5, general);
      expect(calls.plain).toEqual([]);
      expect(calls.general).toHaveLength(1);
    }
  });

  it('a group with a child, which the statement leaves alone, goes the general way whole (all or nothing)', async () => {
    const { calls, plain, general } = recorder(() => ({ applied: [], found: [task(1), task(2, { parent_id: 9, root_id: 9 })] }));
    const results = await operations.finishGroup(plain, [done(1), done(2)], 5, general);
    expect(calls).toEqual({ plain: [[1, 2]], general: [[1, 2]] });
    expect(results.every((result) => result.applied)).toBe(true);
  });
});
