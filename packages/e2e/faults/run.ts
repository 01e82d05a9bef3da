/*
 * The fault matrix: every fault a worker fleet meets, on every store, in one command.
 *
 *   pnpm faults      narrow it with FAULTS_STORES=postgres,mysql, FAULTS_ONLY=sigkill or
 *                    FAULTS_SKIP=restart (parts of fault names); FAULTS_TASKS=600 tasks per run
 *
 * Each run: one database, N short tasks enqueued by this process, three worker processes (the
 * first is the victim), the fault injected once a third of the tasks are done, then a wait of up
 * to two minutes for every task to finish. Per run it prints: tasks; duplicates (tasks whose
 * handler ran to its end more than once: at-least-once delivery after a worker died mid-task);
 * lost (tasks failed for good because of the fault, or gone); stuck (not finished by the
 * deadline); healthy reaped (workers that kept heart-beating yet were reaped: their handlers would
 * run twice); and the time from the fault to recovery (the victim's tasks recovered, or the first
 * completion after an outage). The process exits 1 when any run lost, stuck or reaped a healthy worker.
 *
 * Server restarts cut every session on the local server: run this alone, not beside the test suite.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TaskManager } from '@taskmill/core';
import type { Store } from '@taskmill/contracts';
import { sharedBackends, type Backend, type BackendDb } from '../src/backends.js';
import { freezeBetweenTransactions, freezeInsideTransaction, killConnections, restartServer, sessionTag } from '../src/faults.js';
import { spawnWorker, type WorkerProcess } from '../src/processes.js';

const TASKS = Number(process.env.FAULTS_TASKS ?? 600);
const LEASE = 2000;
const HEARTBEAT = 200;
const OPTIONS = {
  poll_interval: 100,
  max_concurrent_tasks: 5,
  worker_heartbeat_interval: HEARTBEAT,
  worker_heartbeat_timeout: LEASE,
  task_heartbeat_interval: 500,
  task_heartbeat_timeout: 15_000,
} as const;
const WORK_MS = 40;
const DEADLINE_MS = 120_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Run {
  backend: Backend;
  db: BackendDb;
  workers: WorkerProcess[];
  /** The worker the fault hits, when it hits one. */
  victim?: WorkerProcess;
}

interface Fault {
  name: string;
  /** Only on stores with a server (sessions to cut, a server to restart, row locks to hold). */
  serverOnly?: boolean;
  /** Spawn options of worker `i` (0 is the victim). */
  worker?(i: number): { clockSkewMs?: number; blockFirstMs?: number; managerOptions?: Record<string, unknown> };
  /** Inject the fault; resolves to when it happened (ms, this host's clock). */
  inject(run: Run): Promise<number>;
  /** What counts as recovered: the victim's tasks handed back, or work flowing again. */
  recovery: 'victim' | 'flow' | 'none';
}

const FAULTS: Fault[] = [
  {
    name: 'SIGKILL a worker',
    recovery: 'victim',
    async inject({ victim }) {
      victim!.child.kill('SIGKILL');
      return Date.now();
    },
  },
  {
    name: 'SIGSTOP a worker between transactions',
    recovery: 'victim',
    inject: ({ victim, db }) => freezeBetweenTransactions(victim!, db.processConnection),
  },
  {
    name: 'SIGSTOP a worker inside a transaction',
    serverOnly: true,
    recovery: 'victim',
    worker: (i) => (i === 0 ? { managerOptions: { worker_heartbeat_interval: 20 } } : {}),
    inject: ({ victim, db }) => freezeInsideTransaction(victim!, db.processConnection),
  },
  {
    name: 'handler blocks the event loop (lease + 3 s)',
    recovery: 'victim',
    worker: (i) => (i === 0 ? { blockFirstMs: LEASE + 3000 } : {}),
    async inject() {
      return Number.NaN; // the victim blocks in its first handler: the fault began at its first attempt, read afterwards
    },
  },
  {
    name: 'connections killed (3 rounds)',
    serverOnly: true,
    recovery: 'flow',
    async inject({ backend, db }) {
      const at = Date.now();
      for (let round = 0; round < 3; round++) {
        await killConnections(backend, sessionTag(db.processConnection));
        await sleep(300);
      }
      return at;
    },
  },
  {
    name: 'database server restart',
    serverOnly: true,
    recovery: 'flow',
    async inject({ backend }) {
      const at = Date.now();
      await restartServer(backend);
      return at;
    },
  },
  { name: 'one worker clock +30 s', recovery: 'none', worker: (i) => (i === 0 ? { clockSkewMs: 30_000 } : {}), inject: async () => Date.now() },
  { name: 'one worker clock -30 s', recovery: 'none', worker: (i) => (i === 0 ? { clockSkewMs: -30_000 } : {}), inject: async () => Date.now() },
];

