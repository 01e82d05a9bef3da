import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { sharedBackends } from '../src/backends.js';
import { describeBackends, waitFor, waitForStatus } from '../src/harness.js';
import { spawnWorker, type WorkerProcess } from '../src/processes.js';
import { freezeBetweenTransactions, freezeInsideTransaction } from '../src/faults.js';
import { holdMidStatement, type MidStatementSession } from '../src/mid-statement.js';
import { taskRowLocked, workerRowLocked } from '../src/row-locks.js';

/*
 * A frozen worker (SIGSTOP: a paused VM or container, a stopped process) cannot hold back the
 * recovery of its tasks. Frozen between transactions, its lease simply runs out. Frozen inside one,
 * it holds row locks the reaper needs (its registry row) until the server ends the session, which
 * the store's idle-in-transaction limit bounds by the lease, or, on PostgreSQL, where the freeze
 * caught the session mid-statement and no server timeout applies, until the reaper ends it: either
 * way its tasks are recovered within the lease plus one heartbeat (plus a margin for a loaded
 * 2-core machine).
 */

const LEASE = 2000;
const HEARTBEAT = 200;
const MARGIN = 2000;
const SHORT = { poll_interval: 50, worker_heartbeat_interval: HEARTBEAT, worker_heartbeat_timeout: LEASE, task_heartbeat_interval: 200, task_heartbeat_timeout: 60_000 } as const;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait for `victim` to claim task `id`; a timeout says what the victim reported through onError (its `.errors` file). */
async function claimedBy(tm: { getTask(id: number): Promise<{ worker_id: string | null } | null> }, id: number, victim: WorkerProcess, sideEffects: string) {
  try {
    await waitFor(async () => (await tm.getTask(id))?.worker_id === victim.worker_id, { what: 'the victim to claim the task' });
  } catch (error) {
    const errors = `${sideEffects}.errors`;
    throw new Error(`${(error as Error).message}; the victim reported: ${existsSync(errors) ? readFileSync(errors, 'utf8').trim() || 'nothing' : 'nothing'}`);
  }
}

