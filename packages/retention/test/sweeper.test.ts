import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NEW_TASK_DEFAULTS, ValidationError, type PurgeInput, type PurgeResult, type RetentionStore, type Store } from '@taskmill/contracts';
import { createSqliteStore } from '@taskmill/store-sqlite';
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

  it('judges expiry by the clock it is given, read at each sweep', async () => {
    const inputs: PurgeInput[] = [];
    const store: RetentionStore = {
      async purgeExpiredTasks(input) {
        inputs.push(input);
        return { tasks_deleted: 0, events_deleted: 0, attempts_deleted: 0, has_more: false };
      },
    };
    let dbNow = 1_000_000;
    const sweeper = new RetentionSweeper(store, 60, { interval_ms: 30, now: () => dbNow });
    sweeper.start();
    await until(() => inputs.length >= 1);
    dbNow = 2_000_000;
    await until(() => inputs.length >= 2);
    await sweeper.stop();
    expect(inputs[0].before).toBe(1_000_000 - 60_000);
    expect(inputs[1].before).toBe(2_000_000 - 60_000);
  });

  it('validates its policy and intervals when constructed', () => {
    const { store } = recordingStore();
    expect(() => new RetentionSweeper(store, 60, { now: 5 as never })).toThrow('retention now must be a function returning ms since the epoch');
    expect(() => new RetentionSweeper(store, { expire_time: -1 })).toThrow(ValidationError);
    expect(() => new RetentionSweeper(store, 60, { interval_ms: 0 })).toThrow('retention interval_ms must be a positive number of ms');
    expect(() => new RetentionSweeper(store, 60, { time_budget_ms: Number.NaN })).toThrow('retention time_budget_ms must be a positive number of ms');
  });
});