interface Row {
  fault: string;
  store: string;
  tasks: number;
  duplicates: number;
  lost: number;
  stuck: number;
  healthyReaped: number;
  recoverMs: number | null;
  seconds: number;
}

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

async function runOne(fault: Fault, backend: Backend): Promise<Row> {
  const started = Date.now();
  const db = await backend.createDb();
  const dir = mkdtempSync(join(tmpdir(), 'taskmill-faults-'));
  const workers: WorkerProcess[] = [];
  const tm = new TaskManager({ dbConnection: db.dbConnection, onError: () => {} });
  tm.use('count', () => null); // this process only enqueues and reads
  try {
    await tm.setup();
    const ids = await tm.asyncMany(Array.from({ length: TASKS }, (_, i) => ({ name: 'count', payload: { i } })));
    for (let i = 0; i < 3; i++) {
      const extra = fault.worker?.(i) ?? {};
      workers.push(
        await spawnWorker({
          connection: db.processConnection,
          sideEffects: join(dir, `w${i}.log`),
          managerOptions: { ...OPTIONS, ...extra.managerOptions },
          work_ms: WORK_MS,
          clockSkewMs: extra.clockSkewMs,
          blockFirstMs: extra.blockFirstMs,
        }),
      );
    }
    const run: Run = { backend, db, workers, victim: workers[0] };
    const completed = async () => (await tm.getTaskStatsByTag()).filter((s) => s.status === 'completed').reduce((n, s) => n + s.count, 0);
    const waitUntil = async (check: () => Promise<boolean>, ms: number) => {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        if (await check().catch(() => false)) return true;
        await sleep(100);
      }
      return false;
    };
    if (fault.recovery === 'victim') {
      // the victim holds work when the fault lands
      await waitUntil(async () => (await tm.getTasks({ status: 'running', worker_id: run.victim!.worker_id })).length > 0, 30_000);
    } else {
      await waitUntil(async () => (await completed()) >= TASKS / 3, 60_000);
    }
    const doneBefore = await completed();
    let at = await fault.inject(run);
    let recoverMs: number | null = null;
    if (fault.recovery === 'flow') {
      await waitUntil(async () => (await completed()) > doneBefore, DEADLINE_MS);
      recoverMs = Date.now() - at;
    }
    await waitUntil(async () => (await tm.getTaskStatsByTag()).every((s) => s.status === 'completed' || s.status === 'permanently_failed'), DEADLINE_MS);

    const tasks = await tm.getTasks();
    const byId = new Map(tasks.map((t) => [t.id, t]));
    const runs = new Map<number, number>();
    for (let i = 0; i < workers.length; i++) for (const id of lines(join(dir, `w${i}.log`)).map(Number)) runs.set(id, (runs.get(id) ?? 0) + 1);
    const lost = ids.filter((id) => !byId.has(id) || byId.get(id)!.status === 'permanently_failed').length;
    const stuck = tasks.filter((t) => t.status !== 'completed' && t.status !== 'permanently_failed').length;
    const duplicates = [...runs.values()].filter((n) => n > 1).length;
    const healthy = new Set(workers.filter((w) => w !== run.victim || fault.recovery === 'flow').map((w) => w.worker_id));
    if (fault.recovery === 'none') healthy.add(run.victim!.worker_id); // a skewed worker is healthy: it heartbeats
    const recoveredFrom = new Set<string>();
    let lastVictimRecovery = 0;
    let firstVictimAttempt = Number.POSITIVE_INFINITY;
    for (const task of tasks.filter((t) => t.attempt > 1)) {
      for (const attempt of await tm.getTaskAttempts(task.id)) {
        if (attempt.worker_id === run.victim!.worker_id) firstVictimAttempt = Math.min(firstVictimAttempt, attempt.started_at);
      }
      for (const event of await tm.getTaskEvents(task.id)) {
        if (event.event_type !== 'task_recovered') continue;
        const from = String(event.metadata?.recovered_from_worker_id);
        recoveredFrom.add(from);
        if (from === run.victim!.worker_id) lastVictimRecovery = Math.max(lastVictimRecovery, event.event_time);
      }
    }
    const reapedRows = await Promise.all([...healthy].map(async (id) => (await tm.getWorker(id))?.status));
    const healthyReaped = [...healthy].filter((id, i) => recoveredFrom.has(id) || reapedRows[i] !== 'active').length;
    // times on the database's clock, which this host shares
    if (Number.isNaN(at)) at = firstVictimAttempt;
    if (fault.recovery === 'victim') recoverMs = lastVictimRecovery > 0 && Number.isFinite(at) ? lastVictimRecovery - at : null;
    return { fault: fault.name, store: backend.name, tasks: ids.length, duplicates, lost, stuck, healthyReaped, recoverMs, seconds: (Date.now() - started) / 1000 };
  } finally {
    for (const w of workers) {
      w.child.kill('SIGCONT');
      w.child.kill('SIGKILL');
    }
    await tm.stop().catch(() => undefined);
    if (typeof db.dbConnection !== 'string') await (db.dbConnection as Store).close().catch(() => undefined);
    await db.cleanup().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

function table(rows: Row[]): string {
  const head = '| fault | store | tasks | duplicates | lost | stuck | healthy reaped | time to recover |';
  const out = [head, '|---|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    const recover = r.recoverMs === null ? 'n/a' : `${(r.recoverMs / 1000).toFixed(2)} s`;
    out.push(`| ${r.fault} | ${r.store} | ${r.tasks} | ${r.duplicates} | ${r.lost} | ${r.stuck} | ${r.healthyReaped} | ${recover} |`);
  }
  return out.join('\n');
}

const storeFilter = process.env.FAULTS_STORES?.split(',').map((s) => s.trim());
const only = process.env.FAULTS_ONLY?.toLowerCase();
const skip = process.env.FAULTS_SKIP?.toLowerCase();
const backends = sharedBackends().filter((b) => !storeFilter || storeFilter.includes(b.name));
const rows: Row[] = [];
const chosen = FAULTS.filter((f) => (!only || f.name.toLowerCase().includes(only)) && (!skip || !f.name.toLowerCase().includes(skip)));
for (const fault of chosen) {
  for (const backend of backends) {
    if (fault.serverOnly && backend.name.startsWith('sqlite')) continue;
    const reason = await backend.unavailable();
    if (reason) throw new Error(reason);
    const row = await runOne(fault, backend);
    rows.push(row);
    console.log(`${row.fault} on ${row.store}: ${row.tasks} tasks, ${row.duplicates} duplicates, ${row.lost} lost, ${row.stuck} stuck, ${row.healthyReaped} healthy reaped, recovered ${row.recoverMs ?? 'n/a'} ms (${row.seconds.toFixed(1)} s)`);
  }
}
console.log(`\nFault matrix, ${new Date().toISOString()}: lease ${LEASE} ms, heartbeat ${HEARTBEAT} ms, 3 worker processes, ${WORK_MS} ms tasks\n`);
console.log(table(rows));
const bad = rows.filter((r) => r.lost > 0 || r.stuck > 0 || r.healthyReaped > 0);
if (bad.length > 0) {
  console.error(`\n${bad.length} run(s) lost, stuck or reaped a healthy worker`);
  process.exit(1);
}
process.exit(0);
