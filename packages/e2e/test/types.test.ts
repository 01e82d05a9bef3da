/*
 * Type tests: `pnpm test` runs `tsc` over this file before vitest, so every `@ts-expect-error`
 * below must really be an error (an unused one fails the compile) and every other line must
 * type-check.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { TaskManager, type TaskContext } from '@taskmill/core';

type Tasks = {
  email: { payload: { to: string; subject: string }; result: { sent: boolean } };
  resize: { payload: { width: number } };
};

describe('typed handlers', () => {
  it('TaskManager<Tasks> checks payloads and results of use, async, cron and next', () => {
    const tm = new TaskManager<Tasks>({ dbConnection: 'sqlite::memory:' });
    tm.use('email', (task) => {
      expectTypeOf(task.payload).toEqualTypeOf<{ to: string; subject: string }>();
      return { sent: true };
    });
    // @ts-expect-error the result must be { sent: boolean }
    tm.use('email', () => ({ sent: 'yes' }));
    tm.use('resize', {
      handler: (task, next) => {
        expectTypeOf(task.payload.width).toBeNumber();
        return next([{ name: 'email', payload: { to: 'a@b.c', subject: 'done' } }]);
      },
      max_concurrent_tasks: 2,
    });
    tm.use('resize', {
      // @ts-expect-error a child payload must match its task's payload type
      handler: (_task, next) => next({ name: 'email', payload: { width: 1 } }),
    });
    // @ts-expect-error unknown task name
    tm.use('unknown', () => null);

    const enqueue = () => {
      void tm.async('email', { to: 'x@y.z', subject: 'hi' }, { priority: 2 });
      // @ts-expect-error missing subject
      void tm.async('email', { to: 'x@y.z' });
      // @ts-expect-error wrong payload type for resize
      void tm.async('resize', { width: '10' });
      // @ts-expect-error unregistered name
      void tm.async('nope', {});
      void tm.cron('resize', '*/5 * * * *', { width: 10 }, { tz: 'Europe/Paris' });
      // @ts-expect-error delay is not a cron option
      void tm.cron('resize', '*/5 * * * *', { width: 10 }, { delay: 3 });
    };
    expect(typeof enqueue).toBe('function');
  });

  it('an untyped TaskManager accepts any name with unknown payloads', () => {
    const tm = new TaskManager({ dbConnection: 'sqlite::memory:' });
    tm.use('anything', (task: TaskContext) => {
      expectTypeOf(task.payload).toBeUnknown();
      return task.payload;
    });
    const enqueue = () => tm.async('whatever', { any: ['thing'] });
    expectTypeOf(enqueue).returns.resolves.toBeNumber();
  });
});
