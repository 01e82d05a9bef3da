import { expect } from 'vitest';
import { DuplicateTaskError, InvalidCronError, LimitExceededError, SerializationError, ValidationError, type TaskManager } from '@taskmill/core';
import { backends, sharedBackends } from '../src/backends.js';
import { describeBackends, waitFor, waitForStatus } from '../src/harness.js';
import { spawnEnqueuer, type EnqueueProcess } from '../src/processes.js';

/*
 * Managed schedules (issue 25, item 7; docs/behaviour.md#schedules): `schedule(name, key, def)`,
 * `unschedule(name, key)`, `getSchedules()`, on every store.
 */

/** A handler that records each run's payload and can be held until `release()`. */
function recorder() {
  const seen: unknown[] = [];
  let release: () => void = () => undefined;
  let gate: Promise<void> | null = null;
  return {
    seen,
    hold() {
      gate = new Promise((r) => (release = r));
    },
    release: () => {
      gate = null;
      release();
    },
    handler: async (task: { payload: unknown }) => {
      seen.push(task.payload);
      if (gate) await gate;
      return 'ran';
    },
  };
}

/** The due times of a cron task's finished runs: each success's `next_run_time` is the next run's due time. */
async function reschedules(tm: TaskManager<any>, id: number): Promise<number[]> {
  const events = await tm.getTaskEvents(id, { event_type: 'task_status_changed', limit: 1000 });
  return events.filter((e) => e.from_status === 'running' && e.to_status === 'pending').map((e) => e.metadata!.next_run_time as number);
}

/** The next 03:00 UTC after `after`. */
function next3amUtc(after: number): number {
  const day = new Date(after);
  const at = Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), 3);
  return at > after ? at : at + 86_400_000;
}

/** `HH:MM` of a time in a time zone. */
function wallClock(time: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(time);
}

