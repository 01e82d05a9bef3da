import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { sharedBackends } from '../src/backends.js';
import { describeBackends, waitFor } from '../src/harness.js';
import { spawnWorker, type WorkerProcess } from '../src/processes.js';

/*
 * One clock for every process: worker processes whose `Date.now()` is 30 s ahead of or behind the
 * host's (a preload shifts it) work beside a correct one on one database. Every lease, due time and
 * retry time is judged on the database's clock, so none of them reaps a live worker, runs a task
 * twice, or runs a delayed task or a retry early; each skewed process reports its skew once.
 */

const SKEW_MS = 30_000;
/** Short leases, so that a wrongly judged lease shows within the test. */
const HB = { poll_interval: 50, worker_heartbeat_interval: 200, worker_heartbeat_timeout: 2000, task_heartbeat_interval: 200, task_heartbeat_timeout: 20_000 } as const;

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

describeBackends('clock skew', sharedBackends(), (env) => {
  env.test('workers 30 s ahead and 30 s behind reap no live worker and run every task exactly once', async () => {
    const tm = await env.isolated(HB);
    const ranHere: number[] = [];
    tm.use('count', async (task) => {
      await new Promise((r) => setTimeout(r, 700));
      ranHere.push(task.id);
      return null;
    });
    const dir = mkdtempSync(join(tmpdir(), 'taskmill-skew-'));
    const workers: WorkerProcess[] = [];
    try {
      for (const [i, skew] of [SKEW_MS, -SKEW_MS].entries()) {
        workers.push(
          await spawnWorker({
            connection: env.db().processConnection,
            sideEffects: join(dir, `w${i}.log`),
            managerOptions: { ...HB, max_concurrent_tasks: 3 },
            work_ms: 700,
            clockSkewMs: skew,
          }),
        );
      }
      await tm.start();
      const ids = await tm.asyncMany(Array.from({ length: 60 }, (_, i) => ({ name: 'count', payload: { i } })));
      await waitFor(async () => (await tm.getTaskStatsByTag()).every((s) => s.status === 'completed'), { timeout: 120_000, interval: 250, what: 'every task completed' });

      const runs = [...ranHere, ...workers.flatMap((_, i) => lines(join(dir, `w${i}.log`)).map(Number))];
      expect(runs.sort((a, b) => a - b)).toEqual([...ids].sort((a, b) => a - b)); // each exactly once
      for (const i of [0, 1]) expect(lines(join(dir, `w${i}.log`)).length, `skewed worker ${i} ran tasks`).toBeGreaterThan(0);
      for (const task of await tm.getTasks()) {
        expect(task.attempt).toBe(1);
        expect((await tm.getTaskEvents(task.id)).map((e) => e.event_type)).not.toContain('task_recovered');
      }
      const statuses = await Promise.all([tm.options.worker_id, ...workers.map((w) => w.worker_id)].map(async (id) => (await tm.getWorker(id))?.status));
      expect(statuses).toEqual(['active', 'active', 'active']);
      // each skewed process said so, once, naming the direction
      const ahead = lines(join(dir, 'w0.log.errors')).filter((l) => l.startsWith('clock\t'));
      const behind = lines(join(dir, 'w1.log.errors')).filter((l) => l.startsWith('clock\t'));
      expect(ahead).toHaveLength(1);
      expect(ahead[0]).toContain('ahead of');
      expect(behind).toHaveLength(1);
      expect(behind[0]).toContain('behind');
    } finally {
      await Promise.all(workers.map((w) => w.stop().catch(() => undefined)));
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  env.test('a delay and a retry_interval are kept when processes with skewed clocks judge them', async () => {
    const tm = await env.isolated(HB);
    const dir = mkdtempSync(join(tmpdir(), 'taskmill-skew-due-'));
    const workers: WorkerProcess[] = [];
    try {
      for (const [i, skew] of [SKEW_MS, -SKEW_MS].entries()) {
        workers.push(await spawnWorker({ connection: env.db().processConnection, sideEffects: join(dir, `w${i}.log`), managerOptions: HB, clockSkewMs: skew }));
      }
      // the correct process enqueues and never starts; only the skewed ones run `flaky`, which fails its first attempt
      tm.use('flaky', () => null);
      const enqueuedAt = Date.now();
      const id = await tm.async('flaky', {}, { delay: 3, retry_interval: 3, max_retries: 2 });
      const seen: Record<string, number> = {};
      await waitFor(
        async () => {
          const task = (await tm.getTask(id))!;
          const key = `${task.status}:${task.attempt}`;
          seen[key] ??= Date.now();
          return task.status === 'completed' ? task : undefined;
        },
        { timeout: 60_000, interval: 20, what: 'the flaky task to complete' },
      );
      // when this process (on the host's true clock) first saw each attempt begin and the first one fail
      const attempt = (k: string) => Number(k.split(':')[1]);
      const firstSeen = (n: number) => Math.min(...Object.entries(seen).filter(([k]) => attempt(k) === n).map(([, t]) => t));
      expect(firstSeen(1) - enqueuedAt, 'the first attempt waited for its 3 s delay').toBeGreaterThanOrEqual(2500);
      expect(seen['failed:1'], 'the failed first attempt was seen').toBeDefined();
      expect(firstSeen(2) - seen['failed:1'], 'the retry waited for its 3 s retry_interval').toBeGreaterThanOrEqual(2500);
      const attempts = await tm.getTaskAttempts(id);
      expect(attempts.map((a) => a.outcome)).toEqual(['failed', 'completed']);
      // the skewed processes wrote these times on the database's clock, not on their own
      expect(Math.abs(attempts[0].started_at - firstSeen(1)), 'attempt 1 start on the database clock').toBeLessThan(1500);
      expect(Math.abs(attempts[1].started_at - firstSeen(2)), 'attempt 2 start on the database clock').toBeLessThan(1500);
    } finally {
      await Promise.all(workers.map((w) => w.stop().catch(() => undefined)));
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
