import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { sharedBackends } from '../src/backends.js';
import { describeBackends, waitFor } from '../src/harness.js';
import { spawnWorker, type WorkerProcess } from '../src/processes.js';

/*
 * A handler that blocks its worker's event loop (CPU-heavy work without a turn) stops every timer
 * of that process: no lease renewal, no task heartbeat. To the cluster it is a frozen worker: its
 * tasks are recovered within lease + one heartbeat and run elsewhere, and what the blocked worker
 * writes once it runs again is fenced.
 */

const LEASE = 2000;
const HEARTBEAT = 200;
const MARGIN = 2000;
const SHORT = { poll_interval: 50, worker_heartbeat_interval: HEARTBEAT, worker_heartbeat_timeout: LEASE, task_heartbeat_interval: 200, task_heartbeat_timeout: 60_000 } as const;

describeBackends('handler blocking the event loop', sharedBackends(), (env) => {
  env.test('its worker is taken for frozen: its tasks are recovered within lease + heartbeat, each completes once, its late writes change nothing', async () => {
    const tm = await env.isolated(SHORT);
    tm.use('count', () => ({ by: 'healthy worker' })); // runs only once this manager starts
    const dir = mkdtempSync(join(tmpdir(), 'taskmill-blocked-'));
    let victim: WorkerProcess | undefined;
    try {
      const ids = await tm.asyncMany(Array.from({ length: 3 }, (_, i) => ({ name: 'count', payload: { i } })));
      // the victim's first handler busy-waits for lease + 3 s; the others wait 100 ms on a timer
      victim = await spawnWorker({
        connection: env.db().processConnection,
        sideEffects: join(dir, 'victim.log'),
        managerOptions: { ...SHORT, max_concurrent_tasks: 3 },
        work_ms: 100,
        blockFirstMs: LEASE + 3000,
      });
      const blocked = victim;
      await waitFor(async () => (await tm.getTasks({ worker_id: blocked.worker_id })).length === 3, { what: 'the victim to claim every task' });
      await tm.start();
      await waitFor(async () => (await tm.getTaskStatsByTag()).every((s) => s.status === 'completed'), { timeout: 60_000, what: 'every task completed' });

      let firstStart = Number.POSITIVE_INFINITY;
      let lastRecovery = 0;
      for (const id of ids) {
        const attempts = await tm.getTaskAttempts(id);
        expect(attempts.map((a) => [a.outcome, a.worker_id])).toEqual([
          ['interrupted', blocked.worker_id],
          ['completed', tm.options.worker_id],
        ]);
        firstStart = Math.min(firstStart, attempts[0].started_at);
        const recovered = (await tm.getTaskEvents(id)).find((e) => e.event_type === 'task_recovered')!;
        expect(recovered.metadata).toMatchObject({ recovered_from_worker_id: blocked.worker_id });
        lastRecovery = Math.max(lastRecovery, recovered.event_time);
      }
      console.log(`[${env.backend.name}] tasks of the blocked worker recovered ${lastRecovery - firstStart} ms after its handler started blocking`);
      expect(lastRecovery - firstStart).toBeLessThanOrEqual(LEASE + HEARTBEAT + MARGIN);

      // the block ends ~5 s after it began; then its handlers return and their outcomes are refused
      const snapshot = await Promise.all(ids.map(async (id) => ({ task: await tm.getTask(id), attempts: await tm.getTaskAttempts(id) })));
      await waitFor(() => Date.now() > firstStart + LEASE + 3000 + 1500, { timeout: 30_000, what: 'the block to end and the victim to try its writes' });
      expect(await Promise.all(ids.map(async (id) => ({ task: await tm.getTask(id), attempts: await tm.getTaskAttempts(id) })))).toEqual(snapshot);
      for (const task of snapshot) expect(task.task!.result).toEqual({ by: 'healthy worker' });
    } finally {
      victim?.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
