/*
 * Retention under load: how much does draining 100,000 expired tasks slow the workers down?
 * (BENCH_MODE=sweeper: by automatic sweeps at their default slice and pause instead of one run;
 * BENCH_SWEEP_BUDGET_MS, BENCH_SWEEP_PAUSE_MS and BENCH_SWEEP_BATCH try others.)
 *
 *   pnpm --filter @taskmill/e2e bench:retention            (all of sqlite, postgres, mysql)
 *   BENCH_STORES=sqlite,postgres BENCH_EXPIRED=100000 BENCH_PHASE_MS=10000 pnpm … bench:retention
 *
 * Per store: bulk-insert BENCH_EXPIRED completed tasks two days old, each with two events
 * (`task_created`, `task_completed`) and one attempt, plus 1,000 equally old sentinel tasks in
 * statuses retention must never delete (pending, failed, timeout, suspended, and paused, which
 * the default policy leaves alone). Two worker processes (TaskManager, automatic retention off,
 * `count` handler) keep processing new tasks that this process tops up. Throughput (tasks
 * completed per second) is measured for BENCH_PHASE_MS before the drain, during the drain —
 * `runRetention(store, { expire_time: 3600 })` from this process, as an ops script would run it,
 * 100 tasks per batch, each its own transaction — and for BENCH_PHASE_MS after it; the drop is
 * the drain's throughput against the mean of before and after. Then it
 * checks that every expired task is gone, every live and sentinel task (with its events) is
 * still there, and no event or attempt row is left without its task.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import postgres from 'postgres';
import { NEW_TASK_DEFAULTS, type NewTask, type RetentionStore, type Store } from '@taskmill/contracts';
import { RetentionSweeper, resolveSweepTiming, runRetention, type RetentionResult } from '@taskmill/retention';
import { createMysqlStore } from '@taskmill/store-mysql';
import { createPostgresStore } from '@taskmill/store-postgres';
import { createSqliteStore } from '@taskmill/store-sqlite';
import { MYSQL_URL, PG_URL, type ProcessConnection } from '../src/backends.js';
import { spawnWorker, type WorkerProcess } from '../src/processes.js';

const EXPIRED = Number(process.env.BENCH_EXPIRED ?? 100_000);
const PHASE_MS = Number(process.env.BENCH_PHASE_MS ?? 10_000);
/** `run`: one runRetention call, as an ops script; `sweeper`: a RetentionSweeper at its default slice and pause until the backlog is gone. */
const MODE = process.env.BENCH_MODE === 'sweeper' ? 'sweeper' : 'run';
/** Sweeper mode: its time slice, pause and batch size when set (else the sweeper's defaults), to try other duty cycles. */
const SWEEP_BUDGET_MS = optionalNumber('BENCH_SWEEP_BUDGET_MS');
const SWEEP_PAUSE_MS = optionalNumber('BENCH_SWEEP_PAUSE_MS');
const SWEEP_BATCH = optionalNumber('BENCH_SWEEP_BATCH');
const STORES = (process.env.BENCH_STORES ?? 'sqlite,postgres,mysql').split(',').map((s) => s.trim());
const SENTINEL_STATUSES = ['pending', 'failed', 'timeout', 'suspended', 'paused'] as const;
const SENTINELS_PER_STATUS = 200;
/** Pending `count` tasks kept queued, so the workers never run dry. */
const BACKLOG = 2000;
const INSERT_CHUNK = 1000;
const DAY = 86_400_000;

function optionalNumber(name: string): number | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : Number(value);
}

/** Raw SQL on the bench database (numbers and fixed strings only, so no parameters are needed). */
interface Raw {
  exec(sql: string): Promise<void>;
  count(sql: string): Promise<number>;
  close(): Promise<void>;
}

interface Target {
  name: string;
  store: Store;
  raw: Raw;
  worker: ProcessConnection;
  cleanup(): Promise<void>;
}

