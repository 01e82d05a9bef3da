import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES, type Store } from '@taskmill/contracts';
import { TaskManager } from '@taskmill/core';
import type { ProcessConnection } from '../src/backends.js';
import { waitFor } from '../src/harness.js';
import { privateServerUnavailable, startPrivateServer, type PrivateServer, type PrivateServerKind } from '../src/private-servers.js';
import { spawnWorker, type WorkerProcess } from '../src/processes.js';

/*
 * The database server restarts while three worker processes are busy: every session is cut, and
 * the server stays down longer than the lease, so every worker's lease runs out during the
 * outage. The workers must ride it out on their own (report the outage, reconnect, renew their
 * leases, finish the work), and the first worker back must not take its peers for dead: nobody is
 * reaped, no task is recovered from a live worker, and every handler runs to its end exactly once.
 *
 * Workers reconnect at different moments after the restart (each at its own heartbeat tick); a
 * heartbeat every 500 ms spreads those moments enough that, without the reaper's grace after an
 * outage, the first one back reaps a peer in practically every run (12 of 12 store runs).
 *
 * The suite's other files share the local servers, so this one starts private servers of its own
 * (src/private-servers.ts) and restarts those.
 */

const TASKS = 300;
const LEASE = 2000;
/** How long the server stays down: longer than the lease, so every lease ran out meanwhile. */
const DOWN_MS = LEASE + 1000;
const OPTIONS = {
  poll_interval: 50,
  max_concurrent_tasks: 5,
  worker_heartbeat_interval: 500,
  worker_heartbeat_timeout: LEASE,
  task_heartbeat_interval: 500,
  // the outage must not time tasks out: only the worker lease is under test
  task_heartbeat_timeout: 15_000,
} as const;
const WORK_MS = 40;
const WORKERS = 3;
const INDEXES = Array.from({ length: WORKERS }, (_, i) => i);

/** The stores to run on, by the names TASKMILL_E2E_STORES uses. */
const SERVERS: Array<{ store: string; kind: PrivateServerKind }> = [
  { store: 'postgres', kind: 'postgres' },
  { store: 'mysql', kind: 'mariadb' },
];
const only = process.env.TASKMILL_E2E_STORES?.split(',').map((s) => s.trim());

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

/** Stop a worker process, killing it when it cannot stop in time. */
async function stopWorker(worker: WorkerProcess): Promise<void> {
  const stopped = await Promise.race([worker.stop().then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 10_000))]);
  if (!stopped) worker.child.kill('SIGKILL');
}

