import { EVENT_FEED_LIMITS, isTaskmillError } from '@taskmill/contracts';
import { expect } from 'vitest';
import { createAndClaim, createOne, expectApplied, T0, UNKNOWN_ID } from '../fixtures.js';
import type { SuiteContext } from '../suite-context.js';

/*
 * The event feed and task outcomes (docs/behaviour.md#event-subscriptions, docs/behaviour.md#results):
 * the kit's gap rule over each store's reads, judged with explicit `now` values. Missing ids are
 * made through the back door (an event row inserted with an id above the next one), the way a
 * transaction that took an id and has not committed yet looks to a reader.
 */

const { gap_hold_ms: HOLD, gap_keep_ms: KEEP } = EVENT_FEED_LIMITS;

/** A raw event row of task `taskId` with this id and time. */
function eventRow(id: number, taskId: number, time: number) {
  return {
    id,
    task_id: taskId,
    root_id: taskId,
    parent_id: null,
    event_type: 'task_progress',
    from_status: null,
    to_status: null,
    stage: 0,
    worker_id: null,
    attempt: null,
    event_time: time,
    message: `raw ${id}`,
    metadata: null,
  };
}

async function expectValidationError(p: Promise<unknown>): Promise<void> {
  const error = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(isTaskmillError(error) && error.code).toBe('TASKMILL_VALIDATION');
}

