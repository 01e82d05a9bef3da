/*
 * The dashboard's overview on a large history: about 1,000,000 events (250 rounds of 1,000 tasks
 * spread over the last 24 h, each created, claimed and finished through the store at its own
 * time, one in ten failing for good), 20,000 due tasks waiting, 10 names; then the server time of
 * `GET /` and `GET /api/overview.json` for each chart window, and of `getQueueHealth` alone.
 *
 *   pnpm --filter @taskmill/e2e bench:overview     (BENCH_ROUNDS, TASKMILL_E2E_STORES=sqlite-file,postgres,mysql)
 *
 * A benchmark, not a test: it prints figures (the first request, which fills queue health's rollup of
 * closed minutes for its window, then the median and min–max of 15 more).
 */
import { performance } from 'node:perf_hooks';
import { NEW_TASK_DEFAULTS, type Store } from '@taskmill/contracts';
import { serveDashboard } from '@taskmill/dashboard';
import { backends, type BackendDb } from '../src/backends.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 250);
const PER_ROUND = 1000;
const NAMES = Array.from({ length: 10 }, (_, i) => `job-${i}`);
const WAITING = 20_000;
const DAY = 86_400_000;

const NEW_TASK = { type: 'async' as const, payload: null, priority: 0, tag: null, timeout: 60, max_retries: 1, retry_interval: 0, cron_expr: null, cron_tz: null, ...NEW_TASK_DEFAULTS };

async function fill(store: Store, ref: number): Promise<number> {
  let events = 0;
  for (let round = 0; round < ROUNDS; round += 1) {
    const at = ref - DAY + Math.floor(((round + 0.5) * DAY) / ROUNDS);
    const tasks = Array.from({ length: PER_ROUND }, (_, i) => ({ ...NEW_TASK, name: NAMES[i % NAMES.length], next_run_time: at - 30_000 }));
    await store.createTasks(tasks, at - 30_000);
    let claimed: Awaited<ReturnType<Store['claimTasks']>> = [];
    while (claimed.length < PER_ROUND) {
      const more = await store.claimTasks({ worker_id: 'bench', now: at, limit: PER_ROUND - claimed.length, names: NAMES });
      if (more.length === 0) break;
      claimed = claimed.concat(more);
    }
    const items = claimed.map((task, i) => ({
      fence: { task_id: task.id, worker_id: 'bench', attempt: task.attempt },
      outcome: i % 10 === 0 ? ({ kind: 'failed', status: 'failed', error: 'bench' } as const) : ({ kind: 'completed', result: null } as const),
    }));
    await store.finishAttempts(items, at + 100 + (round % 7) * 100);
    // created, claimed, started, and completed, or failed and permanently_failed
    events += claimed.length * 4 + Math.ceil(claimed.length / 10);
    if (round % 25 === 24) process.stdout.write(`  ${round + 1}/${ROUNDS} rounds, ~${events} events\n`);
  }
  for (let done = 0; done < WAITING; done += PER_ROUND) {
    await store.createTasks(Array.from({ length: PER_ROUND }, (_, i) => ({ ...NEW_TASK, name: NAMES[i % NAMES.length], next_run_time: ref - 60_000 })), ref - 60_000);
  }
  return events + WAITING;
}

/**
 * Statistics and the visibility map as a running database has them (autovacuum / InnoDB's
 * persistent statistics / `ANALYZE`), not as a bulk load leaves them.
 */
async function settle(db: BackendDb): Promise<void> {
  const conn = db.processConnection;
  if (conn.kind === 'postgres') {
    const { default: pg } = await import('postgres');
    const sql = pg(conn.url, { max: 1, onnotice: () => {} });
    try {
      for (const table of ['taskmill_tasks', 'taskmill_task_attempts', 'taskmill_task_events']) await sql.unsafe(`VACUUM ANALYZE "${conn.schema}".${table}`);
    } finally {
      await sql.end({ timeout: 1 });
    }
  } else if (conn.url.startsWith('mysql:')) {
    const { default: my } = await import('mysql2/promise');
    const c = await my.createConnection({ uri: conn.url });
    try {
      await c.query('ANALYZE TABLE taskmill_tasks, taskmill_task_attempts, taskmill_task_events');
    } finally {
      await c.end();
    }
  } else {
    const { default: Database } = await import('better-sqlite3');
    const file = new Database(conn.url.replace(/^sqlite:/, ''));
    try {
      file.exec('ANALYZE');
    } finally {
      file.close();
    }
  }
}

/** The first call's ms (cold: it fills queue health's rollup of closed minutes), then `runs` more. */
async function time(runs: number, fn: () => Promise<unknown>): Promise<{ first: number; ms: number[] }> {
  const cold = performance.now();
  await fn();
  const first = performance.now() - cold;
  const ms: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const start = performance.now();
    await fn();
    ms.push(performance.now() - start);
  }
  return { first, ms };
}

function line(what: string, { first, ms }: { first: number; ms: number[] }): string {
  const sorted = [...ms].sort((a, b) => a - b);
  return `| ${what} | ${first.toFixed(1)} | ${sorted[Math.floor(sorted.length / 2)].toFixed(1)} | ${sorted[0].toFixed(1)}–${sorted[sorted.length - 1].toFixed(1)} |`;
}

for (const backend of backends().filter((b) => b.name !== 'sqlite-memory')) {
  const db = await backend.createDb();
  const store = await db.openPeerStore();
  try {
    const ref = await store.serverTime();
    const started = performance.now();
    console.log(`\n## ${backend.name}`);
    const events = await fill(store, ref);
    console.log(`~${events} events, ${ROUNDS * PER_ROUND + WAITING} tasks, generated in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    await settle(db);
    const dashboard = await serveDashboard({ store });
    try {
      const get = async (path: string) => {
        const res = await fetch(`${dashboard.url}${path}`);
        if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`);
        return res.text();
      };
      console.log('| request | first ms | median ms | min–max ms |\n|---|---|---|---|');
      for (const window of ['15m', '1h', '24h']) {
        console.log(line(`GET /?window=${window}`, await time(15, () => get(`?window=${window}`))));
        console.log(line(`GET /api/overview.json?window=${window}`, await time(15, () => get(`api/overview.json?window=${window}`))));
      }
      const now = await store.serverTime();
      console.log(line('getQueueHealth 24 h / 48 buckets', await time(15, () => store.getQueueHealth({ now, window_ms: DAY, buckets: 48 }))));
      console.log(line('getTaskStatsByTag', await time(15, () => store.getTaskStatsByTag())));
    } finally {
      await dashboard.close();
    }
  } finally {
    await store.close();
    await db.cleanup();
  }
}