for (const { store, kind } of SERVERS.filter((s) => !only || only.includes(s.store))) {
  describe(`database server restart [${store}]`, () => {
    let reason: string | null = null;
    let server: PrivateServer | undefined;

    beforeAll(() => {
      reason = privateServerUnavailable(kind);
      if (reason && process.env.CI) throw new Error(`${reason} (CI is set: this test must not skip)`);
    });

    afterAll(async () => {
      await server?.destroy();
    });

    it('workers ride out a restart longer than the lease: none is reaped and every task runs once', async (t) => {
      if (reason) return t.skip(reason);
      server = await startPrivateServer(kind);
      const srv = server;

      let connection: ProcessConnection;
      let dbConnection: string | Store;
      if (kind === 'postgres') {
        const { createPostgresStore } = await import('@taskmill/store-postgres');
        connection = { kind: 'postgres', url: srv.url('postgres'), schema: 'taskmill' };
        dbConnection = createPostgresStore({ url: connection.url, schema: connection.schema }) as Store;
      } else {
        const { default: my } = await import('mysql2/promise');
        const admin = await my.createConnection({ uri: srv.url('') });
        try {
          await admin.query('CREATE DATABASE taskmill');
        } finally {
          await admin.end();
        }
        connection = { kind: 'string', url: srv.url('taskmill') };
        dbConnection = connection.url;
      }

      const dir = mkdtempSync(join(tmpdir(), 'taskmill-restart-'));
      const workers: WorkerProcess[] = [];
      // this process only enqueues and reads; the outage's errors are the workers' to report
      const tm = new TaskManager({ dbConnection, onError: () => {} });
      tm.use('count', () => null);
      try {
        await tm.setup();
        const ids = await tm.asyncMany(Array.from({ length: TASKS }, (_, i) => ({ name: 'count', payload: { i } })));
        // one after the other: their heartbeat ticks fall at unrelated moments, as on separate hosts
        for (const i of INDEXES) {
          workers.push(await spawnWorker({ connection, sideEffects: join(dir, `w${i}.log`), managerOptions: OPTIONS, work_ms: WORK_MS }));
        }
        const effects = (w: number) => lines(join(dir, `w${w}.log`));
        const completed = async () => (await tm.getTaskStatsByTag()).filter((s) => s.status === 'completed').reduce((n, s) => n + s.count, 0);
        await waitFor(async () => (await completed()) >= TASKS / 3, { timeout: 60_000, interval: 50, what: 'a third of the tasks to complete' });

        const downAt = performance.now();
        await srv.stop();
        await new Promise((r) => setTimeout(r, DOWN_MS - (performance.now() - downAt)));
        await srv.start();
        const downMs = performance.now() - downAt;
        const upAt = Date.now();

        await waitFor(async () => (await tm.getTaskStatsByTag()).every((s) => s.status === 'completed'), {
          timeout: 90_000,
          interval: 100,
          what: 'every task to complete after the restart',
        });

        expect(downMs, 'the server was down longer than the lease').toBeGreaterThan(LEASE);
        const tasks = await tm.getTasks({ limit: TASKS + 1 });
        expect(tasks.length).toBe(TASKS);
        expect(tasks.filter((task) => task.status !== 'completed').map((task) => `${task.id}: ${task.status}`)).toEqual([]);

        // each handler ran to its end exactly once, in one worker or another
        const runs = new Map<number, number>();
        for (const w of INDEXES) for (const id of effects(w).map(Number)) runs.set(id, (runs.get(id) ?? 0) + 1);
        expect(ids.filter((id) => runs.get(id) !== 1).map((id) => `${id} ran ${runs.get(id) ?? 0} times`)).toEqual([]);

        // every worker saw the outage, reported it as one, and renewed its lease by itself afterwards
        for (const w of INDEXES) {
          const codes = lines(join(dir, `w${w}.log.errors`)).map((line) => line.split('\t')[1]);
          expect(codes, `worker ${w} reported the outage through onError`).toContain(ERROR_CODES.STORE_UNAVAILABLE);
        }
        await waitFor(
          async () => {
            // the registry's times are the database's, and the server runs on this host's clock
            for (const worker of workers) if (((await tm.getWorker(worker.worker_id))?.last_seen_at ?? 0) <= upAt) return false;
            return true;
          },
          { timeout: 10_000, what: 'every worker to renew its lease after the restart' },
        );

        // nobody took a live peer for dead: no task recovered, every worker still on its first lease
        const recovered: number[] = [];
        for (const id of ids) {
          if ((await tm.getTaskEvents(id)).some((e) => e.event_type === 'task_recovered')) recovered.push(id);
        }
        expect(recovered, 'tasks recovered from a worker that was alive').toEqual([]);
        for (const worker of workers) {
          const row = await tm.getWorker(worker.worker_id);
          expect(row?.status, `worker ${worker.worker_id} in the registry`).toBe('active');
          // a worker re-registers with recovered_at once it finds itself reaped
          expect(row?.meta?.recovered_at, `worker ${worker.worker_id} was reaped and re-registered`).toBeUndefined();
        }
      } finally {
        await Promise.all(workers.map(stopWorker));
        await tm.stop().catch(() => undefined);
        if (typeof dbConnection !== 'string') await dbConnection.close().catch(() => undefined);
        rmSync(dir, { recursive: true, force: true });
      }
    }, 180_000);
  });
}
