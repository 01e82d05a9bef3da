import { expect } from 'vitest';
import { DuplicateTaskError, LifecycleError, TaskManager, ValidationError } from '@taskmill/core';
import { appDatabase, type AppDatabase } from '../src/app-transactions.js';
import { sharedBackends } from '../src/backends.js';
import { describeBackends, FAST, waitForStatus } from '../src/harness.js';

/** Settle a call that may throw synchronously (SQLite's within()) or reject: the error, or null. */
async function failure(call: () => unknown): Promise<unknown> {
  try {
    await call();
    return null;
  } catch (error) {
    return error;
  }
}

describeBackends('transactional enqueue: tm.within(tx)', sharedBackends(), (env) => {
  let app: AppDatabase | undefined;
  const open = async () => (app = await appDatabase(env.backend, env.db()));
  const done = async () => {
    await app?.close();
    app = undefined;
  };

  env.test('a task enqueued in the committed transaction runs on another manager, not before the commit', async () => {
    const tm = await env.isolated();
    tm.use('receipt', () => 'sent');
    await tm.setup();
    const worker = env.manager();
    let runs = 0;
    worker.use('receipt', () => {
      runs++;
      return 'sent';
    });
    await worker.start();
    try {
      const db = await open();
      const id = await db.run(
        'commit',
        (tx) => tm.within(tx).async('receipt', { order: 7 }, { tag: 'orders' }),
        async () => {
          await new Promise((r) => setTimeout(r, 300));
          expect(runs).toBe(0);
          expect(await worker.getTasks({ name: 'receipt' })).toHaveLength(0);
        },
      );
      await waitForStatus(worker, id, 'completed');
      expect(runs).toBe(1);
      expect(await tm.getTask(id)).toMatchObject({ payload: { order: 7 }, tag: 'orders', status: 'completed' });
    } finally {
      await done();
    }
  });

  env.test('a rollback leaves no task, event or attempt row', async () => {
    const tm = await env.isolated();
    tm.use('a', () => null);
    await tm.setup();
    try {
      const db = await open();
      const ids = await db.run('rollback', (tx) =>
        tm.within(tx).asyncMany([{ name: 'a', payload: { i: 1 } }, { name: 'a', payload: { i: 2 }, options: { delay: 5 } }]),
      );
      expect(ids).toHaveLength(2);
      expect(await db.counts()).toEqual({ tasks: 0, events: 0, attempts: 0 });
      expect(await tm.getTask(ids[0])).toBeNull();
      await tm.start();
      await new Promise((r) => setTimeout(r, 200));
      expect(await db.counts()).toEqual({ tasks: 0, events: 0, attempts: 0 });
    } finally {
      await done();
    }
  });

  env.test('within() validates like async(), needs a set-up manager and refuses handles that are not an open transaction', async () => {
    const tm = await env.isolated();
    const fresh = new TaskManager({ dbConnection: await env.db().peerConnection(), ...FAST });
    tm.use('a', () => null);
    try {
      const db = await open();
      fresh.use('a', () => null);
      expect(await failure(() => db.run('commit', (tx) => fresh.within(tx).async('a')))).toBeInstanceOf(LifecycleError);
      await tm.setup();
      for (const bad of [undefined, null, 42, 'tx', {}]) {
        expect(await failure(() => tm.within(bad).async('a'))).toBeInstanceOf(ValidationError);
      }
      const inTx: Array<(tx: unknown) => Promise<unknown>> = [
        (tx: unknown) => tm.within(tx).async('a', {}, { retries: 3 } as never),
        (tx: unknown) => tm.within(tx).async('a', {}, { unique_key: '' }),
        (tx: unknown) => tm.within(tx).asyncMany([{ name: 'a' }, { name: 'a', options: { delay: -1 } }]),
        (tx: unknown) => tm.within(tx).cron('a', '* * * * *', {}, { unique_scope: 'period', unique_key: 'k' }),
      ];
      for (const call of inTx) expect(await failure(() => db.run('commit', call))).toBeInstanceOf(ValidationError);
      expect(await db.counts()).toEqual({ tasks: 0, events: 0, attempts: 0 });
    } finally {
      await fresh.stop();
      await done();
    }
  });

  env.test('unique keys inside the transaction: a held key returns the holder, on_duplicate error throws and nothing of the call remains', async () => {
    const tm = await env.isolated();
    tm.use('a', () => null);
    const holder = await tm.async('a', {}, { unique_key: 'k', unique_scope: 'pending' });
    try {
      const db = await open();
      const [same, other, again] = await db.run('commit', (tx) =>
        tm.within(tx).asyncMany([
          { name: 'a', options: { unique_key: 'k', unique_scope: 'pending' } },
          { name: 'a', options: { unique_key: 'other' } },
          { name: 'a', options: { unique_key: 'other' } },
        ]),
      );
      expect(same).toBe(holder);
      expect(again).toBe(other);
      expect(other).not.toBe(holder);
      const error = await failure(() => db.run('commit', (tx) => tm.within(tx).async('a', {}, { unique_key: 'k', on_duplicate: 'error' })));
      expect(error).toBeInstanceOf(DuplicateTaskError);
      expect((error as DuplicateTaskError).taskId).toBe(holder);
      expect(await db.counts()).toMatchObject({ tasks: 2, events: 2 });
    } finally {
      await done();
    }
  });
});