async function openTarget(name: string): Promise<Target> {
  const tag = `bench_ret_${process.pid}`;
  if (name === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'taskmill-bench-'));
    const path = join(dir, 'tasks.db');
    const store = createSqliteStore({ path });
    await store.setup();
    const db = new Database(path);
    db.pragma('busy_timeout = 5000');
    return {
      name,
      store,
      raw: {
        exec: async (sql) => void db.exec(sql),
        count: async (sql) => Number((db.prepare(sql).get() as { n: number }).n),
        close: async () => void db.close(),
      },
      worker: { kind: 'string', url: `sqlite:${path}` },
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  if (name === 'postgres') {
    const store = createPostgresStore({ url: PG_URL, schema: tag });
    await store.setup();
    const sql = postgres(PG_URL, { max: 1, onnotice: () => {}, connection: { search_path: tag } });
    return {
      name,
      store,
      raw: {
        exec: async (text) => void (await sql.unsafe(text)),
        count: async (text) => Number((await sql.unsafe(text))[0].n),
        close: () => sql.end({ timeout: 1 }),
      },
      worker: { kind: 'postgres', url: PG_URL, schema: tag },
      cleanup: async () => {
        const admin = postgres(PG_URL, { max: 1, onnotice: () => {} });
        await admin.unsafe(`drop schema if exists "${tag}" cascade`);
        await admin.end({ timeout: 1 });
      },
    };
  }
  if (name === 'mysql') {
    const admin = await mysql.createConnection({ uri: MYSQL_URL });
    await admin.query(`CREATE DATABASE \`${tag}\``);
    await admin.end();
    const url = new URL(MYSQL_URL);
    url.pathname = `/${tag}`;
    const store = createMysqlStore(url.toString());
    await store.setup();
    const conn = await mysql.createConnection({ uri: url.toString() });
    return {
      name,
      store,
      raw: {
        exec: async (text) => void (await conn.query(text)),
        count: async (text) => Number(((await conn.query(text))[0] as { n: number }[])[0].n),
        close: () => conn.end(),
      },
      worker: { kind: 'string', url: url.toString() },
      cleanup: async () => {
        const c = await mysql.createConnection({ uri: MYSQL_URL });
        await c.query(`DROP DATABASE IF EXISTS \`${tag}\``);
        await c.end();
      },
    };
  }
  throw new Error(`unknown store ${name}`);
}

/** `n` tasks in `status`, last active at `at` and before, straight into the tasks table. */
async function insertOld(raw: Raw, name: string, status: string, n: number, at: number): Promise<void> {
  for (let i = 0; i < n; i += INSERT_CHUNK) {
    const rows: string[] = [];
    for (let j = i; j < Math.min(n, i + INSERT_CHUNK); j++) {
      const t = at - j; // distinct ages, so the oldest-first order of the purge is exercised
      rows.push(`('${name}', 'async', ${t}, '${status}', ${t}, ${t})`);
    }
    await raw.exec(`INSERT INTO taskmill_tasks (name, type, created_at, status, next_run_time, last_active_time) VALUES ${rows.join(', ')}`);
  }
}

async function insertAudit(raw: Raw, name: string): Promise<void> {
  await raw.exec(
    `INSERT INTO taskmill_task_events (task_id, event_type, to_status, event_time)
     SELECT id, 'task_created', 'pending', created_at FROM taskmill_tasks WHERE name = '${name}'`,
  );
  await raw.exec(
    `INSERT INTO taskmill_task_events (task_id, event_type, from_status, to_status, event_time)
     SELECT id, 'task_completed', 'running', status, last_active_time FROM taskmill_tasks WHERE name = '${name}'`,
  );
  await raw.exec(
    `INSERT INTO taskmill_task_attempts (task_id, attempt, worker_id, started_at, ended_at, outcome)
     SELECT id, 1, 'bench', created_at, last_active_time, 'completed' FROM taskmill_tasks WHERE name = '${name}'`,
  );
}

const countTask = (): NewTask => ({
  name: 'count',
  type: 'async',
  payload: '{}',
  priority: 0,
  tag: null,
  next_run_time: 0,
  timeout: 60,
  max_retries: 3,
  retry_interval: 0,
  cron_expr: null,
  cron_tz: null,
  ...NEW_TASK_DEFAULTS,
});