describeBackends('managed schedules', backends(), (env) => {
  env.test('an interval schedule runs on its grid of multiples of every, and getSchedules lists it', async () => {
    const tm = await env.isolated();
    const job = recorder();
    tm.use('tick', job.handler);
    const before = Date.now();
    const created = await tm.schedule('tick', 'every-2', { every: 2, payload: { n: 1 } });
    expect(created).toMatchObject({ created: true, key: 'every-2', name: 'tick', every: 2, cron: null, tz: null, payload: { n: 1 }, status: 'pending', last_run_at: null });
    expect(created.next_run_time % 2000).toBe(0);
    expect(created.next_run_time).toBeGreaterThan(before - 1000);
    expect(created.next_run_time).toBeLessThanOrEqual(Date.now() + 2000);
    await tm.start();
    const dues = await waitFor(async () => {
      const times = await reschedules(tm, created.task_id);
      return times.length >= 3 ? times : null;
    }, { timeout: 30_000, what: 'three runs' });
    // every run is due on the 2 s grid, one grid step after the one before (no bunching, no drift)
    for (const due of dues) expect(due % 2000).toBe(0);
    for (let i = 1; i < dues.length; i++) expect(dues[i] - dues[i - 1]).toBe(2000);
    const attempts = await tm.getTaskAttempts(created.task_id);
    expect(attempts.slice(0, 3).map((a) => a.outcome)).toEqual(['completed', 'completed', 'completed']);
    // each run started at or after its due time: the first at created.next_run_time, then the grid
    expect(attempts[0].started_at).toBeGreaterThanOrEqual(created.next_run_time);
    for (let i = 1; i < 3; i++) expect(attempts[i].started_at).toBeGreaterThanOrEqual(dues[i - 1]);
    expect(job.seen.slice(0, 3)).toEqual([{ n: 1 }, { n: 1 }, { n: 1 }]);
    const page = await tm.getSchedules();
    expect(page.items).toHaveLength(1);
    expect(page.items[0]).toMatchObject({ key: 'every-2', name: 'tick', task_id: created.task_id, every: 2, last_result: 'ran' });
    expect(page.items[0].last_run_at).toBeGreaterThanOrEqual(created.next_run_time);
  }, 60_000);

  env.test('update in place keeps one row: payload only keeps the next run; tz and cron → every recompute it from now', async () => {
    const tm = await env.isolated();
    const first = await tm.schedule('report', 'nightly', { cron: '0 3 * * *', payload: { to: 'a' }, priority: 2 });
    expect(first.created).toBe(true);
    expect(first.next_run_time).toBe(next3amUtc(Date.now()));
    // payload only: same row, same next run, one schedule_updated event naming the payload
    const payload = await tm.schedule('report', 'nightly', { cron: '0 3 * * *', payload: { to: 'b' }, priority: 2 });
    expect(payload).toMatchObject({ created: false, task_id: first.task_id, payload: { to: 'b' }, next_run_time: first.next_run_time, cron: '0 3 * * *', tz: 'UTC' });
    // the same definition again writes nothing
    await tm.schedule('report', 'nightly', { cron: '0 3 * * *', payload: { to: 'b' }, priority: 2 });
    // a time zone: the next run is 03:00 in New York, computed now
    const tz = await tm.schedule('report', 'nightly', { cron: '0 3 * * *', tz: 'America/New_York', payload: { to: 'b' }, priority: 2 });
    expect(tz).toMatchObject({ task_id: first.task_id, tz: 'America/New_York' });
    expect(wallClock(tz.next_run_time, 'America/New_York')).toBe('03:00');
    expect(tz.next_run_time).toBeGreaterThan(Date.now());
    expect(tz.next_run_time).toBeLessThanOrEqual(Date.now() + 86_400_000);
    expect(tz.next_run_time).not.toBe(first.next_run_time);
    // cron → every: the next run is the next multiple of the interval after now; options left out fall back to their defaults
    const before = Date.now();
    const every = await tm.schedule('report', 'nightly', { every: 3600, payload: { to: 'c' } });
    expect(every).toMatchObject({ task_id: first.task_id, cron: null, every: 3600, tz: null, payload: { to: 'c' }, priority: 0 });
    expect(every.next_run_time % 3_600_000).toBe(0);
    expect(every.next_run_time).toBeGreaterThan(before - 1000);
    expect(every.next_run_time).toBeLessThanOrEqual(Date.now() + 3_600_000);
    const tasks = await tm.getTasks({ name: 'report' });
    expect(tasks).toHaveLength(1);
    expect(tasks[0]).toMatchObject({ type: 'cron', cron_expr: '@every 3600s', cron_tz: null, status: 'pending' });
    const updates = await tm.getTaskEvents(first.task_id, { event_type: 'schedule_updated' });
    expect(updates.map((e) => e.metadata!.changed)).toEqual([['payload'], ['expression'], ['payload', 'expression', 'options']]);
    expect(updates[0].metadata).toMatchObject({ key: 'nightly', previous_next_run_time: first.next_run_time, next_run_time: first.next_run_time });
  });

  env.test('a running schedule is updated without disturbing its attempt; the new expression and payload apply from the next run', async () => {
    const tm = await env.isolated();
    const job = recorder();
    job.hold();
    tm.use('sync', job.handler);
    const { task_id: id } = await tm.schedule('sync', 's', { every: 1, payload: { v: 1 } });
    await tm.start();
    const running = await waitForStatus(tm, id, 'running');
    const updated = await tm.schedule('sync', 's', { cron: '0 3 * * *', payload: { v: 2 } });
    const dueAt3 = next3amUtc(Date.now());
    expect(updated).toMatchObject({ task_id: id, status: 'running', cron: '0 3 * * *', payload: { v: 2 }, next_run_time: dueAt3 });
    expect(await tm.getTask(id)).toMatchObject({ attempt: running.attempt, worker_id: running.worker_id });
    job.release();
    // the run finishes as it started (payload v1), and the next run is the new expression's
    const after = await waitFor(async () => {
      const t = await tm.getTask(id);
      return t && t.status === 'pending' && t.attempt === running.attempt ? t : null;
    }, { what: 'the run to finish' });
    expect(after.next_run_time).toBe(dueAt3);
    expect(job.seen).toEqual([{ v: 1 }]);
    expect(await tm.getTaskAttempts(id)).toMatchObject([{ attempt: running.attempt, outcome: 'completed' }]);
  });

  env.test('unschedule: an idle schedule is cancelled, no further runs; true once, then false; the key can be scheduled again', async () => {
    const tm = await env.isolated();
    const { task_id: id } = await tm.schedule('report', 'k', { cron: '*/5 * * * *' });
    expect(await tm.unschedule('report', 'k')).toBe(true);
    expect(await tm.getTask(id)).toMatchObject({ status: 'permanently_failed', error: 'Schedule removed' });
    expect((await tm.getTaskEvents(id)).slice(-2).map((e) => e.event_type)).toEqual(['schedule_removed', 'task_permanently_failed']);
    expect((await tm.getSchedules()).items).toEqual([]);
    expect(await tm.unschedule('report', 'k')).toBe(false);
    expect(await tm.unschedule('nobody', 'k')).toBe(false);
    const again = await tm.schedule('report', 'k', { cron: '*/5 * * * *' });
    expect(again.created).toBe(true);
    expect(again.task_id).not.toBe(id);
  });

  env.test('unschedule of a running schedule: the attempt finishes (completed), and the schedule never runs again', async () => {
    const tm = await env.isolated();
    const job = recorder();
    job.hold();
    tm.use('sync', job.handler);
    const { task_id: id } = await tm.schedule('sync', 's', { every: 1 });
    await tm.start();
    await waitForStatus(tm, id, 'running');
    expect(await tm.unschedule('sync', 's')).toBe(true);
    expect(await tm.getTask(id)).toMatchObject({ status: 'running', type: 'async' });
    expect((await tm.getSchedules()).items).toEqual([]);
    job.release();
    const done = await waitForStatus(tm, id, 'completed');
    expect(done.result).toBe('ran');
    expect(await tm.getTaskAttempts(id)).toHaveLength(1);
    expect(job.seen).toHaveLength(1);
  });

  env.test('a cron task with a unique key is a schedule; a one-off task holding the key refuses schedule() with DuplicateTaskError', async () => {
    const tm = await env.isolated();
    tm.use('report', () => null);
    const cron = await tm.cron('report', '0 3 * * *', { a: 1 }, { unique_key: 'nightly' });
    expect((await tm.schedule('report', 'nightly', { cron: '0 4 * * *' })).task_id).toBe(cron);
    const oneOff = await tm.async('report', {}, { unique_key: 'busy', delay: 3600 });
    const error = await tm.schedule('report', 'busy', { every: 60 }).catch((e) => e);
    expect(error).toBeInstanceOf(DuplicateTaskError);
    expect(error.taskId).toBe(oneOff);
    expect(await tm.getTasks({ name: 'report' })).toHaveLength(2);
  });

  env.test('bad input is a typed error and writes nothing', async () => {
    const tm = await env.isolated();
    await tm.setup();
    const hostile: Record<string, unknown> = {};
    hostile.self = hostile;
    const cases: Array<[unknown, unknown, unknown, new (...args: never[]) => Error]> = [
      ['job', '', { every: 60 }, ValidationError],
      ['job', 'k'.repeat(256), { every: 60 }, ValidationError],
      ['job', 42, { every: 60 }, ValidationError],
      ['', 'k', { every: 60 }, ValidationError],
      ['job', 'k', { cron: '* * * * *', every: 60 }, ValidationError],
      ['job', 'k', {}, ValidationError],
      ['job', 'k', { every: 0 }, ValidationError],
      ['job', 'k', { every: -5 }, ValidationError],
      ['job', 'k', { every: 1.5 }, ValidationError],
      ['job', 'k', { every: '60' }, ValidationError],
      ['job', 'k', { every: 366 * 24 * 3600 + 1 }, ValidationError],
      ['job', 'k', { every: 60, tz: 'UTC' }, ValidationError],
      ['job', 'k', { cron: 'not a cron' }, InvalidCronError],
      ['job', 'k', { cron: '@every 60s' }, InvalidCronError],
      ['job', 'k', { cron: '* * *' }, InvalidCronError],
      ['job', 'k', { cron: '* * * * *', tz: 'Mars/Olympus' }, InvalidCronError],
      ['job', 'k', { every: 60, payload: hostile }, SerializationError],
      ['job', 'k', { every: 60, payload: { big: 'x'.repeat(5 * 1024 * 1024) } }, LimitExceededError],
      ['job', 'k', { every: 60, unique_key: 'other' }, ValidationError],
      ['job', 'k', { every: 60, delay: 5 }, ValidationError],
      ['job', 'k', { every: 60, priority: 1.5 }, ValidationError],
      ['job', 'k', null, ValidationError],
    ];
    for (const [name, key, def, type] of cases) {
      const error = await tm.schedule(name as string, key as string, def as never).catch((e) => e);
      expect(error, JSON.stringify([name, typeof key === 'string' ? key.slice(0, 10) : key, def === hostile ? 'hostile' : Object.keys((def as object) ?? {})])).toBeInstanceOf(type);
    }
    expect(await tm.getTasks()).toEqual([]);
    await expect(tm.unschedule('job', '')).rejects.toBeInstanceOf(ValidationError);
    await expect(tm.getSchedules({ nmae: 'job' } as never)).rejects.toBeInstanceOf(ValidationError);
  });
});

