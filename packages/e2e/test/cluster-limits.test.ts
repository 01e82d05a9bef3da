import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { ValidationError } from '@taskmill/core';
import { backends, sharedBackends } from '../src/backends.js';
import { maxOverlap } from '../src/intervals.js';
import { describeBackends, waitFor, waitForStatus } from '../src/harness.js';
import { spawnWorker, type WorkerProcess } from '../src/processes.js';

describeBackends('cluster-wide concurrency limits', backends(), (env) => {
  env.test('one manager with 10 slots runs at most cluster_max_concurrent_tasks of a type at once, and other types beside them', async () => {
    const tm = await env.isolated({ max_concurrent_tasks: 10 });
    let running = 0;
    let peak = 0;
    const spans: Array<{ start: number; end: number }> = [];
    tm.use('limited', {
      handler: async () => {
        const start = Date.now();
        peak = Math.max(peak, ++running);
        await new Promise((r) => setTimeout(r, 60));
        running--;
        spans.push({ start, end: Date.now() });
      },
      cluster_max_concurrent_tasks: 3,
    });
    let others = 0;
    tm.use('other', () => {
      others++;
    });
    const ids = await tm.asyncMany(Array.from({ length: 12 }, () => ({ name: 'limited' as const })));
    const other = await tm.asyncMany(Array.from({ length: 5 }, () => ({ name: 'other' as const })));
    await tm.start();
    for (const id of [...ids, ...other]) await waitForStatus(tm, id, 'completed', 60_000);
    expect(peak).toBe(3);
    expect(maxOverlap(spans)).toBe(3);
    expect(others).toBe(5);
  });

  env.test('a bad cluster_max_concurrent_tasks is a ValidationError and registers nothing', async () => {
    const tm = await env.isolated();
    for (const bad of [0, -1, 1.5, '2', Number.NaN, null, Infinity]) {
      expect(() => tm.use('x', { handler: () => 1, cluster_max_concurrent_tasks: bad as number })).toThrow(ValidationError);
    }
    expect(() => tm.getTaskInfo('x')).toThrow();
  });
});

describeBackends('cluster-wide concurrency limits across processes', sharedBackends(), (env) => {
  env.test('three worker processes with 2 slots each never run more than 3 limited tasks at once', async () => {
    const tm = await env.isolated();
    tm.use('limited', () => null);
    const dir = mkdtempSync(join(tmpdir(), 'taskmill-limit-'));
    const workers: WorkerProcess[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        workers.push(
          await spawnWorker({
            connection: env.db().processConnection,
            sideEffects: join(dir, `worker-${i}.log`),
            managerOptions: { poll_interval: 20, max_concurrent_tasks: 2, task_heartbeat_interval: 1000, worker_heartbeat_interval: 1000 },
            work_ms: 80,
            clusterLimit: 3,
          }),
        );
      }
      // every process is up before the first task exists, so all three compete from the start
      const ids = await tm.asyncMany(Array.from({ length: 30 }, (_, n) => ({ name: 'limited', payload: { n } })));
      await waitFor(async () => (await tm.getTasks({ name: 'limited' })).every((t) => t.status === 'completed'), {
        timeout: 120_000,
        interval: 100,
        what: 'every limited task completed',
      });
      await Promise.all(workers.map((w) => w.stop()));
      const spans = new Map<number, { start: number; end: number; by: number }>();
      for (let i = 0; i < 3; i++) {
        const file = join(dir, `worker-${i}.log.spans`);
        if (!existsSync(file)) continue;
        for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
          const [kind, id, at] = line.split(' ');
          const span = spans.get(Number(id)) ?? { start: NaN, end: NaN, by: i };
          if (kind === 'start') span.start = Number(at);
          else span.end = Number(at);
          spans.set(Number(id), span);
        }
      }
      expect([...spans.keys()].sort((a, b) => a - b)).toEqual(ids);
      const list = [...spans.values()];
      expect(list.every((s) => s.end >= s.start)).toBe(true);
      // never above the limit, and the limit was reached, which takes two processes (2 slots each)
      expect(maxOverlap(list)).toBe(3);
      expect(new Set(list.map((s) => s.by)).size).toBeGreaterThan(1);
    } finally {
      await Promise.all(workers.map((w) => w.stop().catch(() => undefined)));
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
