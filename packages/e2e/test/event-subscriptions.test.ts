import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { ERROR_CODES, EVENT_FEED_LIMITS, type FeedEvent, type TaskManager } from '@taskmill/core';
import { appDatabase } from '../src/app-transactions.js';
import { backends, sharedBackends } from '../src/backends.js';
import { describeBackends, waitFor } from '../src/harness.js';
import { spawnEventsProcess } from '../src/processes.js';

/*
 * tm.subscribe() (docs/behaviour.md#event-subscriptions): filters, bad input, a subscriber in
 * another process killed and restarted from its saved cursor, and a transaction that holds a low
 * event id open while a higher one commits.
 */

/** Every event in the database, by id, with its task's name and tag (read through the audit queries). */
async function allEvents(tm: TaskManager<any>): Promise<Array<{ id: number; event_type: string; task_id: number; root_id: number | null; name: string; tag: string | null }>> {
  const out = [];
  for (const task of await tm.getTasks()) {
    for (const e of await tm.getTaskEvents(task.id)) out.push({ id: e.id, event_type: e.event_type, task_id: e.task_id, root_id: e.root_id, name: task.name, tag: task.tag });
  }
  return out.sort((a, b) => a.id - b.id);
}

const ids = (events: Array<{ id: number }>) => events.map((e) => e.id);

describeBackends('event subscriptions', backends(), (env) => {
  env.test('filters by type, name, tag and workflow deliver exactly the matching events, in id order', async () => {
    const tm = await env.isolated({ event_poll_interval: 20, poll_interval: 200 });
    tm.use('a', () => 'a');
    tm.use('b', () => 'b');
    tm.use('parent', (task, next) => (task.stage === 0 ? next([{ name: 'a' }, { name: 'b' }]) : 'p'));
    const seen: Record<string, FeedEvent[]> = { all: [], types: [], names: [], tags: [], root: [], both: [] };
    const on = (key: string) => (batch: { events: FeedEvent[] }) => void seen[key].push(...batch.events);
    const subs = [
      await tm.subscribe({ from: 'beginning' }, on('all')),
      await tm.subscribe({ types: ['task_completed', 'task_created'] }, on('types')),
      await tm.subscribe({ names: ['b'] }, on('names')),
      await tm.subscribe({ tags: ['blue'] }, on('tags')),
    ];
    await tm.async('a', {}, { tag: 'blue' });
    await tm.async('b', {});
    const root = await tm.async('parent', {}, { tag: 'blue' });
    subs.push(await tm.subscribe({ root_id: root, from: 'beginning' }, on('root')));
    subs.push(await tm.subscribe({ root_id: root, types: ['task_completed'], names: ['a'], from: 'beginning' }, on('both')));
    await tm.start();
    await waitFor(async () => (await tm.getTasks()).every((t) => t.status === 'completed'), { what: 'every task completed' });
    const events = await allEvents(tm);
    await waitFor(() => seen.all.length >= events.length, { what: 'the unfiltered subscriber to catch up' });
    await waitFor(() => seen.root.length >= events.filter((e) => e.root_id === root).length, { what: 'the workflow subscriber to catch up' });
    await new Promise((r) => setTimeout(r, 300)); // a filtered subscriber that delivers too much would show it by now
    const expected = {
      all: events,
      types: events.filter((e) => e.event_type === 'task_completed' || e.event_type === 'task_created'),
      names: events.filter((e) => e.name === 'b'),
      tags: events.filter((e) => e.tag === 'blue'),
      root: events.filter((e) => e.root_id === root),
      both: events.filter((e) => e.root_id === root && e.event_type === 'task_completed' && e.name === 'a'),
    };
    for (const key of Object.keys(expected) as Array<keyof typeof expected>) {
      expect(ids(seen[key]), key).toEqual(ids(expected[key]));
    }
    expect(expected.both).toHaveLength(1);
    expect(expected.names.length).toBeGreaterThan(4); // both b tasks' lives
    expect(seen.all.every((e) => !e.late)).toBe(true);
    const first = seen.all.find((e) => e.event_type === 'task_created')!;
    expect(first).toMatchObject({ task_name: 'a', task_tag: 'blue', metadata: { name: 'a' } });
    // the subscription's cursor resumes after everything delivered
    const resumed: FeedEvent[] = [];
    const again = await tm.subscribe({ after: subs[0].cursor }, (batch) => void resumed.push(...batch.events));
    await tm.async('a', {});
    await waitFor(() => resumed.some((e) => e.event_type === 'task_completed'), { what: 'the resumed subscriber to see the new task' });
    expect(resumed[0].id).toBeGreaterThan(events[events.length - 1].id);
    for (const s of [...subs, again]) await s.close();
    expect(subs.every((s) => s.closed)).toBe(true);
    // a handler may close its own subscription: no batch follows
    let calls = 0;
    const self = await tm.subscribe({ from: 'beginning' }, async () => {
      calls++;
      await self.close();
    });
    await waitFor(() => self.closed, { what: 'the subscription closed from its handler' });
    await tm.async('a', {});
    await new Promise((r) => setTimeout(r, 300));
    expect(calls).toBe(1);
  });

  env.test('a handler that throws gets the same batch again (at least once), and the error goes to onError', async () => {
    const errors: string[] = [];
    const tm = await env.isolated({ event_poll_interval: 20, poll_interval: 100, onError: (error, where) => void errors.push(`${where}: ${(error as Error).message}`) });
    tm.use('a', () => 1);
    const batches: number[][] = [];
    const cursors: string[] = [];
    const sub = await tm.subscribe({ types: ['task_created'] }, ({ events, cursor }) => {
      batches.push(events.map((e) => e.task_id));
      if (batches.length === 1) throw new Error('projection down');
      cursors.push(cursor);
    });
    const before = sub.cursor;
    const id = await tm.async('a', {});
    await waitFor(() => batches.length >= 2, { what: 'the batch delivered again' });
    expect(batches.slice(0, 2)).toEqual([[id], [id]]);
    expect(errors).toContain('subscription handler: projection down');
    expect(sub.cursor).toBe(cursors[0]);
    expect(sub.cursor).not.toBe(before);
    await sub.close();
  });

  env.test('bad options, cursors and handlers are a ValidationError, and nothing is read or written', async () => {
    const tm = await env.isolated();
    tm.use('a', () => 1);
    const id = await tm.async('a', {});
    const before = await tm.getTaskEvents(id);
    const handler = () => undefined;
    const hostile = [
      'xyz',
      'tm1.',
      'tm1.-1',
      'tm1.01',
      `tm1.${'9'.repeat(30)}`,
      'tm1.5.7~1', // a gap above the position
      'tm1.5.3~1,3~2',
      `tm1.${EVENT_FEED_LIMITS.max_gaps + 10}.${Array.from({ length: EVENT_FEED_LIMITS.max_gaps + 1 }, (_, i) => `${i + 1}~0`).join(',')}`,
      'x'.repeat(EVENT_FEED_LIMITS.max_cursor_length + 1),
      "tm1.1'; DROP TABLE taskmill_tasks; --",
    ];
    const bad: Array<[unknown, unknown]> = [
      ...hostile.map((after): [unknown, unknown] => [{ after }, handler]),
      [{ after: 5 }, handler],
      [{ types: ['task_exploded'] }, handler],
      [{ types: [] }, handler],
      [{ types: 'task_created' }, handler],
      [{ names: [1] }, handler],
      [{ tags: [''] }, handler],
      [{ root_id: 'abc' }, handler],
      [{ root_id: -1 }, handler],
      [{ from: 'yesterday' }, handler],
      [{ from: 'now', after: 'tm1.0' }, handler],
      [{ typo: 1 }, handler],
      ['everything', handler],
      [{}, 'not a function'],
      [{}, undefined],
    ];
    for (const [options, h] of bad) {
      await expect(tm.subscribe(options as never, h as never), JSON.stringify(options)?.slice(0, 80)).rejects.toMatchObject({ code: ERROR_CODES.VALIDATION });
    }
    expect(await tm.getTaskEvents(id)).toEqual(before);
    expect(await tm.getTasks()).toHaveLength(1);
  });
});