describeBackends('frozen worker', sharedBackends(), (env) => {
  const serverDb = env.backend.name === 'postgres' || env.backend.name === 'mysql';

  for (const inside of [false, true]) {
    // SQLite has no row locks to hold: a process frozen inside its (synchronous, microseconds long)
    // write transaction keeps the file's write lock, which no server can take back (docs/failure-model.md)
    if (inside && !serverDb) continue;
    env.test(`frozen ${inside ? 'inside a transaction holding its registry row' : 'between transactions'}: its task is recovered within lease + one heartbeat and completed once elsewhere`, async () => {
      const tm = await env.isolated(SHORT);
      const dir = mkdtempSync(join(tmpdir(), 'taskmill-frozen-'));
      let victim: WorkerProcess | undefined;
      try {
        tm.use('count', () => ({ by: 'new owner' })); // runs only once this manager starts, after the freeze
        const id = await tm.async('count', {});
        victim = await spawnWorker({
          connection: env.db().processConnection,
          sideEffects: join(dir, 'victim.log'),
          // a lease heartbeat every 20 ms keeps a transaction on its registry row open often
          managerOptions: { ...SHORT, poll_interval: 60_000, worker_heartbeat_interval: inside ? 20 : HEARTBEAT },
          work_ms: 20_000,
        });
        const frozen = victim;
        await claimedBy(tm, id, frozen, join(dir, 'victim.log'));
        const frozenAt = inside
          ? await freezeInsideTransaction(frozen, env.db().processConnection)
          : await freezeBetweenTransactions(frozen, env.db().processConnection);

        await tm.start();
        const recovered = await waitFor(async () => (await tm.getTaskEvents(id)).find((e) => e.event_type === 'task_recovered'), {
          timeout: 60_000,
          what: 'the frozen worker\'s task to be recovered',
        });
        const took = recovered.event_time - frozenAt;
        console.log(`[${env.backend.name}] frozen ${inside ? 'inside a transaction' : 'between transactions'}: recovered ${took} ms after SIGSTOP (lease ${LEASE} + heartbeat ${HEARTBEAT})`);
        expect(took).toBeLessThanOrEqual(LEASE + HEARTBEAT + MARGIN);
        expect(recovered.metadata).toMatchObject({ recovered_from_worker_id: frozen.worker_id });
        const done = await waitForStatus(tm, id, 'completed', 30_000);
        expect(done.result).toEqual({ by: 'new owner' });

        // woken, the frozen worker's late writes change nothing: its session is gone or its fence fails
        const snapshot = { task: await tm.getTask(id), attempts: await tm.getTaskAttempts(id) };
        expect(snapshot.attempts.map((a) => [a.outcome, a.worker_id])).toEqual([
          ['interrupted', frozen.worker_id],
          ['completed', tm.options.worker_id],
        ]);
        frozen.child.kill('SIGCONT');
        await sleep(1500);
        expect({ task: await tm.getTask(id), attempts: await tm.getTaskAttempts(id) }).toEqual(snapshot);
      } finally {
        victim?.child.kill('SIGCONT');
        victim?.child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
    }, 180_000);
  }

  // PostgreSQL ends a session idle in a transaction only while it waits for a query after a Sync.
  // postgres-js describes a statement before its first run on each connection (Parse, Describe,
  // Flush, no Sync): a process frozen in that round trip leaves its session `active` on ClientRead,
  // which no server timeout ends, holding its locks. The flaky case above hit it about once in 13
  // runs; here the state is made on purpose, on the wire, holding the frozen worker's registry row.
  if (env.backend.name === 'postgres') {
    env.test('frozen mid-statement (described, never synced) holding its registry row: its task is recovered within lease + one heartbeat', async () => {
      const tm = await env.isolated(SHORT);
      const dir = mkdtempSync(join(tmpdir(), 'taskmill-frozen-mid-'));
      const connection = env.db().processConnection;
      if (connection.kind !== 'postgres') throw new Error('a PostgreSQL test database has a postgres process connection');
      let victim: WorkerProcess | undefined;
      let held: MidStatementSession | undefined;
      try {
        tm.use('count', () => ({ by: 'new owner' }));
        const id = await tm.async('count', {});
        victim = await spawnWorker({ connection, sideEffects: join(dir, 'victim.log'), managerOptions: { ...SHORT, poll_interval: 60_000 }, work_ms: 20_000 });
        const frozen = victim;
        await claimedBy(tm, id, frozen, join(dir, 'victim.log'));
        const frozenAt = await freezeBetweenTransactions(frozen, connection);
        const workers = `"${connection.schema}".taskmill_workers`;
        const workerId = frozen.worker_id.replace(/'/g, "''");
        held = await holdMidStatement(connection, `UPDATE ${workers} SET last_seen_at = last_seen_at WHERE worker_id = '${workerId}'`, `SELECT * FROM ${workers} WHERE worker_id = $1`);
        expect(await workerRowLocked(connection, frozen.worker_id)).toBe(true);

        await tm.start();
        const recovered = await waitFor(async () => (await tm.getTaskEvents(id)).find((e) => e.event_type === 'task_recovered'), {
          timeout: 30_000,
          what: 'the task of the worker whose row a mid-statement session holds to be recovered',
        });
        const took = recovered.event_time - frozenAt;
        console.log(`[${env.backend.name}] registry row held mid-statement: recovered ${took} ms after SIGSTOP (lease ${LEASE} + heartbeat ${HEARTBEAT})`);
        expect(took).toBeLessThanOrEqual(LEASE + HEARTBEAT + MARGIN);
        expect(recovered.metadata).toMatchObject({ recovered_from_worker_id: frozen.worker_id });
        const done = await waitForStatus(tm, id, 'completed', 30_000);
        expect(done.result).toEqual({ by: 'new owner' });
      } finally {
        held?.end();
        victim?.child.kill('SIGCONT');
        victim?.child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
    }, 180_000);
  }

  // The reaper takes a dead worker's tasks with SKIP LOCKED: a task row its frozen transaction still
  // locks is passed over at the reap. Here the victim's store cuts idle sessions only after 4 s, twice
  // the lease, so the reap comes first and must come back for the task once the session is gone.
  if (serverDb) {
    env.test('frozen inside a transaction holding its task row, with an idle limit past the lease: the task is recovered once the server cut the session', async () => {
      const IDLE = 4000;
      const tm = await env.isolated(SHORT);
      const dir = mkdtempSync(join(tmpdir(), 'taskmill-frozen-task-'));
      let victim: WorkerProcess | undefined;
      try {
        tm.use('count', () => ({ by: 'new owner' }));
        const id = await tm.async('count', {});
        victim = await spawnWorker({
          connection: env.db().processConnection,
          sideEffects: join(dir, 'victim.log'),
          // a task heartbeat every 20 ms keeps a transaction on the task's row open often
          managerOptions: { ...SHORT, poll_interval: 60_000, task_heartbeat_interval: 20 },
          work_ms: 20_000,
          idleTransactionTimeoutMs: IDLE,
        });
        const frozen = victim;
        await claimedBy(tm, id, frozen, join(dir, 'victim.log'));
        const frozenAt = await freezeInsideTransaction(frozen, env.db().processConnection, () => taskRowLocked(env.db().processConnection, id));
        await tm.start();
        await waitFor(async () => (await tm.getWorker(frozen.worker_id))?.status === 'dead', { what: 'the victim to be reaped' });
        const recovered = await waitFor(async () => (await tm.getTaskEvents(id)).find((e) => e.event_type === 'task_recovered'), {
          timeout: 30_000,
          what: 'the task the frozen transaction locked to be recovered',
        });
        const took = recovered.event_time - frozenAt;
        console.log(`[${env.backend.name}] task row locked by a frozen transaction: recovered ${took} ms after SIGSTOP (idle limit ${IDLE} ms)`);
        expect(took).toBeLessThanOrEqual(IDLE + HEARTBEAT + MARGIN);
        const done = await waitForStatus(tm, id, 'completed', 30_000);
        expect(done.result).toEqual({ by: 'new owner' });
        expect((await tm.getTaskAttempts(id)).map((a) => a.outcome)).toEqual(['interrupted', 'completed']); // recovered, no retry used
      } finally {
        victim?.child.kill('SIGCONT');
        victim?.child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
    }, 180_000);
  }
});