describeBackends('schedules across processes and restarts', sharedBackends(), (env) => {
  env.test('4 processes × 10 concurrent schedule() calls of one key leave one row, with one of the last definitions', async () => {
    const tm = await env.isolated();
    await tm.setup();
    const count = 10;
    const procs: EnqueueProcess[] = [];
    try {
      for (let i = 0; i < 4; i++) procs.push(await spawnEnqueuer({ connection: env.db().processConnection, name: 'race', key: 'the-one', count, schedule: { every: 60 } }));
      const results = await Promise.all(procs.map((p) => p.go()));
      const tasks = await tm.getTasks({ name: 'race' });
      expect(tasks).toHaveLength(1);
      expect(new Set(results.flat())).toEqual(new Set([tasks[0].id]));
      expect((await tm.getSchedules()).items).toHaveLength(1);
      // the row holds the definition of some process's last call
      expect(tasks[0].payload).toMatchObject({ i: count - 1 });
      expect(await tm.getTaskEvents(tasks[0].id, { event_type: 'task_created' })).toHaveLength(1);
    } finally {
      for (const p of procs) p.kill();
    }
  }, 180_000);

  env.test('two workers, then a restart of every worker after an outage: one run per grid time, one catch-up run, then the grid', async () => {
    const tm = await env.isolated();
    const runs: Array<{ worker: string; payload: unknown }> = [];
    const handler = (worker: string) => (task: { payload: unknown }) => {
      runs.push({ worker, payload: task.payload });
      return null;
    };
    tm.use('beat', handler('a'));
    const { task_id: id } = await tm.schedule('beat', 'b', { every: 1 });
    const other = env.manager();
    other.use('beat', handler('c'));
    await Promise.all([tm.start(), other.start()]);
    await waitFor(async () => (await reschedules(tm, id)).length >= 4, { timeout: 30_000, what: 'four runs with two workers' });
    await Promise.all([tm.stop(), other.stop()]);
    const restarted = env.manager();
    restarted.use('beat', handler('d'));
    const before = await reschedules(restarted, id);
    const attemptsBefore = await restarted.getTaskAttempts(id);
    // one attempt per grid time, whichever worker took it
    expect(attemptsBefore.filter((a) => a.outcome === 'completed')).toHaveLength(before.length);
    for (let i = 1; i < before.length; i++) expect(before[i] - before[i - 1]).toBe(1000);
    // an outage spanning several grid times
    const leftDue = (await restarted.getTask(id))!.next_run_time;
    await waitFor(() => Date.now() > leftDue + 3500, { timeout: 10_000, what: 'the outage to span three grid times' });
    await restarted.start();
    const after = await waitFor(async () => {
      const times = await reschedules(restarted, id);
      return times.length >= before.length + 2 ? times.slice(before.length) : null;
    }, { timeout: 30_000, what: 'two runs after the restart' });
    const attempts = await restarted.getTaskAttempts(id);
    const catchUp = attempts[attemptsBefore.length];
    // the run left due before the outage runs once, late; the next is the first grid time after it, not the missed ones
    expect(catchUp.started_at).toBeGreaterThan(leftDue + 3000);
    expect(after[0] % 1000).toBe(0);
    expect(after[0]).toBeGreaterThan(catchUp.ended_at!);
    expect(after[0]).toBeLessThanOrEqual(catchUp.ended_at! + 1000);
    expect(after[1] - after[0]).toBe(1000);
    expect(attempts.filter((a) => a.started_at < after[0])).toHaveLength(attemptsBefore.length + 1);
    expect(new Set(runs.map((r) => r.worker)).has('d')).toBe(true);
    expect(attempts.every((a) => a.outcome === 'completed' || a.outcome === null)).toBe(true);
  }, 90_000);
});
