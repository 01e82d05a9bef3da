import { expect } from 'vitest';
import { StoreUnavailableError } from '@taskmill/core';
import { backends } from '../src/backends.js';
import { killConnections, sessionTag } from '../src/faults.js';
import { describeBackends, waitFor } from '../src/harness.js';

describeBackends('database outage', backends().filter((b) => b.name === 'postgres' || b.name === 'mysql'), (env) => {
  env.test('connections killed mid-run: calls fail with StoreUnavailableError or succeed, the worker loop reconnects, every task completes', async () => {
    const errors: unknown[] = [];
    const tm = await env.isolated({ task_heartbeat_timeout: 3000, task_heartbeat_interval: 200, onError: (e) => errors.push(e) });
    const runs = new Map<number, number>();
    tm.use('work', async (task) => {
      await new Promise((r) => setTimeout(r, 5));
      runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
      return task.id;
    });
    const ids = await tm.asyncMany(Array.from({ length: 600 }, (_, i) => ({ name: 'work', payload: { i } })));
    await tm.start();
    await waitFor(() => runs.size >= 50, { what: 'the run to get going' });
    const dbName = sessionTag(env.db().processConnection);
    let killed = 0;
    for (let round = 0; round < 5; round++) {
      killed += await killConnections(env.backend, dbName);
      // a call during the outage either succeeds on a fresh connection or fails with a typed error
      await tm.getTask(ids[0]).catch((error) => expect(error).toBeInstanceOf(StoreUnavailableError));
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(killed).toBeGreaterThan(0);
    await waitFor(async () => (await tm.getTaskStatsByTag()).every((s) => s.status === 'completed'), { timeout: 120_000, interval: 250, what: 'all tasks completed' });
    const tasks = await tm.getTasks();
    expect(tasks).toHaveLength(600);
    expect(tasks.every((t) => t.status === 'completed' && t.result === t.id)).toBe(true);
    expect(ids.every((id) => (runs.get(id) ?? 0) >= 1)).toBe(true);
    const reruns = [...runs.values()].filter((n) => n > 1).length;
    const unavailable = errors.filter((e) => e instanceof StoreUnavailableError).length;
    // no raw driver error ever reached onError: every failure is typed
    expect(errors.every((e) => (e as { code?: string }).code?.startsWith('TASKMILL_') || String(e).includes('no longer owns'))).toBe(true);
    console.log(`[${env.backend.name}] killed ${killed} connections in 5 rounds; ${unavailable} StoreUnavailableError(s) reported by the loop; ${reruns} task(s) ran twice`);
  }, 180_000);
});
