import { describe, expect, it } from 'vitest';
import { ValidationError, type PurgeResult, type RetentionStore } from '@taskmill/contracts';
import { RetentionSweeper, type RetentionSweepResult } from '../src/index.js';

const until = async (check: () => boolean, timeout = 5000) => {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

/** Records when each purge call started; `fail` makes the next calls throw. */
function recordingStore() {
  const at: number[] = [];
  const state = { fail: 0 };
  const store: RetentionStore = {
    async purgeExpiredTasks(): Promise<PurgeResult> {
      at.push(Date.now());
      if (state.fail > 0) {
        state.fail--;
        throw new Error('database is down');
      }
      return { tasks_deleted: 1, events_deleted: 2, attempts_deleted: 1, has_more: false };
    },
  };
  return { store, at, state };
}

describe('RetentionSweeper', () => {
  it('sweeps first a full interval after start, then every interval', async () => {
    const { store, at } = recordingStore();
    const results: RetentionSweepResult[] = [];
    const sweeper = new RetentionSweeper(store, 60, { interval_ms: 150, onSweep: (r) => results.push(r) });
    const startedAt = Date.now();
    sweeper.start();
    expect(sweeper.nextSweepAt).toBeGreaterThanOrEqual(startedAt + 150);
    await until(() => at.length >= 3);
    await sweeper.stop();
    expect(at[0] - startedAt).toBeGreaterThanOrEqual(145);
    expect(at[1] - at[0]).toBeGreaterThanOrEqual(140);
    expect(at[2] - at[1]).toBeGreaterThanOrEqual(140);
    expect(results[0]).toEqual({ tasks_deleted: 1, events_deleted: 2, attempts_deleted: 1, finished: true });
    expect(sweeper.nextSweepAt).toBeNull();
  });

  it('hands sweep errors to onError and keeps sweeping', async () => {
    const { store, at, state } = recordingStore();
    state.fail = 1;
    const errors: [unknown, string][] = [];
    const sweeper = new RetentionSweeper(store, 60, { interval_ms: 50, onError: (e, where) => errors.push([e, where]) });
    sweeper.start();
    await until(() => at.length >= 2);
    await sweeper.stop();
    expect(errors).toHaveLength(1);
    expect((errors[0][0] as Error).message).toBe('database is down');
    expect(errors[0][1]).toBe('retention');
  });

  it('keeps sweeping when onError itself throws', async () => {
    const { store, at, state } = recordingStore();
    state.fail = 2;
    const sweeper = new RetentionSweeper(store, 60, {
      interval_ms: 30,
      onError: () => {
        throw new Error('handler broke');
      },
    });
    sweeper.start();
    await until(() => at.length >= 3);
    await sweeper.stop();
  });

  it('postpone() pushes the next sweep a full interval away', async () => {
    const { store, at } = recordingStore();
    const sweeper = new RetentionSweeper(store, 60, { interval_ms: 200 });
    sweeper.start();
    await new Promise((r) => setTimeout(r, 120));
    const postponedAt = Date.now();
    sweeper.postpone();
    expect(sweeper.nextSweepAt).toBeGreaterThanOrEqual(postponedAt + 200);
    await until(() => at.length >= 1);
    await sweeper.stop();
    expect(at[0] - postponedAt).toBeGreaterThanOrEqual(195);
  });

  it('schedules nothing for a policy that deletes nothing, and nothing after stop()', async () => {
    const { store, at } = recordingStore();
    const disabled = new RetentionSweeper(store, { expire_time: null }, { interval_ms: 10 });
    disabled.start();
    expect(disabled.nextSweepAt).toBeNull();
    const stopped = new RetentionSweeper(store, 60, { interval_ms: 10 });
    stopped.start();
    await stopped.stop();
    stopped.start();
    stopped.postpone();
    await new Promise((r) => setTimeout(r, 60));
    expect(at).toHaveLength(0);
  });

  it('validates its policy and intervals when constructed', () => {
    const { store } = recordingStore();
    expect(() => new RetentionSweeper(store, { expire_time: -1 })).toThrow(ValidationError);
    expect(() => new RetentionSweeper(store, 60, { interval_ms: 0 })).toThrow('retention interval_ms must be a positive number of ms');
    expect(() => new RetentionSweeper(store, 60, { time_budget_ms: Number.NaN })).toThrow('retention time_budget_ms must be a positive number of ms');
  });
});
