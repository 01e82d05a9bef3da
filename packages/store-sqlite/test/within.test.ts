import Database from 'better-sqlite3';
import { ValidationError } from '@taskmill/contracts';
import { newTask, T0 } from '@taskmill/store-testkit';
import { describe, expect, it } from 'vitest';
import { createSqliteStore } from '../src/index.js';

/*
 * createTasksWithin on a store made over the application's own database object (`{ database }`):
 * the store and the application share one connection, so an application transaction on it is
 * accepted — also in memory (the store's own open transaction is refused too, see within.ts).
 */
describe('sqlite createTasksWithin on the store’s own database', () => {
  it('commits and rolls back with db.transaction(), in memory too', async () => {
    const db = new Database(':memory:');
    const store = createSqliteStore({ database: db });
    await store.setup();
    let ids: Promise<number[]> | undefined;
    db.transaction(() => {
      ids = store.createTasksWithin!(db, [newTask({ name: 'kept' })], T0);
    })();
    const [kept] = await ids!;
    expect((await store.getTask(kept))?.name).toBe('kept');
    expect(() =>
      db.transaction(() => {
        void store.createTasksWithin!(db, [newTask({ name: 'dropped' })], T0);
        throw new Error('roll back');
      })(),
    ).toThrow('roll back');
    expect((await store.queryTasks({ name: 'dropped' })).total).toBe(0);
    expect(db.prepare('SELECT COUNT(*) AS n FROM taskmill_task_events').get()).toEqual({ n: 1 });
    await store.close();
    db.close();
  });

  it('refuses the database outside a transaction or once closed', async () => {
    const db = new Database(':memory:');
    const store = createSqliteStore({ database: db });
    await store.setup();
    expect(() => store.createTasksWithin!(db, [newTask()], T0)).toThrow(ValidationError);
    expect(db.prepare('SELECT COUNT(*) AS n FROM taskmill_tasks').get()).toEqual({ n: 0 });
    await store.close();
    db.close();
    expect(() => store.createTasksWithin!(db, [newTask()], T0)).toThrow(ValidationError);
  });
});
