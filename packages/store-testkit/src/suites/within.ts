import { ValidationError, type Store } from '@taskmill/contracts';
import { expect } from 'vitest';
import { newTask, T0 } from '../fixtures.js';
import type { SuiteContext } from '../suite-context.js';

/** How long a refusal may take: a check that never settles must fail the test, not hang it. */
const REFUSAL_DEADLINE_MS = 5_000;

/**
 * Settle a call that may throw synchronously (SQLite) or reject: the error, or null; a call still
 * pending after the deadline gives an Error saying so (a refusal must come promptly).
 */
async function failure(call: () => Promise<unknown>): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<Error>((resolve) => {
    timer = setTimeout(() => resolve(new Error(`not settled after ${REFUSAL_DEADLINE_MS} ms`)), REFUSAL_DEADLINE_MS);
  });
  const settled = (async () => {
    try {
      await call();
      return null;
    } catch (error) {
      return error;
    }
  })();
  try {
    return await Promise.race([settled, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function within(store: Store) {
  if (!store.createTasksWithin) throw new Error(`${store.dialect} store has no createTasksWithin`);
  return store.createTasksWithin.bind(store);
}

/** Transactional enqueue: `createTasksWithin` on the application's own transaction (issue 13). */
export function defineWithinTests({ test, open, peer, db, harness }: SuiteContext): void {
  const kinds = harness.appTransactions ?? [];
  if (kinds.length === 0) {
    test('createTasksWithin [no application transactions in this harness]', async () => {});
    return;
  }

  for (const app of kinds) {
    test(`createTasksWithin (${app.kind}): committed with the application's transaction, claimable after`, async () => {
      const store = await open();
      const ids = await app.run(store, 'commit', (tx) => within(store)(tx, [newTask({ name: 'a' }), newTask({ name: 'b', tag: 't' })], T0));
      expect(ids).toHaveLength(2);
      const tasks = await db.tasks(store);
      expect(tasks.map((t) => [t.id, t.name, t.status, t.tag])).toEqual([
        [ids[0], 'a', 'pending', null],
        [ids[1], 'b', 'pending', 't'],
      ]);
      expect(await db.eventTypes(store, ids[0])).toEqual(['task_created']);
      expect(await db.eventTypes(store, ids[1])).toEqual(['task_created']);
      expect(await db.attempts(store)).toEqual([]);
      const other = await peer(store);
      const claimed = await other.claimTasks({ worker_id: 'w1', now: T0, limit: 5, names: ['a', 'b'] });
      expect(claimed.map((t) => t.id).sort()).toEqual([...ids].sort());
    });

    test(`createTasksWithin (${app.kind}): a rollback leaves no task, event or attempt row`, async () => {
      const store = await open();
      await store.createTasks([newTask({ name: 'before' })], T0);
      const before = await db.snapshot(store);
      const ids = await app.run(store, 'rollback', (tx) => within(store)(tx, [newTask({ name: 'a' }), newTask({ name: 'b' })], T0));
      expect(ids).toHaveLength(2);
      expect(await db.snapshot(store)).toEqual(before);
      expect(await store.getTask(ids[0])).toBeNull();
      const other = await peer(store);
      expect(await other.claimTasks({ worker_id: 'w1', now: T0, limit: 5, names: ['a', 'b'] })).toEqual([]);
    });

    test(`createTasksWithin (${app.kind}): unique keys as in createTasks — a held key returns the holder, no second row`, async () => {
      const store = await open();
      const [holder] = await store.createTasks([newTask({ unique_key: 'k', unique_scope: 'unfinished' })], T0);
      const ids = await app.run(store, 'commit', (tx) =>
        within(store)(tx, [newTask({ unique_key: 'k', unique_scope: 'unfinished' }), newTask({ unique_key: 'new', unique_scope: 'unfinished' })], T0),
      );
      expect(ids[0]).toBe(holder);
      expect(ids[1]).not.toBe(holder);
      expect(await db.tasks(store)).toHaveLength(2);
      expect(await db.events(store)).toHaveLength(2);
    });

    if (!app.sync) {
      test(`createTasksWithin (${app.kind}): invisible to other connections until the commit`, async () => {
        const store = await open();
        const other = await peer(store);
        let id = 0;
        await app.run(
          store,
          'commit',
          async (tx) => ([id] = await within(store)(tx, [newTask({ name: 'a' })], T0)),
          async () => {
            expect(await other.getTask(id)).toBeNull();
            expect((await other.queryTasks({ name: 'a' })).total).toBe(0);
            if (!app.exclusive) expect(await other.claimTasks({ worker_id: 'w1', now: T0, limit: 5, names: ['a'] })).toEqual([]);
          },
        );
        expect((await other.getTask(id))?.status).toBe('pending');
      });
    }

    test(`createTasksWithin (${app.kind}): the handle of a committed or rolled-back transaction is refused promptly, writing nothing`, async () => {
      const store = await open();
      await store.createTasks([newTask({ name: 'before' })], T0);
      const before = await db.snapshot(store);
      for (const outcome of ['commit', 'rollback'] as const) {
        let used: unknown;
        await app.run(store, outcome, async (tx) => (used = tx));
        const error = await failure(() => within(store)(used, [newTask({ name: 'late' })], T0));
        expect(error, `after ${outcome}`).toBeInstanceOf(ValidationError);
      }
      expect(await db.snapshot(store)).toEqual(before);
    });
  }

  test('createTasksWithin refuses handles that are not an open transaction of its database, writing nothing', async () => {
    const store = await open();
    await store.createTasks([newTask({ name: 'before' })], T0);
    const before = await db.snapshot(store);
    const bad = [
      { what: 'undefined', use: (call: (h: unknown) => Promise<unknown>) => call(undefined) },
      { what: 'a plain object', use: (call: (h: unknown) => Promise<unknown>) => call({ query() {} }) },
      ...((await harness.badHandles?.(store)) ?? []),
    ];
    for (const handle of bad) {
      const error = await failure(() => handle.use((h) => within(store)(h, [newTask({ name: 'bad' })], T0)));
      expect(error, handle.what).toBeInstanceOf(ValidationError);
    }
    expect(await db.snapshot(store)).toEqual(before);
  });
}
