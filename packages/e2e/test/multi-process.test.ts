import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { sharedBackends } from '../src/backends.js';
import { describeBackends, waitFor } from '../src/harness.js';
import { spawnWorker, type WorkerProcess } from '../src/processes.js';

/** 3 processes for SQLite (issue: foundation), 4 for the server databases. */
const PLAN: Record<string, { workers: number; tasks: number }> = {
  'sqlite-file': { workers: 3, tasks: 3000 },
  postgres: { workers: 4, tasks: 5000 },
  mysql: { workers: 4, tasks: 5000 },
};

describeBackends('multi-process', sharedBackends(), (env) => {
  const plan = PLAN[env.backend.name] ?? { workers: 3, tasks: 3000 };
  env.test(`${plan.workers} worker processes on one database complete ${plan.tasks} tasks exactly once`, async () => {
    const tm = await env.isolated();
    tm.use('count', () => null);
    const dir = mkdtempSync(join(tmpdir(), 'taskmill-mp-'));
    const workers: WorkerProcess[] = [];
    try {
      for (let i = 0; i < plan.workers; i++) {
        workers.push(
          await spawnWorker({
            connection: env.db().processConnection,
            sideEffects: join(dir, `worker-${i}.log`),
            managerOptions: { poll_interval: 20, max_concurrent_tasks: 8, task_heartbeat_interval: 1000, worker_heartbeat_interval: 1000 },
          }),
        );
      }
      // every process is up before the first task exists, so all of them compete from the start
      // (a process started after the tasks may find them all taken by the earlier ones)
      for (let i = 0; i < plan.tasks; i += 1000) {
        await tm.asyncMany(Array.from({ length: Math.min(1000, plan.tasks - i) }, (_, j) => ({ name: 'count', payload: { n: i + j } })));
      }
      await waitFor(async () => (await tm.getTaskStatsByTag()).every((s) => s.status === 'completed'), {
        timeout: 300_000,
        interval: 250,
        what: 'every task completed',
      });
      await Promise.all(workers.map((w) => w.stop()));

      const seen = new Map<number, number>();
      const perWorker: number[] = [];
      for (let i = 0; i < plan.workers; i++) {
        const file = join(dir, `worker-${i}.log`);
        const ids = readLog(file).map(Number);
        perWorker.push(ids.length);
        for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1);
      }
      const tasks = await tm.getTasks();
      expect(tasks).toHaveLength(plan.tasks);
      expect(tasks.every((t) => t.status === 'completed' && t.attempt === 1)).toBe(true);
      expect(seen.size).toBe(plan.tasks);
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      expect(new Set(tasks.map((t) => t.worker_id)).size).toBe(plan.workers);
      // no deadlock (or other raw driver error) ever reached the user
      const errors = [...Array(plan.workers).keys()].flatMap((i) => readLog(join(dir, `worker-${i}.log.errors`)));
      expect(errors.filter((e) => /deadlock|ER_LOCK|1213|40P01/i.test(e))).toEqual([]);
      expect(errors.filter((e) => !e.split('\t')[1].startsWith('TASKMILL_') && !e.startsWith('fenced write'))).toEqual([]);
      console.log(`[${env.backend.name}] side effects per worker process: ${perWorker.join(', ')}; ${errors.length} typed error(s) reported`);
    } finally {
      await Promise.all(workers.map((w) => w.stop().catch(() => undefined)));
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});

function readLog(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

describeBackends('multi-process workflow', sharedBackends(), (env) => {
  env.test('a parent with 200 children processed by 3 worker processes is credited 200 times and resumed once', async () => {
    const tm = await env.isolated();
    tm.use('fanout', () => null);
    const dir = mkdtempSync(join(tmpdir(), 'taskmill-fan-'));
    const workers: WorkerProcess[] = [];
    try {
      const root = await tm.async('fanout', { children: 200 });
      for (let i = 0; i < 3; i++) {
        workers.push(
          await spawnWorker({
            connection: env.db().processConnection,
            sideEffects: join(dir, `worker-${i}.log`),
            managerOptions: { poll_interval: 20, max_concurrent_tasks: 8 },
            work_ms: 5,
          }),
        );
      }
      const done = await waitFor(async () => {
        const t = await tm.getTask(root);
        return t?.status === 'completed' ? t : null;
      }, { timeout: 300_000, interval: 200, what: 'the parent to complete' });
      await Promise.all(workers.map((w) => w.stop()));
      expect(done).toMatchObject({ total_children: 200, completed_children: 200, stage: 1, result: { results: 200 } });
      const resumes = (await tm.getTaskEvents(root)).filter((e) => e.metadata?.resume_reason === 'children_completed');
      expect(resumes).toHaveLength(1);
      const lines = [0, 1, 2].flatMap((i) => readLog(join(dir, `worker-${i}.log`)));
      expect(lines.filter((l) => l.startsWith('parent:'))).toEqual([`parent:${root}`]);
      const childRuns = lines.filter((l) => !l.startsWith('parent:'));
      expect(childRuns).toHaveLength(200);
      expect(new Set(childRuns).size).toBe(200);
      const children = await tm.getChildTasks(root);
      expect(children.every((c) => c.status === 'completed')).toBe(true);
    } finally {
      await Promise.all(workers.map((w) => w.stop().catch(() => undefined)));
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