/** Keep BACKLOG `count` tasks pending until stopped; returns how many it created. */
function feeder(target: Target) {
  let created = 0;
  let running = true;
  const done = (async () => {
    while (running) {
      const pending = await target.raw.count(`SELECT count(*) AS n FROM taskmill_tasks WHERE name = 'count' AND status = 'pending'`);
      if (pending < BACKLOG) {
        const n = BACKLOG - pending;
        await target.store.createTasks(Array.from({ length: n }, countTask), Date.now());
        created += n;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return created;
    },
  };
}

const completed = (raw: Raw) => raw.count(`SELECT count(*) AS n FROM taskmill_tasks WHERE name = 'count' AND status = 'completed'`);

/** Tasks completed per second over `fn` (or over `ms` when no fn). */
async function throughput(raw: Raw, run: () => Promise<unknown>): Promise<{ rate: number; ms: number }> {
  const before = await completed(raw);
  const startedAt = Date.now();
  await run();
  const ms = Date.now() - startedAt;
  const after = await completed(raw);
  return { rate: ((after - before) * 1000) / ms, ms };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Automatic sweeps at the default slice and pause (or BENCH_SWEEP_*) until one finds nothing left.
 * The sweeper's interval is set to its pause, the shortest that keeps the pause whole (a pause is
 * at most the interval), so the first sweep comes one pause after start; `measure` then times the
 * sweeps from their first batch, so the wait before it is not counted as a drain phase.
 */
async function sweepAll(store: Store, measure: (run: () => Promise<unknown>) => Promise<unknown>): Promise<RetentionResult> {
  const total = { tasks_deleted: 0, events_deleted: 0, attempts_deleted: 0 };
  let finished!: () => void;
  const done = new Promise<void>((resolve) => (finished = resolve));
  let firstBatch!: () => void;
  const started = new Promise<void>((resolve) => (firstBatch = resolve));
  const observed: RetentionStore = {
    purgeExpiredTasks(input) {
      firstBatch();
      return store.purgeExpiredTasks(input);
    },
  };
  const { time_budget_ms, pause_ms } = resolveSweepTiming({ time_budget_ms: SWEEP_BUDGET_MS, pause_ms: SWEEP_PAUSE_MS });
  console.log(`[${store.dialect}] sweeper: slice ${time_budget_ms} ms, pause ${pause_ms} ms, batch ${SWEEP_BATCH ?? 'default'}`);
  const sweeper = new RetentionSweeper(observed, { expire_time: 3600 }, {
    interval_ms: Math.max(pause_ms, time_budget_ms),
    time_budget_ms,
    pause_ms,
    batch_size: SWEEP_BATCH,
    onSweep: (r) => {
      total.tasks_deleted += r.tasks_deleted;
      total.events_deleted += r.events_deleted;
      total.attempts_deleted += r.attempts_deleted;
      if (r.finished) finished();
    },
  });
  sweeper.start();
  await started;
  await measure(() => done);
  await sweeper.stop();
  return total;
}

async function bench(name: string): Promise<void> {
  const target = await openTarget(name);
  const { raw, store } = target;
  const workers: WorkerProcess[] = [];
  let feed: ReturnType<typeof feeder> | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'taskmill-bench-side-'));
  try {
    const old = Date.now() - 2 * DAY;
    const insertStarted = Date.now();
    await insertOld(raw, 'expired', 'completed', EXPIRED, old);
    await insertAudit(raw, 'expired');
    for (const status of SENTINEL_STATUSES) await insertOld(raw, `sentinel_${status}`, status, SENTINELS_PER_STATUS, old);
    for (const status of SENTINEL_STATUSES) await insertAudit(raw, `sentinel_${status}`);
    const expiredEvents = await raw.count(`SELECT count(*) AS n FROM taskmill_task_events e JOIN taskmill_tasks t ON t.id = e.task_id WHERE t.name = 'expired'`);
    const sentinelEvents = await raw.count(`SELECT count(*) AS n FROM taskmill_task_events e JOIN taskmill_tasks t ON t.id = e.task_id WHERE t.name LIKE 'sentinel_%'`);
    console.log(`[${name}] inserted ${EXPIRED} expired tasks (${expiredEvents} events) and ${SENTINEL_STATUSES.length * SENTINELS_PER_STATUS} sentinels in ${Date.now() - insertStarted} ms`);

    feed = feeder(target);
    for (let i = 0; i < 2; i++) {
      workers.push(
        await spawnWorker({
          connection: target.worker,
          sideEffects: join(dir, `w${i}.log`),
          managerOptions: { retention: false, poll_interval: 50, max_concurrent_tasks: 10 },
        }),
      );
    }
    await sleep(3000); // warm-up: workers settled, backlog full

    const before = await throughput(raw, () => sleep(PHASE_MS));
    let deleted = { tasks_deleted: 0, events_deleted: 0, attempts_deleted: 0 };
    let during!: { rate: number; ms: number };
    if (MODE === 'run') {
      during = await throughput(raw, async () => {
        deleted = await runRetention(store, { expire_time: 3600 });
      });
    } else {
      deleted = await sweepAll(store, async (run) => (during = await throughput(raw, run)));
    }
    const after = await throughput(raw, () => sleep(PHASE_MS));

    // the feeder stops first: a worker on SQLite with a never-empty queue can take minutes to act on `stop`
    const created = await feed.stop();
    await Promise.all(workers.splice(0).map((w) => w.stop()));

    const leftExpired = await raw.count(`SELECT count(*) AS n FROM taskmill_tasks WHERE name = 'expired'`);
    const liveTasks = await raw.count(`SELECT count(*) AS n FROM taskmill_tasks WHERE name = 'count'`);
    const sentinelRows: string[] = [];
    for (const status of SENTINEL_STATUSES) {
      const n = await raw.count(`SELECT count(*) AS n FROM taskmill_tasks WHERE name = 'sentinel_${status}' AND status = '${status}'`);
      sentinelRows.push(`${status} ${n}/${SENTINELS_PER_STATUS}`);
    }
    const sentinelsKept = await raw.count(`SELECT count(*) AS n FROM taskmill_tasks WHERE name LIKE 'sentinel_%'`);
    const sentinelEventsKept = await raw.count(`SELECT count(*) AS n FROM taskmill_task_events e JOIN taskmill_tasks t ON t.id = e.task_id WHERE t.name LIKE 'sentinel_%'`);
    const orphanEvents = await raw.count(`SELECT count(*) AS n FROM taskmill_task_events e WHERE NOT EXISTS (SELECT 1 FROM taskmill_tasks t WHERE t.id = e.task_id)`);
    const orphanAttempts = await raw.count(`SELECT count(*) AS n FROM taskmill_task_attempts a WHERE NOT EXISTS (SELECT 1 FROM taskmill_tasks t WHERE t.id = a.task_id)`);

    // before and after both run without retention; their mean evens out drift of a shared machine
    const without = (before.rate + after.rate) / 2;
    const drop = ((without - during.rate) / without) * 100;
    console.log(`[${name}] throughput before drain: ${before.rate.toFixed(1)} tasks/s (${before.ms} ms)`);
    console.log(`[${name}] throughput during drain: ${during.rate.toFixed(1)} tasks/s (drain took ${during.ms} ms, ${((deleted.tasks_deleted * 1000) / during.ms).toFixed(0)} expired tasks deleted/s)`);
    console.log(`[${name}] throughput after drain:  ${after.rate.toFixed(1)} tasks/s (${after.ms} ms)`);
    console.log(`[${name}] throughput without retention (mean of before and after): ${without.toFixed(1)} tasks/s; with the drain running: ${during.rate.toFixed(1)} tasks/s; drop: ${drop.toFixed(1)}%`);
    console.log(`[${name}] deleted: ${deleted.tasks_deleted} tasks, ${deleted.events_deleted} events, ${deleted.attempts_deleted} attempts`);
    console.log(`[${name}] expired tasks left: ${leftExpired}; live count tasks kept: ${liveTasks}/${created}; sentinels kept: ${sentinelRows.join(', ')}; sentinel events kept: ${sentinelEventsKept}/${sentinelEvents}`);
    console.log(`[${name}] orphaned events: ${orphanEvents}, orphaned attempts: ${orphanAttempts}`);
    const ok =
      leftExpired === 0 &&
      deleted.tasks_deleted === EXPIRED &&
      deleted.events_deleted === expiredEvents &&
      deleted.attempts_deleted === EXPIRED &&
      liveTasks === created &&
      sentinelsKept === SENTINEL_STATUSES.length * SENTINELS_PER_STATUS &&
      sentinelEventsKept === sentinelEvents &&
      orphanEvents === 0 &&
      orphanAttempts === 0;
    console.log(`[${name}] checks: ${ok ? 'OK' : 'FAILED'}`);
    if (!ok) process.exitCode = 1;
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await feed?.stop();
    await raw.close();
    await store.close();
    await target.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const name of STORES) await bench(name);