describe('RetentionSweeper on a SQLite store with a backlog', () => {
  const DAY = 86_400_000;
  let real: Store;

  beforeEach(async () => {
    real = createSqliteStore('sqlite::memory:');
    await real.setup();
  });
  afterEach(async () => {
    await real.close();
  });

  /** `n` completed tasks, each with its events and attempt, last active two days ago. */
  async function expired(n: number): Promise<void> {
    const at = Date.now() - 2 * DAY;
    const task = { name: 'done', type: 'async' as const, payload: '{}', priority: 0, tag: null, next_run_time: 0, timeout: 60, max_retries: 0, retry_interval: 0, cron_expr: null, cron_tz: null, ...NEW_TASK_DEFAULTS };
    await real.createTasks(Array.from({ length: n }, () => task), at);
    for (const t of await real.claimTasks({ worker_id: 'w', now: at, limit: n, names: ['done'] })) {
      await real.finishAttempt({ task_id: t.id, worker_id: 'w', attempt: t.attempt }, { kind: 'completed', result: null }, at);
    }
  }

  /** The real store, each batch made `delayMs` slower (a busy database), recording when each batch started. */
  function slowed(delayMs: number, busy = () => false) {
    const batches: { at: number; input: PurgeInput }[] = [];
    const store: RetentionStore = {
      async purgeExpiredTasks(input) {
        batches.push({ at: Date.now(), input });
        await new Promise((r) => setTimeout(r, delayMs));
        // another process's sweep holding the retention lock
        if (busy()) return { tasks_deleted: 0, events_deleted: 0, attempts_deleted: 0, has_more: false, busy: true };
        return real.purgeExpiredTasks(input);
      },
    };
    return { store, batches };
  }

  const left = async () => (await real.queryTasks({ limit: 1000 })).items.length;

  it('sweeps again after a short pause while expired tasks remain, then waits the full interval', async () => {
    await expired(40);
    const { store, batches } = slowed(5);
    const sweeps: { result: RetentionSweepResult; endedAt: number; batches: number }[] = [];
    const INTERVAL = 1500;
    const sweeper = new RetentionSweeper(store, 3600, {
      interval_ms: INTERVAL,
      time_budget_ms: 20,
      pause_ms: 30,
      batch_size: 2,
      onSweep: (result) => sweeps.push({ result, endedAt: Date.now(), batches: batches.length }),
    });
    sweeper.start();
    try {
      await until(() => sweeps.some((s) => s.result.finished), 20_000);
      expect(await left()).toBe(0);
      const done = sweeps.findIndex((s) => s.result.finished);
      // the budget cut every sweep before that short, so the backlog took several sweeps
      expect(done).toBeGreaterThanOrEqual(2);
      for (let i = 0; i < done; i++) {
        expect(sweeps[i].result.finished).toBe(false);
        // well under the interval: the sweeper came back after its pause, not a full interval later
        expect(sweeps[i + 1].endedAt - sweeps[i].endedAt).toBeLessThan(INTERVAL / 2);
      }
      expect(sweeps.slice(0, done + 1).reduce((n, s) => n + s.result.tasks_deleted, 0)).toBe(40);
      // nothing left: the next sweep comes a full interval after the start of the one that found that
      const idleFrom = batches[sweeps[done].batches - 1].at;
      expect(sweeper.nextSweepAt).toBeGreaterThanOrEqual(idleFrom + INTERVAL - 50);
      await until(() => sweeps.length > done + 1, 20_000);
      expect(batches[sweeps[done].batches].at - sweeps[done].endedAt).toBeGreaterThanOrEqual(INTERVAL - 50 - 20);
    } finally {
      await sweeper.stop();
    }
  });

  it('keeps to its time slice and pauses between slices', async () => {
    await expired(60);
    const { store, batches } = slowed(10);
    const sweeps: { result: RetentionSweepResult; endedAt: number; batches: number }[] = [];
    const BUDGET = 40;
    const PAUSE = 120;
    const sweeper = new RetentionSweeper(store, 3600, {
      interval_ms: 200,
      time_budget_ms: BUDGET,
      pause_ms: PAUSE,
      batch_size: 2,
      onSweep: (result) => sweeps.push({ result, endedAt: Date.now(), batches: batches.length }),
    });
    sweeper.start();
    try {
      await until(() => sweeps.length >= 3, 20_000);
    } finally {
      await sweeper.stop();
    }
    for (let i = 0; i < 2; i++) {
      expect(sweeps[i].result.finished).toBe(false);
      const mine = batches.slice(i === 0 ? 0 : sweeps[i - 1].batches, sweeps[i].batches);
      // no batch starts after the slice: the last began within it (a batch under way may finish)
      expect(mine[mine.length - 1].at - mine[0].at).toBeLessThan(BUDGET + 5);
      // the next sweep's first batch waits the pause
      expect(batches[sweeps[i].batches].at - sweeps[i].endedAt).toBeGreaterThanOrEqual(PAUSE - 5);
    }
    // every batch asks for the cluster-wide retention lock
    expect(batches.every((b) => b.input.exclusive === true)).toBe(true);
  });

  it('waits the full interval when another process holds the retention lock, though expired tasks remain', async () => {
    await expired(10);
    let held = true;
    const { store, batches } = slowed(0, () => held);
    const sweeps: RetentionSweepResult[] = [];
    const INTERVAL = 400;
    const sweeper = new RetentionSweeper(store, 3600, { interval_ms: INTERVAL, time_budget_ms: 50, pause_ms: 10, onSweep: (r) => sweeps.push(r) });
    sweeper.start();
    try {
      await until(() => sweeps.length >= 1, 20_000);
      expect(sweeps[0]).toEqual({ tasks_deleted: 0, events_deleted: 0, attempts_deleted: 0, finished: false, busy: true });
      const busyAt = batches[0].at;
      held = false;
      await until(() => sweeps.length >= 2, 20_000);
      expect(batches[1].at - busyAt).toBeGreaterThanOrEqual(INTERVAL - 5);
      expect(sweeps[1]).toMatchObject({ tasks_deleted: 10, finished: true });
    } finally {
      await sweeper.stop();
    }
  });

  it('stop() during a backlog ends the sweeps: the batch under way finishes, no other starts', async () => {
    await expired(100);
    const { store, batches } = slowed(20);
    const sweeper = new RetentionSweeper(store, 3600, { interval_ms: 100, time_budget_ms: 10_000, pause_ms: 10, batch_size: 1 });
    sweeper.start();
    await until(() => batches.length >= 2, 20_000);
    const atStop = batches.length;
    await sweeper.stop();
    const after = batches.length;
    // the sweep under way (with most of its slice left) started no batch after stop()
    expect(after).toBe(atStop);
    const remaining = await left();
    expect(remaining).toBeGreaterThan(0);
    expect(sweeper.nextSweepAt).toBeNull();
    await new Promise((r) => setTimeout(r, 300));
    expect(batches.length).toBe(after);
    expect(await left()).toBe(remaining);
  });
});
