import { ValidationError, type ClaimRequest, type Store, type Task, type TaskId } from '@taskmill/contracts';
import { expect } from 'vitest';
import { expectApplied, fenceOf, newChild, newTask, T0 } from '../fixtures.js';
import type { SuiteContext } from '../suite-context.js';

/*
 * Flow control (docs/behaviour.md#flow-control): rate limits counted from recorded attempt starts,
 * per-key limits with fair share across keys, and names paused cluster-wide, all decided inside
 * the claim transaction.
 */

const RATE = (max: number, per_ms: number) => ({ rate_limits: { send: { max, per_ms } } });

function claimer(store: Store, worker = 'w1') {
  return (now: number, limit: number, names: string[], extra: Partial<ClaimRequest> = {}) =>
    store.claimBatch({ worker_id: worker, now, limit, names, ...extra });
}

async function complete(store: Store, tasks: Task[], now: number): Promise<void> {
  for (const task of tasks) await expectApplied(store.finishAttempt(fenceOf(task), { kind: 'completed', result: null }, now));
}

/** Most starts in any window of `perMs` (a window (t - per, t] ending at each start). */
function maxInWindow(starts: number[], perMs: number): number {
  const sorted = [...starts].sort((a, b) => a - b);
  let best = 0;
  let from = 0;
  for (let i = 0; i < sorted.length; i += 1) {
    while (sorted[from] <= sorted[i] - perMs) from += 1;
    best = Math.max(best, i - from + 1);
  }
  return best;
}

