/*
 * A worker process of the bench, forked by worker-process.ts. It loads everything, says `ready`,
 * starts the system's worker on `go` (so that two processes start together and start-up cost is
 * not timed), reports its handler count every 100 ms, and on `stop` stops the worker gracefully
 * and sends back what it saw: the payload numbers it ran (exactly-once checks), enqueue→start
 * latencies, timestamps, RSS samples and statement counts.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { loadConfig } from './config.js';
import { systemNamed } from './systems/index.js';
import { statementCounter, type FlowOptions, type Payload, type Place } from './systems/types.js';

/** What the parent tells a worker process. */
export interface ChildArgs {
  system: string;
  place: Place;
  concurrency: number;
  /**
   * Record when the handler count reaches this, and stop the worker right there (W5): a message
   * from the parent may not arrive in time, because a taskmill worker on SQLite keeps its event
   * loop busy while tasks are due (its store is synchronous, so the claim loop never yields to
   * timers or I/O) and would drain the whole table first.
   */
  markAt?: number;
  /** Sample RSS every this many handler runs (W6); counted in the handler for the same reason. */
  rssEveryTasks?: number;
  /** Count SQL statements (W2 idle cost, W7, WRL). */
  countStatements?: boolean;
  /** The handler's flow-control options (WRL, WK; taskmill only). */
  flow?: FlowOptions;
}

/** One RSS sample. */
export interface RssSample {
  at: number;
  count: number;
  rss: number;
  heapUsed: number;
}

/** What a worker process reports when stopped. */
export interface ChildResult {
  type: 'result';
  count: number;
  ids: number[];
  latencies: number[];
  startAt: number;
  firstAt: number;
  lastAt: number;
  markedAt: number;
  rss: RssSample[];
  statements: number;
}

const args = JSON.parse(process.argv[2]) as ChildArgs;
const system = systemNamed(args.system, loadConfig());

const ids: number[] = [];
const latencies: number[] = [];
let count = 0;
let firstAt = 0;
let lastAt = 0;
let markedAt = 0;
const rss: RssSample[] = [];
const sample = () => {
  const m = process.memoryUsage();
  rss.push({ at: Date.now(), count, rss: m.rss, heapUsed: m.heapUsed });
};

function onJob(payload: Payload): void {
  const now = Date.now();
  if (count === 0) firstAt = now;
  count++;
  lastAt = now;
  if (typeof payload?.i === 'number') ids.push(payload.i);
  if (typeof payload?.t === 'number') latencies.push(now - payload.t);
  if (args.rssEveryTasks && count % args.rssEveryTasks === 0) sample();
  if (count === args.markAt) {
    markedAt = now;
    stopping ??= worker?.stop();
  }
}

let worker: { stop(): Promise<void> } | undefined;
let stopping: Promise<void> | undefined;
let startAt = 0;
let timers: NodeJS.Timeout[] = [];
/** With BENCH_CPU_PROF_DIR: a V8 CPU profile from `go` to `stop`, written there (see profile-summary.ts). */
const profileDir = process.env.BENCH_CPU_PROF_DIR;
let profiler: Session | undefined;

process.on('message', async (msg: { type: string }) => {
  try {
    if (msg.type === 'go') {
      if (args.rssEveryTasks) sample();
      if (profileDir) {
        profiler = new Session();
        profiler.connect();
        await profiler.post('Profiler.enable');
        await profiler.post('Profiler.start');
      }
      startAt = Date.now();
      worker = await system.worker(args.place, { concurrency: args.concurrency, onJob, countStatements: args.countStatements, flow: args.flow });
      timers.push(setInterval(() => process.send?.({ type: 'progress', count, statements: statementCounter.count }), 100));
      process.send?.({ type: 'started', at: Date.now() });
    } else if (msg.type === 'stop') {
      for (const t of timers) clearInterval(t);
      timers = [];
      await (stopping ??= worker?.stop());
      if (profiler && profileDir) {
        const { profile } = await profiler.post('Profiler.stop');
        writeFileSync(join(profileDir, `${args.system}-${process.pid}-${count}.cpuprofile`), JSON.stringify(profile));
      }
      if (args.rssEveryTasks) sample();
      const result: ChildResult = {
        type: 'result',
        count,
        ids,
        latencies,
        startAt,
        firstAt,
        lastAt,
        markedAt,
        rss,
        statements: statementCounter.count,
      };
      process.send?.(result, () => process.exit(0));
    }
  } catch (error) {
    console.error(`[${args.system} worker]`, error);
    process.exit(2);
  }
});
process.send?.({ type: 'ready' });