export function defineEventFeedTests({ test, open, db }: SuiteContext): void {
  test('readEventFeed returns every event in id order with its task name and tag, and the cursor resumes after them', async () => {
    const store = await open();
    const a = await createOne(store, { name: 'feed-a', tag: 'blue' });
    const b = await createOne(store, { name: 'feed-b' });
    const all = await db.events(store);
    const page = await store.readEventFeed({ after: null, now: T0 + 10 * KEEP });
    expect(page.events.map((e) => e.id)).toEqual(all.map((e) => e.id));
    expect(page.events.map((e) => [e.task_id, e.task_name, e.task_tag, e.late])).toEqual([
      [a, 'feed-a', 'blue', false],
      [b, 'feed-b', null, false],
    ]);
    expect(page).toMatchObject({ more: false, held_until: null, cursor: `tm1.${all[all.length - 1].id}` });
    expect(await store.latestEventId()).toBe(all[all.length - 1].id);
    const again = await store.readEventFeed({ after: page.cursor, now: T0 + 10 * KEEP });
    expect(again.events).toEqual([]);
    expect(again.cursor).toBe(page.cursor);
    // a limit pages through, saying there is more
    const first = await store.readEventFeed({ after: null, limit: 1, now: T0 + 10 * KEEP });
    expect(first.events.map((e) => e.task_id)).toEqual([a]);
    expect(first.more).toBe(true);
    // filters apply after the read; the cursor moves past what they leave out
    const filtered = await store.readEventFeed({ after: null, filter: { names: ['feed-b'] }, now: T0 + 10 * KEEP });
    expect(filtered.events.map((e) => e.task_id)).toEqual([b]);
    expect(filtered.cursor).toBe(page.cursor);
    expect((await store.readEventFeed({ after: null, filter: { tags: ['blue'], types: ['task_created'] }, now: T0 + 10 * KEEP })).events.map((e) => e.task_id)).toEqual([a]);
    expect((await store.readEventFeed({ after: null, filter: { root_id: b }, now: T0 + 10 * KEEP })).events.map((e) => e.task_id)).toEqual([b]);
  });

  test('a missing event id holds delivery until it is gap_hold_ms old, then stays watched and is delivered late when it fills', async () => {
    const store = await open();
    const task = await createOne(store);
    const created = await store.latestEventId();
    // id created + 2 committed; created + 1 is still open somewhere (or lost)
    const time = T0 + 1000;
    await db.insert(store, 'taskmill_task_events', eventRow(created + 2, task, time));
    const early = await store.readEventFeed({ after: `tm1.${created}`, now: time + 10 });
    if (store.capabilities.orderedEventIds) {
      // ids in commit order: a missing id is a deleted event, never waited for
      expect(early.events.map((e) => e.id)).toEqual([created + 2]);
      expect(early).toMatchObject({ cursor: `tm1.${created + 2}`, held_until: null });
      return;
    }
    expect(early).toMatchObject({ events: [], cursor: `tm1.${created}`, held_until: time + HOLD, more: false });
    const past = await store.readEventFeed({ after: early.cursor, now: time + HOLD });
    expect(past.events.map((e) => [e.id, e.late])).toEqual([[created + 2, false]]);
    expect(past.cursor).toBe(`tm1.${created + 2}.${created + 1}~${time}`);
    // the transaction that held the lower id commits
    await db.insert(store, 'taskmill_task_events', eventRow(created + 1, task, time - 5));
    const late = await store.readEventFeed({ after: past.cursor, now: time + HOLD + 50 });
    expect(late.events.map((e) => [e.id, e.late])).toEqual([[created + 1, true]]);
    expect(late.cursor).toBe(`tm1.${created + 2}`);
    // a gap older than gap_keep_ms is given up
    const stale = await store.readEventFeed({ after: `tm1.${created + 2}.${created}~${time}`, now: time + KEEP });
    expect(stale.cursor).toBe(`tm1.${created + 2}`);
  });

  test('bad cursors, filters and reads are a ValidationError and write nothing', async () => {
    const store = await open();
    await createOne(store);
    const before = await db.snapshot(store);
    const reads: unknown[] = [
      null,
      'x',
      { after: 'nope', now: T0 },
      { after: 'tm1.3.5~1', now: T0 },
      { after: `tm1.${'9'.repeat(20)}`, now: T0 },
      { after: 7, now: T0 },
      { after: null, now: Number.NaN },
      { after: null, now: T0, limit: 0 },
      { after: null, now: T0, filter: { types: ['nope'] } },
      { after: null, now: T0, filter: { names: [] } },
      { after: null, now: T0, filter: { root_id: '1 OR 1=1' } },
      { after: null, now: T0, filter: { typo: 1 } },
    ];
    for (const read of reads) await expectValidationError(store.readEventFeed(read as never));
    expect(await db.snapshot(store)).toEqual(before);
  });

  test('getTaskOutcomes gives status, result, error and whether a final failure was a cancel, in one batched read', async () => {
    const store = await open();
    const { task: done, fence } = await createAndClaim(store, { name: 'o1' });
    await expectApplied(store.finishAttempt(fence, { kind: 'completed', result: JSON.stringify({ v: 1 }) }, T0 + 1));
    const { task: failed, fence: failedFence } = await createAndClaim(store, { name: 'o2', max_retries: 1 }, { now: T0 + 2 });
    await store.finishAttempt(failedFence, { kind: 'failed', status: 'failed', error: 'broken' }, T0 + 3); // max_retries 1: exhausted
    const cancelled = await createOne(store, { name: 'o3' });
    await store.cancelTask(cancelled, { reason: 'stop it' }, T0 + 4);
    const waiting = await createOne(store, { name: 'o4' });
    const outcomes = await store.getTaskOutcomes([done.id, failed.id, cancelled, waiting, UNKNOWN_ID, -1, 'x' as never, done.id]);
    const byId = new Map(outcomes.map((o) => [o.id, o]));
    expect(outcomes).toHaveLength(4);
    expect(byId.get(done.id)).toEqual({ id: done.id, type: 'async', status: 'completed', result: { v: 1 }, error: null, cancelled: false });
    expect(byId.get(failed.id)).toMatchObject({ status: 'permanently_failed', error: 'broken', cancelled: false, result: null });
    expect(byId.get(cancelled)).toMatchObject({ status: 'permanently_failed', error: 'stop it', cancelled: true });
    expect(byId.get(waiting)).toMatchObject({ status: 'pending', cancelled: false });
    expect(await store.getTaskOutcomes([])).toEqual([]);
  });
}