export function defineFlowControlTests({ test, open, peer, db }: SuiteContext): void {
  test('a rate limit takes at most max starts in a window and says when the window reopens; held tasks stay pending with no attempt', async () => {
    const store = await open();
    const ids = await store.createTasks(Array.from({ length: 5 }, () => newTask({ name: 'send' })), T0);
    const claim = claimer(store);
    const first = await claim(T0 + 10, 10, ['send'], RATE(3, 1000));
    expect(first.tasks.map((t) => t.id)).toEqual(ids.slice(0, 3));
    // a limited claim records its start at its `now` plus the time it took to get there (a few ms at most here)
    const started = (await db.attempts(store)).map((a) => a.started_at);
    expect(started.every((t) => t >= T0 + 10 && t < T0 + 10 + 1000)).toBe(true);
    const held = await claim(T0 + 20, 10, ['send'], RATE(3, 1000));
    expect(held.tasks).toEqual([]);
    // the third latest start leaves the window (now - 1000, now] 1000 ms after it
    const reopen = Math.min(...started) + 1000;
    expect(held.retry_at).toBe(reopen);
    // (not `reopen - 1`: the claim's own time moves on by what it takes)
    expect((await claim(reopen - 400, 10, ['send'], RATE(3, 1000))).tasks).toEqual([]);
    for (const id of ids.slice(3)) {
      const task = (await db.task(store, id))!;
      expect(task.status).toBe('pending');
      expect(task.attempt).toBe(0);
      expect(await db.eventTypes(store, id)).toEqual(['task_created']);
    }
    expect(await db.attempts(store, { task_id: ids[3] })).toEqual([]);
    const reopened = await claim(Math.max(...started) + 1000, 10, ['send'], RATE(3, 1000));
    expect(reopened.tasks.map((t) => t.id)).toEqual(ids.slice(3));
    expect(reopened.retry_at).toBeNull();
  });

  test('a rate window slides: starts leave it one by one, finished or not, and other names are not held back', async () => {
    const store = await open();
    await store.createTasks([...Array.from({ length: 6 }, () => newTask({ name: 'send' })), newTask({ name: 'other' }), newTask({ name: 'other' })], T0);
    const claim = claimer(store);
    const startOf = async (tasks: Task[]) => (await db.attempts(store, { task_id: tasks[0].id }))[0].started_at;
    const a = await claim(T0 + 100, 1, ['send'], RATE(3, 1000));
    const firstStart = await startOf(a.tasks);
    await complete(store, a.tasks, T0 + 150);
    const b = await claim(T0 + 500, 2, ['send'], RATE(3, 1000));
    expect(b.tasks).toHaveLength(2);
    const secondStart = await startOf(b.tasks);
    const mixed = await claim(T0 + 600, 5, ['send', 'other'], RATE(3, 1000));
    expect(mixed.tasks.map((t) => t.name)).toEqual(['other', 'other']);
    expect(mixed.retry_at).toBe(firstStart + 1000);
    // once the first start has left: one place
    expect((await claim(firstStart + 1000, 5, ['send'], RATE(3, 1000))).tasks).toHaveLength(1);
    const after = await claim(firstStart + 1001, 5, ['send'], RATE(3, 1000));
    expect(after.tasks).toEqual([]);
    expect(after.retry_at).toBe(secondStart + 1000);
  });

  test('concurrent claimers on three peers never start more than max tasks of a rate-limited name in any window', async () => {
    const store = await open();
    const peers = [store, await peer(store), await peer(store)];
    const ids = await store.createTasks(Array.from({ length: 40 }, () => newTask({ name: 'send' })), T0);
    const MAX = 4;
    const PER = 100;
    let clock = T0;
    const done: TaskId[] = [];
    await Promise.all(
      peers.map(async (s, i) => {
        while (done.length < ids.length && clock < T0 + 100_000) {
          clock += 7; // shared simulated time, advanced by every claimer
          const { tasks } = await s.claimBatch({ worker_id: `w${i}`, now: clock, limit: 3, names: ['send'], ...RATE(MAX, PER) });
          await complete(s, tasks, clock);
          done.push(...tasks.map((t) => t.id));
        }
      }),
    );
    expect([...done].sort((a, b) => a - b)).toEqual(ids);
    const starts = (await db.attempts(store)).map((a) => a.started_at);
    expect(starts).toHaveLength(ids.length);
    expect(maxInWindow(starts, PER)).toBeLessThanOrEqual(MAX);
    expect(maxInWindow(starts, PER)).toBe(MAX); // the limit was reached, not undershot
  });

  test('a per-key limit runs at most that many tasks of a key at once, each key in claim order, and a saturated key does not block the others', async () => {
    const store = await open();
    const [a1, a2, b1, a3, b2] = await store.createTasks(
      [
        newTask({ name: 'sync', concurrency_key: 'acct-a' }),
        newTask({ name: 'sync', concurrency_key: 'acct-a', priority: 5 }),
        newTask({ name: 'sync', concurrency_key: 'acct-b' }),
        newTask({ name: 'sync', concurrency_key: 'acct-a' }),
        newTask({ name: 'sync', concurrency_key: 'acct-b' }),
      ],
      T0,
    );
    const claim = claimer(store);
    const keys = { key_limits: { sync: 1 } };
    const first = await claim(T0 + 10, 10, ['sync'], keys);
    expect(first.tasks.map((t) => t.id).sort()).toEqual([a2, b1].sort()); // a2: higher priority within its key
    expect(first.tasks.every((t) => t.concurrency_key !== null)).toBe(true);
    expect((await claim(T0 + 20, 10, ['sync'], keys)).tasks).toEqual([]);
    await complete(store, first.tasks.filter((t) => t.id === b1), T0 + 30);
    expect((await claim(T0 + 40, 10, ['sync'], keys)).tasks.map((t) => t.id)).toEqual([b2]);
    await complete(store, first.tasks.filter((t) => t.id === a2), T0 + 50);
    expect((await claim(T0 + 60, 10, ['sync'], keys)).tasks.map((t) => t.id)).toEqual([a1]);
    expect((await claim(T0 + 70, 10, ['sync'], { key_limits: { sync: 2 } })).tasks.map((t) => t.id)).toEqual([a3]);
    // without a per-key limit the key is only a label
    expect((await db.task(store, a3))!.concurrency_key).toBe('acct-a');
  });

  test('fair share: ten tasks of a key enqueued after 2,000 of another start within the first 20 claims', async () => {
    const store = await open();
    await store.createTasks(Array.from({ length: 2000 }, () => newTask({ name: 'sync', concurrency_key: 'big' })), T0);
    const late = await store.createTasks(Array.from({ length: 10 }, () => newTask({ name: 'sync', concurrency_key: 'small' })), T0 + 1);
    const claim = claimer(store);
    const order: TaskId[] = [];
    for (let i = 0; i < 20; i += 1) {
      const { tasks } = await claim(T0 + 10 + i, 1, ['sync'], { key_limits: { sync: 1000 } });
      expect(tasks).toHaveLength(1);
      order.push(tasks[0].id);
      await complete(store, tasks, T0 + 10 + i);
    }
    expect(late.every((id) => order.includes(id))).toBe(true);
  });

  test('a fair-share pass visits every key in turn, one task each per round, the tasks without a key taking one turn per round', async () => {
    const store = await open();
    const keys = Array.from({ length: 20 }, (_, i) => `k${String(i).padStart(2, '0')}`);
    // two tasks per key, enqueued key by key, and two without a key
    await store.createTasks(keys.flatMap((key) => [newTask({ name: 'sync', concurrency_key: key }), newTask({ name: 'sync', concurrency_key: key })]), T0);
    await store.createTasks([newTask({ name: 'sync' }), newTask({ name: 'sync' })], T0);
    const claim = claimer(store);
    const turns: string[] = [];
    for (let i = 0; i < 60 && turns.length < 42; i += 1) {
      const { tasks } = await claim(T0 + 10, 1, ['sync'], { key_limits: { sync: 5 } });
      turns.push(...tasks.map((t) => t.concurrency_key ?? '(none)'));
      await complete(store, tasks, T0 + 10);
    }
    expect(turns).toHaveLength(42);
    // each round: every key once and the unkeyed tasks once, whatever key order the database has
    for (const round of [turns.slice(0, 21), turns.slice(21)]) expect([...round].sort()).toEqual(['(none)', ...keys].sort());
  });

  test('a pass stopped by saturated keys before coming round hints to claim again at once', async () => {
    const store = await open();
    // 30 saturated keys (each has one running) come before the only key with room
    const busy = await store.createTasks(
      Array.from({ length: 60 }, (_, i) => newTask({ name: 'sync', concurrency_key: `a${String(Math.floor(i / 2)).padStart(2, '0')}` })),
      T0,
    );
    const claim = claimer(store);
    const running: Task[] = [];
    for (let i = 0; i < 30; i += 1) running.push(...(await claim(T0 + 10, 1, ['sync'], { key_limits: { sync: 1 } })).tasks);
    expect(new Set(running.map((t) => t.concurrency_key)).size).toBe(30);
    const [free] = await store.createTasks([newTask({ name: 'sync', concurrency_key: 'z' })], T0);
    let got: Task[] = [];
    // each pass visits the batch size + 2 keys, so it takes about 11 passes to get past 30 saturated keys
    let passes = 0;
    for (; passes < 40 && got.length === 0; passes += 1) {
      const result = await claim(T0 + 20, 1, ['sync'], { key_limits: { sync: 1 } });
      got = result.tasks;
      // a pass that stopped short says so (claim again at once), rather than leaving it to a poll
      if (got.length === 0) expect(result.retry_at! - (T0 + 20)).toBeGreaterThanOrEqual(0);
      if (got.length === 0) expect(result.retry_at! - (T0 + 20)).toBeLessThan(500);
    }
    expect(got.map((t) => t.id)).toEqual([free]);
    expect(busy).toHaveLength(60);
  });

  test('three peers racing never run more than the per-key limit of any key at once', async () => {
    const store = await open();
    const peers = [store, await peer(store), await peer(store)];
    const ids = await store.createTasks(Array.from({ length: 48 }, (_, i) => newTask({ name: 'sync', concurrency_key: `k${i % 4}` })), T0);
    const done: TaskId[] = [];
    const over: string[] = [];
    await Promise.all(
      peers.map(async (s, i) => {
        let idle = 0;
        while (idle < 5) {
          const { tasks } = await s.claimBatch({ worker_id: `w${i}`, now: T0 + 10, limit: 3, names: ['sync'], key_limits: { sync: 2 } });
          if (tasks.length === 0) {
            idle += 1;
            await new Promise((resolve) => setTimeout(resolve, 3));
            continue;
          }
          idle = 0;
          const runningNow = await db.tasks(store, { status: 'running' });
          const perKey = new Map<string, number>();
          for (const t of runningNow) perKey.set(t.concurrency_key!, (perKey.get(t.concurrency_key!) ?? 0) + 1);
          for (const [key, n] of perKey) if (n > 2) over.push(`${key}:${n}`);
          await new Promise((resolve) => setTimeout(resolve, 2));
          await complete(s, tasks, T0 + 20);
          done.push(...tasks.map((t) => t.id));
        }
      }),
    );
    expect(over).toEqual([]);
    expect([...done].sort((a, b) => a - b)).toEqual(ids);
  });

  test('per-key, rate, cluster and per-process limits combine: the smallest room wins', async () => {
    const store = await open();
    await store.createTasks(Array.from({ length: 12 }, (_, i) => newTask({ name: 'sync', concurrency_key: `k${i % 6}` })), T0);
    const claim = claimer(store);
    const got = await claim(T0 + 10, 10, ['sync'], { key_limits: { sync: 1 }, cluster_limits: { sync: 4 }, rate_limits: { sync: { max: 3, per_ms: 1000 } } });
    expect(got.tasks).toHaveLength(3);
    expect(new Set(got.tasks.map((t) => t.concurrency_key)).size).toBe(3);
    const capped = await claim(T0 + 2000, 10, ['sync'], { key_limits: { sync: 1 }, name_limits: { sync: 1 }, rate_limits: { sync: { max: 3, per_ms: 1000 } } });
    expect(capped.tasks).toHaveLength(1);
  });

  test('concurrency_key is stored for tasks and workflow children and returned with them', async () => {
    const store = await open();
    const [id] = await store.createTasks([newTask({ name: 'parent', concurrency_key: 'tenant-1' })], T0);
    expect((await store.getTask(id))!.concurrency_key).toBe('tenant-1');
    const [parent] = await store.claimTasks({ worker_id: 'w1', now: T0 + 10, limit: 1, names: ['parent'] });
    const res = await store.finishAttempt(fenceOf(parent), { kind: 'spawned', children: [newChild({ concurrency_key: 'tenant-2' }), newChild()], context: null }, T0 + 20);
    const children = await Promise.all(res.child_ids.map((child) => store.getTask(child)));
    expect(children.map((c) => c!.concurrency_key)).toEqual(['tenant-2', null]);
    expect((await store.createTasks([newTask()], T0).then(([plain]) => store.getTask(plain)))!.concurrency_key).toBeNull();
  });

  test('a paused name is claimed by nobody, its tasks stay pending, and resuming it makes them claimable again', async () => {
    const store = await open();
    const other = await peer(store);
    const [held] = await store.createTasks([newTask({ name: 'mail' }), newTask({ name: 'mail' })], T0);
    const [free] = await store.createTasks([newTask({ name: 'free' })], T0);
    const paused = await store.pauseName('mail', { reason: 'provider down', by: 'ops' }, T0 + 1);
    expect(paused).toEqual({ changed: true, pause: { name: 'mail', paused_at: T0 + 1, paused_by: 'ops', reason: 'provider down' } });
    // on every path of the claim: plain, and with a limit that serialises the name
    const plainClaim = await other.claimBatch({ worker_id: 'w2', now: T0 + 10, limit: 5, names: ['mail', 'free'] });
    expect(plainClaim.tasks.map((t) => t.id)).toEqual([free]);
    expect((await other.claimBatch({ worker_id: 'w2', now: T0 + 10, limit: 5, names: ['mail'], cluster_limits: { mail: 5 } })).tasks).toEqual([]);
    expect((await other.claimBatch({ worker_id: 'w2', now: T0 + 10, limit: 5, names: ['mail'], key_limits: { mail: 5 } })).tasks).toEqual([]);
    expect((await other.claimBatch({ worker_id: 'w2', now: T0 + 10, limit: 5, names: ['mail'], rate_limits: { mail: { max: 5, per_ms: 10 } } })).tasks).toEqual([]);
    expect((await db.task(store, held))!.status).toBe('pending');
    expect(await other.listPausedNames()).toEqual([{ name: 'mail', paused_at: T0 + 1, paused_by: 'ops', reason: 'provider down' }]);
    // pausing again changes nothing and writes no event
    expect(await store.pauseName('mail', { reason: 'again' }, T0 + 2)).toEqual({ changed: false, pause: paused.pause });
    expect(await store.resumeName('mail', { by: 'ops' }, T0 + 3)).toBe(true);
    expect(await store.resumeName('mail', {}, T0 + 4)).toBe(false);
    expect(await store.listPausedNames()).toEqual([]);
    expect((await other.claimBatch({ worker_id: 'w2', now: T0 + 10, limit: 5, names: ['mail'] })).tasks).toHaveLength(2);
    const events = (await store.queryNameEvents({})).items;
    expect(events.map((e) => [e.task_id, e.event_type, e.event_time, e.message, e.metadata])).toEqual([
      [0, 'name_paused', T0 + 1, 'provider down', { name: 'mail', by: 'ops' }],
      [0, 'name_resumed', T0 + 3, null, { name: 'mail', by: 'ops' }],
    ]);
    expect((await store.queryNameEvents({ event_type: 'name_resumed' })).items).toHaveLength(1);
  });

  test('pausing or resuming a bad name is a ValidationError and writes nothing', async () => {
    const store = await open();
    for (const bad of ['', 42, null, 'x'.repeat(256), 'nul\u0000']) {
      await expect(store.pauseName(bad as string, {}, T0)).rejects.toBeInstanceOf(ValidationError);
      await expect(store.resumeName(bad as string, {}, T0)).rejects.toBeInstanceOf(ValidationError);
    }
    await expect(store.pauseName('ok', { reason: 7 as never }, T0)).rejects.toBeInstanceOf(ValidationError);
    await expect(store.pauseName('ok', { by: 'y'.repeat(300) }, T0)).rejects.toBeInstanceOf(ValidationError);
    expect(await store.listPausedNames()).toEqual([]);
    expect(await db.events(store)).toEqual([]);
    // a hostile name is data
    const hostile = `x'); DELETE FROM taskmill_paused_names; --`;
    await store.pauseName(hostile, {}, T0);
    await store.pauseName('plain', {}, T0);
    expect((await store.listPausedNames()).map((p) => p.name)).toEqual(['plain', hostile].sort());
  });
}
