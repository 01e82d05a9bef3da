import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Store, Task } from '@taskmill/contracts';
import { sharedBackends } from '../src/backends.js';
import { freezeBetweenTransactions } from '../src/faults.js';
import { describeBackends, waitFor, waitForStatus } from '../src/harness.js';
import { spawnWorker, type WorkerProcess } from '../src/processes.js';

/** Short intervals so recovery shows up within a couple of seconds. */
const HB = { worker_heartbeat_interval: 200, worker_heartbeat_timeout: 1000 } as const;

/** Claim one task directly through a store, as a worker that then never heartbeats again. */
async function claimAsGhost(store: Store, workerId: string, name: string, ttlMs: number | null): Promise<Task> {
  const now = Date.now();
  if (ttlMs !== null) {
    await store.registerWorker({ worker_id: workerId, pod_id: null, host: 'ghost', pid: null, meta: null, now, ttl_ms: ttlMs });
  }
  const [task] = await store.claimTasks({ worker_id: workerId, now, limit: 1, names: [name] });
  expect(task, 'the ghost worker claims the task').toBeDefined();
  return task;
}

describeBackends('worker recovery', sharedBackends(), (env) => {
  env.test('kill test: SIGKILL one of 3 worker processes mid-run; every task completes and its running tasks are recovered in time', async () => {
    const tm = await env.isolated();
    tm.use('count', () => null);
    const dir = mkdtempSync(join(tmpdir(), 'taskmill-kill-'));
    const workers: WorkerProcess[] = [];
    try {
      await tm.asyncMany(Array.from({ length: 1000 }, (_, i) => ({ name: 'count', payload: { i } })));
      for (let i = 0; i < 3; i++) {
        workers.push(
          await spawnWorker({
            connection: env.db().processConnection,
            sideEffects: join(dir, `w${i}.log`),
            managerOptions: { ...HB, poll_interval: 50, max_concurrent_tasks: 5, task_heartbeat_interval: 500, task_heartbeat_timeout: 60_000 },
            // the victim's handlers take 2 s, so the tasks it is seen holding below are still in
            // its handlers when the kill lands: with 50 ms ones it could finish them in between
            // and be killed between claims, holding nothing (CI failed so once on MariaDB)
            work_ms: i === 0 ? 2000 : 50,
          }),
        );
      }
      const victim = workers[0];
      await waitFor(async () => (await tm.getTasks({ status: 'completed' })).length >= 150, { timeout: 120_000, what: '150 completions' });
      await waitFor(async () => (await tm.getTasks({ status: 'running', worker_id: victim.worker_id })).length > 0, { what: 'the victim to hold tasks' });
      const killedAt = Date.now();
      victim.child.kill('SIGKILL');
      await waitFor(async () => (await tm.getTaskStatsByTag()).every((s) => s.status === 'completed'), { timeout: 300_000, interval: 250, what: 'all 1000 completed' });
      await Promise.all(workers.slice(1).map((w) => w.stop()));

      const all = await tm.getTasks();
      expect(all).toHaveLength(1000);
      expect(all.every((t) => t.status === 'completed')).toBe(true);
      // every interrupted attempt is matched by a task_recovered event and costs no retry
      let fromVictim = 0;
      let fromLive = 0;
      let latest = 0;
      for (const t of all.filter((task) => task.attempt > 1)) {
        const attempts = await tm.getTaskAttempts(t.id);
        const recoveries = (await tm.getTaskEvents(t.id)).filter((e) => e.event_type === 'task_recovered');
        expect(attempts.filter((a) => a.outcome === 'interrupted')).toHaveLength(recoveries.length);
        expect(attempts.at(-1)!.outcome).toBe('completed');
        expect(t.retry_count).toBe(0);
        for (const event of recoveries) {
          expect(event.metadata).toMatchObject({ recovery_reason: 'worker_unavailable' });
          if (event.metadata!.recovered_from_worker_id === victim.worker_id) {
            fromVictim++;
            latest = Math.max(latest, event.event_time - killedAt);
          } else {
            fromLive++; // a live worker whose 1 s lease lapsed under load is recovered too (and re-registers)
          }
        }
      }
      expect(fromVictim).toBeGreaterThan(0);
      const recovered = { length: fromVictim };
      if (fromLive > 0) console.log(`[${env.backend.name}] ${fromLive} tasks recovered from live workers whose lease lapsed under load`);
      expect((await tm.getWorker(victim.worker_id))!.status).toBe('dead');
      console.log(`[${env.backend.name}] ${recovered.length} tasks recovered ${latest} ms after SIGKILL (lease ${HB.worker_heartbeat_timeout} ms + heartbeat ${HB.worker_heartbeat_interval} ms)`);
      // lease + one heartbeat, plus a scheduling margin for a loaded 2-core machine
      expect(latest).toBeLessThanOrEqual(HB.worker_heartbeat_timeout + HB.worker_heartbeat_interval + 600);
    } finally {
      await Promise.all(workers.map((w) => w.stop().catch(() => undefined)));
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);

  env.test('stale writer: a frozen worker whose task was recovered and completed elsewhere cannot change it after SIGCONT', async () => {
    const tm = await env.isolated({ ...HB, task_heartbeat_timeout: 60_000 });
    tm.use('count', () => null);
    const dir = mkdtempSync(join(tmpdir(), 'taskmill-stale-'));
    let frozen: WorkerProcess | undefined;
    try {
      const id = await tm.async('count', {});
      // The worker claims the waiting task as it starts; its polls and task heartbeats are rare, so
      // the freeze below most often lands between transactions. When SIGSTOP does catch one open,
      // holding the worker's registry row or the task's row, the server ends that session after the
      // store's idle-in-transaction limit (capped at the 1 s lease), so the reap and the recovery wait
      // at most that long (frozen-worker.test.ts freezes a worker inside a transaction on purpose).
      // On SQLite nothing can take the file's write lock back from a frozen process, so the freeze
      // is retried until it lands outside a write transaction (freezeBetweenTransactions).
      frozen = await spawnWorker({
        connection: env.db().processConnection,
        sideEffects: join(dir, 'frozen.log'),
        managerOptions: { ...HB, poll_interval: 60_000, task_heartbeat_interval: 30_000, task_heartbeat_timeout: 60_000 },
        work_ms: 1500,
      });
      await waitFor(async () => (await tm.getTask(id))?.worker_id === frozen!.worker_id, { what: 'the worker to claim the task' });
      await freezeBetweenTransactions(frozen, env.db().processConnection);
      // the live manager reaps the frozen worker's lease, recovers the task and runs it itself
      tm.use('count', async () => ({ by: 'new owner' }));
      await tm.start();
      const done = await waitForStatus(tm, id, 'completed', 30_000);
      expect(done.result).toEqual({ by: 'new owner' });
      const snapshot = { task: await tm.getTask(id), attempts: await tm.getTaskAttempts(id), events: await tm.getTaskEvents(id) };
      expect(snapshot.attempts.map((a) => [a.outcome, a.worker_id])).toEqual([
        ['interrupted', frozen.worker_id],
        ['completed', tm.options.worker_id],
      ]);
      frozen.child.kill('SIGCONT');
      // its handler finishes ~1.5 s after it started; give it time to try its late write
      await new Promise((r) => setTimeout(r, 2500));
      expect({ task: await tm.getTask(id), attempts: await tm.getTaskAttempts(id), events: await tm.getTaskEvents(id) }).toEqual(snapshot);
    } finally {
      frozen?.child.kill('SIGCONT');
      await frozen?.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  env.test('pod restart: a new manager of the same pod supersedes the old one and recovers its running task at once', async () => {
    const old = await env.isolated({ ...HB, worker_heartbeat_timeout: 60_000, pod_id: 'pod-a', task_heartbeat_timeout: 60_000 });
    let oldFinished = false;
    old.use('job', async (task) => {
      await new Promise((r) => setTimeout(r, 1500));
      oldFinished = true;
      return { by: task.worker_id };
    });
    const id = await old.async('job', {});
    await old.start();
    await waitForStatus(old, id, 'running');
    const restarted = env.manager({ ...HB, worker_heartbeat_timeout: 60_000, pod_id: 'pod-a', dbConnection: await env.db().peerConnection() });
    restarted.use('job', (task) => ({ by: task.worker_id }));
    const t0 = Date.now();
    await restarted.start();
    // recovered by start() itself, not after the 60 s lease
    const recoveredEvent = await waitFor(async () => (await restarted.getTaskEvents(id)).find((e) => e.event_type === 'task_recovered'));
    expect(recoveredEvent.event_time - t0).toBeLessThan(5_000);
    const done = await waitForStatus(restarted, id, 'completed');
    expect(done.result).toEqual({ by: restarted.options.worker_id });
    expect((await restarted.getWorker(old.options.worker_id))!.status).toBe('superseded');
    expect((await restarted.listWorkers({ pod_id: 'pod-a', status: 'active' })).map((w) => w.worker_id)).toEqual([restarted.options.worker_id]);
    await waitFor(() => oldFinished);
    await new Promise((r) => setTimeout(r, 200));
    expect((await restarted.getTask(id))!.result).toEqual({ by: restarted.options.worker_id });
    // the superseded manager claims nothing new
    const more = await restarted.async('job', {});
    await waitForStatus(restarted, more, 'completed');
    expect((await restarted.getTask(more))!.worker_id).toBe(restarted.options.worker_id);
  });

  env.test('a superseded worker claims nothing while its pod has a live worker, and revives once none remains', async () => {
    const first = await env.isolated({ ...HB, pod_id: 'pod-b' });
    first.use('job', (task) => task.worker_id);
    await first.start();
    const second = env.manager({ ...HB, pod_id: 'pod-b', dbConnection: await env.db().peerConnection() });
    second.use('job', (task) => task.worker_id);
    await second.start();
    await waitFor(async () => (await first.getWorker(first.options.worker_id))?.status === 'superseded');
    const whileSuperseded = await Promise.all([1, 2, 3, 4].map(() => first.async('job', {})));
    for (const id of whileSuperseded) expect((await waitForStatus(first, id, 'completed')).result).toBe(second.options.worker_id);
    await second.stop(); // the pod has no live worker left: the first one takes over again
    await waitFor(async () => (await first.getWorker(first.options.worker_id))?.status === 'active', { what: 'the superseded worker to revive' });
    const afterRevival = await first.async('job', {});
    expect((await waitForStatus(first, afterRevival, 'completed')).result).toBe(first.options.worker_id);
  });

  env.test('a running task without heartbeats and without a registry entry is timed out (heartbeat) and retried', async () => {
    const tm = await env.isolated({ task_heartbeat_interval: 100, task_heartbeat_timeout: 600 });
    tm.use('work', () => 'done by the live worker');
    const id = await tm.async('work', {}, { max_retries: 2 });
    const store = await env.db().openPeerStore();
    try {
      await claimAsGhost(store, 'ghost-without-registry', 'work', null);
      await tm.start();
      const done = await waitForStatus(tm, id, 'completed', 20_000);
      expect(done.result).toBe('done by the live worker');
      const timedOut = (await tm.getTaskEvents(id)).find((e) => e.event_type === 'task_timed_out')!;
      expect(timedOut.metadata).toMatchObject({ timeout_type: 'heartbeat' });
      const attempts = await tm.getTaskAttempts(id);
      expect(attempts.map((a) => [a.outcome, a.timeout_flag])).toEqual([['timeout', true], ['completed', false]]);
      expect(attempts[0].error).toBe('Task heartbeat timed out');
      expect(done.retry_count).toBe(1);
    } finally {
      await store.close();
    }
  });

  env.test('total timeout: a task past its own timeout is timed out by any worker; the owner aborts its signal; exhaustion follows A5', async () => {
    const tm = await env.isolated({ task_heartbeat_interval: 100, task_heartbeat_timeout: 60_000 });
    let reason: unknown;
    tm.use('slow', (task) => new Promise((resolve) => task.signal.addEventListener('abort', () => { reason = task.signal.reason; resolve('late'); })));
    const local = await tm.async('slow', {}, { timeout: 0.4, max_retries: 1 });
    const ghostTask = await tm.async('slow', {}, { timeout: 0.4, max_retries: 1, delay: 0 });
    const store = await env.db().openPeerStore();
    try {
      // one task is held by a ghost worker that never runs it: only the sweep can time it out
      const ghost = await claimAsGhost(store, 'ghost-total', 'slow', null);
      await tm.start();
      const a = await waitForStatus(tm, local === ghost.id ? ghostTask : local, 'permanently_failed');
      const b = await waitForStatus(tm, ghost.id, 'permanently_failed');
      expect(reason).toBeInstanceOf(Error);
      for (const t of [a, b]) {
        expect(t.error).toBe('Task exceeded total timeout limit');
        const events = await tm.getTaskEvents(t.id);
        expect(events.find((e) => e.event_type === 'task_timed_out')!.metadata).toMatchObject({ timeout_type: 'total' });
        expect(events.at(-1)).toMatchObject({ event_type: 'task_permanently_failed', metadata: { retry_exhausted: true } });
      }
    } finally {
      await store.close();
    }
  });

  env.test('recover_running_jobs: false reaps dead workers but leaves their tasks running until the task heartbeat timeout', async () => {
    const tm = await env.isolated({ ...HB, recover_running_jobs: false, task_heartbeat_interval: 200, task_heartbeat_timeout: 3000 });
    tm.use('work', () => 'eventually');
    const id = await tm.async('work', {});
    const store = await env.db().openPeerStore();
    try {
      const claimedAt = Date.now();
      await claimAsGhost(store, 'ghost-registered', 'work', 500);
      await tm.start();
      await waitFor(async () => (await tm.getWorker('ghost-registered'))?.status === 'dead', { what: 'the ghost to be reaped' });
      expect((await tm.getTask(id))!.status).toBe('running');
      const done = await waitForStatus(tm, id, 'completed', 20_000);
      const events = await tm.getTaskEvents(id);
      expect(events.map((e) => e.event_type)).not.toContain('task_recovered');
      const timedOut = events.find((e) => e.event_type === 'task_timed_out')!;
      expect(timedOut.metadata).toMatchObject({ timeout_type: 'heartbeat' });
      expect(timedOut.event_time - claimedAt).toBeGreaterThanOrEqual(3000);
      expect(done.result).toBe('eventually');
    } finally {
      await store.close();
    }
  });

  env.test("with recovery on, a reaped worker's running task goes back to pending at once: attempt interrupted, no retry used", async () => {
    const tm = await env.isolated({ ...HB, task_heartbeat_timeout: 60_000 });
    tm.use('work', () => 'recovered and done');
    const id = await tm.async('work', {}, { max_retries: 1 });
    const store = await env.db().openPeerStore();
    try {
      await claimAsGhost(store, 'ghost-dies', 'work', 500);
      await tm.start();
      const done = await waitForStatus(tm, id, 'completed', 20_000);
      expect(done).toMatchObject({ result: 'recovered and done', retry_count: 0, stage: 0 });
      const attempts = await tm.getTaskAttempts(id);
      expect(attempts.map((a) => a.outcome)).toEqual(['interrupted', 'completed']);
      expect(attempts[0].error).toBe('Task ownership recovered after worker became unavailable');
      const event = (await tm.getTaskEvents(id)).find((e) => e.event_type === 'task_recovered')!;
      expect(event).toMatchObject({ worker_id: tm.options.worker_id, metadata: { recovered_from_worker_id: 'ghost-dies', recovered_by_worker_id: tm.options.worker_id } });
    } finally {
      await store.close();
    }
  });
});