/** Lines `<id> <late> <type> <task>` a subscriber process logged. */
function readLog(file: string): Array<{ id: number; late: boolean }> {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id, late] = line.split(' ');
      return { id: Number(id), late: late === '1' };
    });
}

describeBackends('event subscriptions across processes', sharedBackends(), (env) => {
  env.test('a subscriber killed with SIGKILL and restarted from its saved cursor misses nothing and gets nothing older again', async () => {
    const tm = await env.isolated({ max_concurrent_tasks: 5, poll_interval: 50 });
    tm.use('work', () => 'ok');
    await tm.start();
    const dir = mkdtempSync(join(tmpdir(), 'taskmill-sub-'));
    const log = join(dir, 'events.log');
    const cursorFile = join(dir, 'cursor');
    let producing = true;
    const producer = (async () => {
      while (producing) {
        await tm.asyncMany(Array.from({ length: 5 }, () => ({ name: 'work' })));
        await new Promise((r) => setTimeout(r, 30));
      }
    })();
    try {
      const connection = env.db().processConnection;
      const first = await spawnEventsProcess({ mode: 'subscriber', connection, log, cursor: cursorFile });
      // killed once it has saved a cursor (a kill before its first save would restart from the beginning)
      await waitFor(() => readLog(log).length > 100 && existsSync(cursorFile), { what: 'the first subscriber to log events and save a cursor' });
      await first.kill();
      const firstRun = readLog(log);
      const saved = readFileSync(cursorFile, 'utf8');
      const savedHigh = Number(/^tm1\.(\d+)/.exec(saved)![1]);
      // events keep committing while no subscriber runs
      await new Promise((r) => setTimeout(r, 500));
      const second = await spawnEventsProcess({ mode: 'subscriber', connection, log, cursor: cursorFile, after: saved });
      await new Promise((r) => setTimeout(r, 500));
      producing = false;
      await producer;
      await waitFor(async () => (await tm.getTasks()).every((t) => t.status === 'completed'), { what: 'every task completed' });
      const events = await allEvents(tm);
      const last = events[events.length - 1].id;
      await waitFor(() => readLog(log).some((e) => e.id === last), { timeout: 30_000, what: 'the restarted subscriber to reach the last event' });
      await second.stop();
      const secondRun = readLog(log).slice(firstRun.length);
      // in commit (= id) order within each run; late fills are the only exception
      for (const run of [firstRun, secondRun]) {
        const inOrder = run.filter((e) => !e.late).map((e) => e.id);
        expect(inOrder).toEqual([...inOrder].sort((a, b) => a - b));
        expect(new Set(inOrder).size).toBe(inOrder.length);
      }
      // the restart gets nothing at or below its cursor (but late fills of its gaps)
      expect(secondRun.filter((e) => !e.late).every((e) => e.id > savedHigh)).toBe(true);
      expect(secondRun[0].id).toBe(Math.min(...secondRun.map((e) => e.id)));
      // and every event committed is in the log
      const logged = new Set(readLog(log).map((e) => e.id));
      expect(events.filter((e) => !logged.has(e.id)).map((e) => e.id)).toEqual([]);
      expect(events.length).toBeGreaterThan(firstRun.length);
    } finally {
      producing = false;
      await producer.catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});

describeBackends('event feed gaps', backends().filter((b) => b.name === 'postgres' || b.name === 'mysql'), (env) => {
  /**
   * The application's transaction enqueues (its `task_created` event takes an id) and stays open
   * while another enqueue takes the next id and commits; the open one commits `holdMs` later.
   */
  async function lowIdCommitsLate(tm: TaskManager<any>, holdMs: number, seen: FeedEvent[]) {
    const app = await appDatabase(env.backend, env.db());
    let low = 0;
    let high = 0;
    try {
      await app.run(
        'commit',
        async (tx) => {
          low = await tm.within(tx).async('a', {});
        },
        async () => {
          high = await tm.async('a', {});
          await new Promise((r) => setTimeout(r, holdMs));
          // while the low one is open, delivery never goes past its id: nothing of `high` yet,
          // unless the hold time is over
          if (holdMs < EVENT_FEED_LIMITS.gap_hold_ms - 200) expect(seen.filter((e) => e.task_id === high)).toEqual([]);
        },
      );
    } finally {
      await app.close();
    }
    return { low, high };
  }

  env.test('a low id committed after a higher one is delivered before it while the gap holds', async () => {
    const tm = await env.isolated({ event_poll_interval: 20, poll_interval: 100 });
    tm.use('a', () => 1);
    await tm.setup();
    const seen: FeedEvent[] = [];
    const sub = await tm.subscribe({ types: ['task_created'] }, (batch) => void seen.push(...batch.events));
    const { low, high } = await lowIdCommitsLate(tm, 400, seen);
    await waitFor(() => seen.length >= 2, { what: 'both task_created events' });
    expect(seen.map((e) => [e.task_id, e.late])).toEqual([
      [low, false],
      [high, false],
    ]);
    expect(seen[0].id).toBeLessThan(seen[1].id);
    await sub.close();
  });

  env.test('a low id committed after the hold is still delivered, marked late, and survives a restart from the cursor', async () => {
    const tm = await env.isolated({ event_poll_interval: 20, poll_interval: 100 });
    tm.use('a', () => 1);
    await tm.setup();
    const seen: FeedEvent[] = [];
    let cursor = '';
    const sub = await tm.subscribe({ types: ['task_created'] }, (batch) => {
      seen.push(...batch.events);
      cursor = batch.cursor;
    });
    // the second subscriber stops (as a killed process would) after delivery went past the gap
    const resumed: FeedEvent[] = [];
    const beforeRestart: FeedEvent[] = [];
    let restartCursor = '';
    const early = await tm.subscribe({ types: ['task_created'] }, (batch) => {
      beforeRestart.push(...batch.events);
      restartCursor = batch.cursor;
    });
    const app = await appDatabase(env.backend, env.db());
    let low = 0;
    let high = 0;
    try {
      await app.run(
        'commit',
        async (tx) => {
          low = await tm.within(tx).async('a', {});
        },
        async () => {
          high = await tm.async('a', {});
          await waitFor(() => seen.some((e) => e.task_id === high), { what: 'the higher id delivered once the hold is over' });
          await waitFor(() => beforeRestart.some((e) => e.task_id === high), { what: 'the second subscriber past the gap' });
          await early.close();
        },
      );
    } finally {
      await app.close();
    }
    const restarted = await tm.subscribe({ types: ['task_created'], after: restartCursor }, (batch) => void resumed.push(...batch.events));
    await waitFor(() => seen.some((e) => e.task_id === low), { what: 'the low id delivered late' });
    await waitFor(() => resumed.some((e) => e.task_id === low), { what: 'the restarted subscriber to get the late one' });
    expect(seen.map((e) => [e.task_id, e.late])).toEqual([
      [high, false],
      [low, true],
    ]);
    expect(resumed.map((e) => [e.task_id, e.late])).toEqual([[low, true]]);
    expect(cursor).not.toBe('');
    await sub.close();
    await restarted.close();
  });
});
