import { expect } from 'vitest';
import { backends } from '../src/backends.js';
import { describeBackends, waitForStatus } from '../src/harness.js';

describeBackends('payload default', backends(), (env) => {
  env.test('async(name), asyncMany items and cron(name, expr) without a payload store {} (docs/behaviour.md#enqueueing), so task.payload.x works', async () => {
    const tm = await env.isolated();
    const seen: unknown[] = [];
    tm.use('reads', (task) => {
      seen.push((task.payload as { x?: unknown }).x ?? 'no x');
      return task.payload;
    });
    const a = await tm.async('reads', undefined, { max_retries: 1 });
    const bare = await tm.async('reads');
    const [b] = await tm.asyncMany([{ name: 'reads', options: { max_retries: 1 } }]);
    const c = await tm.cron('reads', '0 0 1 1 *'); // next new year: never runs during the test
    for (const id of [a, bare, b, c]) expect((await tm.getTask(id))!.payload).toEqual({});
    await tm.start();
    for (const id of [a, b]) expect(await waitForStatus(tm, id, ['completed', 'permanently_failed'])).toMatchObject({ status: 'completed', result: {} });
    expect(seen.slice(0, 2)).toEqual(['no x', 'no x']);
  });
});
