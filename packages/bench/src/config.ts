/*
 * Every size and address the bench uses, from the environment. Defaults are the sizes;
 * BENCH_N / BENCH_RUNS and the per-workload variables scale a run down for a quick check.
 */

function int(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw.replace(/_/g, ''));
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return n;
}

function list(name: string): string[] | null {
  const raw = process.env[name];
  return raw ? raw.split(',').map((s) => s.trim()).filter(Boolean) : null;
}

/** The sizes and filters of one bench run. */
export interface BenchConfig {
  /** Runs per workload and system; tables show their median and min–max. (BENCH_RUNS, default 3) */
  runs: number;
  /** W1, W3 and WR: tasks drained (WR: and then deleted by retention). (BENCH_N, default 50,000) */
  n: number;
  /** W2: tasks enqueued one at a time, and at how many per second. (BENCH_W2_TASKS 200, BENCH_W2_RATE 50) */
  w2Tasks: number;
  w2Rate: number;
  /** W4: awaited single enqueues. (BENCH_W4_N, default 2,000) */
  w4N: number;
  /** W5: pending tasks in the small and the large table, and the tasks timed in each. (1,000 / 1,000,000 / 1,000) */
  w5Small: number;
  w5Large: number;
  w5Measure: number;
  /** W6: tasks drained while the worker's RSS is sampled. (BENCH_W6_N, default 100,000) */
  w6N: number;
  /** W7: tasks enqueued and drained while WAL and statements are counted. (BENCH_W7_N, default 10,000) */
  w7N: number;
  /** WRL: tasks drained under `rate_limit: { max: wrlMax, per: wrlPer }` (seconds). (BENCH_WRL_N 2,000, BENCH_WRL_MAX 200, BENCH_WRL_PER 1) */
  wrlN: number;
  wrlMax: number;
  wrlPer: number;
  /** WK: keys, and tasks per key, drained under `max_concurrent_per_key: 1`. (BENCH_WK_KEYS 10,000, BENCH_WK_PER_KEY 5: N = 50,000 as W1's; the issue's 20 per key took 10 min a run on PostgreSQL) */
  wkKeys: number;
  wkPerKey: number;
  /** WB: tasks retried in bulk, and tasks the worker drains meanwhile. (BENCH_WB_N 100,000, BENCH_WB_DRAIN 100,000) */
  wbN: number;
  wbDrain: number;
  /** Tasks per batch-API call when enqueueing (every system the same). (BENCH_CHUNK, default 1,000) */
  chunk: number;
  /** Worker concurrency of every system. (BENCH_CONCURRENCY, default 10) */
  concurrency: number;
  /** Workloads to run (BENCH_WORKLOADS, e.g. `W1,W2`; default all). */
  workloads: string[];
  /** Systems to run (BENCH_SYSTEMS, comma list of names; default all). */
  systems: string[] | null;
  /** W6 systems (BENCH_W6_SYSTEMS; default the three taskmill stores). */
  w6Systems: string[];
  /**
   * W7: the PostgreSQL server's pg_wal directory; when set, W7 also reads the run's WAL with
   * pg_waldump and counts the bench database's records only (BENCH_PG_WALDIR; pg_waldump from PATH
   * or BENCH_PG_WALDUMP). Needs the bench on the database's host, with read access to the directory.
   */
  pgWalDir: string | null;
  pgUrl: string;
  mysqlUrl: string;
  redisUrl: string;
}

export function loadConfig(): BenchConfig {
  return {
    runs: int('BENCH_RUNS', 3),
    n: int('BENCH_N', 50_000),
    w2Tasks: int('BENCH_W2_TASKS', 200),
    w2Rate: int('BENCH_W2_RATE', 50),
    w4N: int('BENCH_W4_N', 2_000),
    w5Small: int('BENCH_W5_SMALL', 1_000),
    w5Large: int('BENCH_W5_LARGE', 1_000_000),
    w5Measure: int('BENCH_W5_MEASURE', 1_000),
    w6N: int('BENCH_W6_N', 100_000),
    w7N: int('BENCH_W7_N', 10_000),
    wrlN: int('BENCH_WRL_N', 2_000),
    wrlMax: int('BENCH_WRL_MAX', 200),
    wrlPer: int('BENCH_WRL_PER', 1),
    wkKeys: int('BENCH_WK_KEYS', 10_000),
    wkPerKey: int('BENCH_WK_PER_KEY', 5),
    wbN: int('BENCH_WB_N', 100_000),
    wbDrain: int('BENCH_WB_DRAIN', 100_000),
    chunk: int('BENCH_CHUNK', 1_000),
    concurrency: int('BENCH_CONCURRENCY', 10),
    workloads: list('BENCH_WORKLOADS') ?? ['W1', 'W2', 'W3', 'W4', 'W5', 'W6', 'W7', 'WR', 'WRL', 'WK', 'WB'],
    systems: list('BENCH_SYSTEMS'),
    w6Systems: list('BENCH_W6_SYSTEMS') ?? ['taskmill-sqlite', 'taskmill-postgres', 'taskmill-mysql'],
    pgWalDir: process.env.BENCH_PG_WALDIR || null,
    pgUrl: process.env.TASKMILL_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    mysqlUrl: process.env.TASKMILL_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test',
    redisUrl: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
  };
}
