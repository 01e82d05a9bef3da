import type { ClaimRequest, FinishItem, FinishResult, Store, Task } from '@taskmill/contracts';
import { expect } from 'vitest';
import { expectApplied, fenceOf, newChild, newTask, T0, UNKNOWN_ID } from '../fixtures.js';
import type { SuiteContext } from '../suite-context.js';

/*
 * The one-round-trip paths (docs/behaviour.md#one-round-trip) write what the general path writes.
 * A store may enqueue, claim and complete the common case in one statement each
 * (`StoreDriver.plain`); the kit sends an enqueue there when no task has a unique key, a claim
 * unless it has caps or limits, and a group of finishes when every one of them is a completion. The same story runs twice on fresh stores, once as the common case and
 * once with a detail that sends every enqueue, claim and finish through the general path but
 * changes nothing it writes (a duplicate of a held unique key; a cap the claim never reaches; a
 * finish of an unknown task that finds nothing); every task, attempt and event row must come out the same, column by column, and so
 * must what the calls return. On a store without the one-statement forms both runs take the
 * general path and the suite passes trivially.
 */

type Route = 'plain' | 'general';

const WORKER = 'w-plain';

function claim(store: Store, route: Route, names: string[], now: number, limit = 10): Promise<Task[]> {
  const request: ClaimRequest = { worker_id: WORKER, now, limit, names };
  // a cap below the limit but above what the claim can find: the general path, the same tasks
  if (route === 'general') request.name_limits = Object.fromEntries(names.map((name) => [name, limit - 1]));
  return store.claimTasks(request);
}

async function finish(store: Store, route: Route, items: FinishItem[], now: number): Promise<FinishResult[]> {
  if (route === 'plain') return store.finishAttempts(items, now);
  // an outcome that is not a completion sends the whole group the general way; its task does not exist
  const stray: FinishItem = { fence: { task_id: UNKNOWN_ID, worker_id: WORKER, attempt: 1 }, outcome: { kind: 'failed', status: 'failed', error: 'x' } };
  const results = await store.finishAttempts([...items, stray], now);
  expect(results[items.length]).toEqual({ applied: false, task: null, child_ids: [] });
  return results.slice(0, items.length);
}

/**
 * Every row of a store as the driver returns it (every column, the unique slot included, which the
 * decoded task leaves out), events and attempts without their ids, in a stable order.
 */
async function rows(ctx: SuiteContext, store: Store) {
  const raw = (table: 'taskmill_tasks' | 'taskmill_task_attempts' | 'taskmill_task_events') => ctx.harness.rawRows(store, table);
  const byTask = (list: Record<string, unknown>[]) =>
    [...list].sort((a, b) => Number(a.task_id) - Number(b.task_id) || Number(a.id) - Number(b.id)).map(({ id: _id, ...rest }) => rest);
  return { tasks: await raw('taskmill_tasks'), attempts: byTask(await raw('taskmill_task_attempts')), events: byTask(await raw('taskmill_task_events')) };
}

/** The story: plain, unique and retried tasks claimed and completed together, a workflow's child among them. */
async function story(ctx: SuiteContext, route: Route) {
  const store = await ctx.open();
  const returned: unknown[] = [];
  // unique tasks are inserted one by one against the unique index: the general path both times
  const [pending, unfinished] = await store.createTasks(
    [newTask({ name: 'a', unique_key: 'k1', unique_scope: 'pending' }), newTask({ name: 'a', unique_key: 'k2', unique_scope: 'unfinished' })],
    T0,
  );
  // plain tasks: one statement, or (general) with a duplicate of a held key in the same call,
  // which the plain run makes on its own first (a unique insert may use up an id either way)
  const plainTasks = [newTask({ name: 'a', payload: '{"x":1}', tag: 'tagged', priority: 5 }), newTask({ name: 'b' }), newTask({ name: 'r', max_retries: 2, retry_interval: 0 })];
  const duplicate = newTask({ name: 'a', unique_key: 'k2', unique_scope: 'unfinished' });
  let created: number[];
  if (route === 'plain') {
    expect(await store.createTasks([duplicate], T0 + 1)).toEqual([unfinished]);
    created = await store.createTasks(plainTasks, T0 + 1);
  } else {
    const ids = await store.createTasks([duplicate, ...plainTasks], T0 + 1);
    expect(ids[0]).toBe(unfinished);
    created = ids.slice(1);
  }
  const [a, parent, retried] = created;
  returned.push(created);

  // several names (one statement over the claim-order index) and one name (its own index)
  const first = await claim(store, route, ['a', 'b'], T0 + 10);
  expect(first.map((task) => task.id)).toEqual([a, pending, unfinished, parent]);
  const single = await claim(store, route, ['r'], T0 + 11);
  expect(single.map((task) => task.id)).toEqual([retried]);
  returned.push(first, single);

  // a failure to retry, and a parent that spawns a child (neither is a completion: general both times)
  await expectApplied(store.finishAttempt(fenceOf(single[0]), { kind: 'failed', status: 'failed', error: 'Error: once' }, T0 + 20));
  const spawned = await store.finishAttempt(fenceOf(first[3]), { kind: 'spawned', children: [newChild({ name: 'c' })], context: Buffer.from([7]) }, T0 + 20);
  expect(spawned.applied).toBe(true);

  // the retry is claimed with its retry events; the child with the parent's root
  const second = await claim(store, route, ['r', 'c'], T0 + 30);
  expect(second.map((task) => task.id).sort((x, y) => x - y)).toEqual([retried, spawned.child_ids[0]].sort((x, y) => x - y));
  returned.push(second);

  // one group of completions: top-level tasks, unique keys released as their scope says, a
  // retried task, and a child whose parent is credited and resumed
  const byId = new Map([...first, ...second].map((task) => [task.id, task]));
  const done = [a, pending, unfinished, retried, spawned.child_ids[0]].map((id) => ({
    fence: fenceOf(byId.get(id)!),
    outcome: { kind: 'completed' as const, result: JSON.stringify({ id }) },
  }));
  const results = await finish(store, route, done, T0 + 40);
  expect(results.every((result) => result.applied)).toBe(true);
  returned.push(results);

  // a completion whose fence no longer holds changes nothing and returns the row as it is
  const stale = await finish(store, route, [{ fence: done[0].fence, outcome: { kind: 'completed', result: null } }], T0 + 50);
  expect(stale[0].applied).toBe(false);
  expect(stale[0].task?.status).toBe('completed');
  returned.push(stale);

  return { rows: await rows(ctx, store), returned };
}

export function definePlainPathTests(ctx: SuiteContext): void {
  ctx.test('the one-round-trip claim and completion leave exactly the rows and results of the general path', async () => {
    const plain = await story(ctx, 'plain');
    const general = await story(ctx, 'general');
    expect(plain.rows.tasks).toEqual(general.rows.tasks);
    expect(plain.rows.attempts).toEqual(general.rows.attempts);
    expect(plain.rows.events).toEqual(general.rows.events);
    expect(plain.returned).toEqual(general.returned);
    // the story reached every event the paths write
    const types = new Set(plain.rows.events.map((event) => event.event_type));
    for (const type of ['task_created', 'task_claimed', 'task_started', 'task_retry_scheduled', 'task_retry_started', 'task_completed']) expect(types).toContain(type);
  });
}
