import { expect } from 'vitest';
import { ValidationError } from '@taskmill/core';
import { backends } from '../src/backends.js';
import { describeBackends, waitForStatus } from '../src/harness.js';

describeBackends('queries', backends(), (env) => {
  env.test('getTask, getTasks filters, getTasksByName/Status/Tag, getTaskStatsByTag', async () => {
    const tm = await env.isolated();
    tm.use({ a: () => 1, b: () => 2 });
    const a1 = await tm.async('a', {}, { tag: 'x' });
    const a2 = await tm.async('a', {}, { tag: 'y', delay: 3600 });
    const b1 = await tm.async('b', {}, { tag: 'x', delay: 3600 });
    await tm.start();
    await waitForStatus(tm, a1, 'completed');
    expect((await tm.getTasks()).map((t) => t.id)).toEqual([a1, a2, b1]);
    expect((await tm.getTasks({ tag: 'x' })).map((t) => t.id)).toEqual([a1, b1]);
    expect((await tm.getTasks({ tag: 'x', status: 'pending' })).map((t) => t.id)).toEqual([b1]);
    expect((await tm.getTasks({ name: 'a', status: 'pending' })).map((t) => t.id)).toEqual([a2]);
    expect((await tm.getTasks({ type: 'cron' }))).toEqual([]);
    expect((await tm.getTasksByName('b')).map((t) => t.id)).toEqual([b1]);
    expect((await tm.getTasksByStatus('completed')).map((t) => t.id)).toEqual([a1]);
    expect((await tm.getTasksByTag('y')).map((t) => t.id)).toEqual([a2]);
    // odd tag/name values are ignored, as in fib-flow (docs/behaviour.md#filters)
    expect(await tm.getTasks({ tag: 5 as never })).toHaveLength(3);
    expect(await tm.getTaskStatsByTag()).toEqual([
      { tag: 'x', name: 'a', status: 'completed', count: 1 },
      { tag: 'x', name: 'b', status: 'pending', count: 1 },
      { tag: 'y', name: 'a', status: 'pending', count: 1 },
    ]);
    expect(await tm.getTaskStatsByTag('x', 'pending')).toEqual([{ tag: 'x', name: 'b', status: 'pending', count: 1 }]);
  });

  env.test('bad filters and hostile ids: typed errors or nothing found, never a driver error', async () => {
    const tm = await env.isolated();
    tm.use('a', () => 1);
    const id = await tm.async('a', {});
    await expect(tm.getTasks({ status: 'done' as never })).rejects.toThrow(/Invalid status value/);
    await expect(tm.getTasksByStatus('bogus' as never)).rejects.toBeInstanceOf(ValidationError);
    await expect(tm.getTasksByStatus(undefined as never)).rejects.toThrow(/Status is required/);
    await expect(tm.getTasks({ type: 'weekly' as never })).rejects.toThrow(/Invalid task type/);
    await expect(tm.getTasks({ colour: 'red' } as never)).rejects.toBeInstanceOf(ValidationError);
    await expect(tm.deleteTasks({ status: 'nope' as never })).rejects.toThrow(/Invalid status value/);
    await expect(tm.getTasksByName('')).rejects.toThrow(/Task name is required/);
    await expect(tm.getTasksByTag('')).rejects.toThrow(/Tag is required/);
    await expect(tm.getChildTasks(undefined as never)).rejects.toThrow(/Parent task ID is required/);
    await expect(tm.getTaskStatsByTag(undefined, 'x' as never)).rejects.toBeInstanceOf(ValidationError);
    expect(await tm.getTask('1 OR 1=1' as never)).toBeNull();
    expect(await tm.getTask(`${id}; DROP TABLE taskmill_tasks` as never)).toBeNull();
    expect(await tm.getTask(-1)).toBeNull();
    expect(await tm.getTask(Number.NaN)).toBeNull();
    expect(await tm.getTask(String(id) as never)).toMatchObject({ id });
    expect(await tm.getTasks({ parent_id: '1 OR 1=1' as never })).toEqual([]);
    expect(await tm.getTask(id)).not.toBeNull();
  });

  env.test('deleteTasks deletes matching tasks with their events and attempts', async () => {
    const tm = await env.isolated();
    tm.use('a', () => 1);
    const keep = await tm.async('a', {}, { tag: 'keep', delay: 3600 });
    const gone = await tm.async('a', {}, { tag: 'gone' });
    await tm.start();
    await waitForStatus(tm, gone, 'completed');
    expect((await tm.getTaskAttempts(gone))).toHaveLength(1);
    expect(await tm.deleteTasks({ tag: 'gone', status: 'completed' })).toBe(1);
    expect(await tm.getTask(gone)).toBeNull();
    expect(await tm.getTaskEvents(gone)).toEqual([]);
    expect(await tm.getTaskAttempts(gone)).toEqual([]);
    expect(await tm.getTaskEvents(keep)).toHaveLength(1);
    expect(await tm.deleteTasks({ tag: 'nothing-here' })).toBe(0);
    expect(await tm.deleteTasks()).toBe(1);
    expect(await tm.getTasks()).toEqual([]);
  });
});
