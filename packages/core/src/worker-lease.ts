import { hostname } from 'node:os';
import { DEFAULT_SESSION_LIMITS, SWEEP_ERRORS, TaskTimeoutError, type Store } from '@taskmill/contracts';
import { RetentionSweeper } from '@taskmill/retention';
import type { ClaimLoop } from './claim-loop.js';
import type { DbClock } from './db-clock.js';
import type { ResolvedOptions } from './manager-options.js';
import { settlesWithin } from './bounded-waits.js';
import type { TimedWaits } from './timed-waits.js';
import type { WakeSignal } from './wake-signal.js';

const SWEEP_BATCH = 100;
/** A maintenance tick is taken for stuck only after this long, whatever the lease. */
export const STUCK_TICK_FLOOR_MS = 10_000;

/**
 * This worker's lease in the registry and the maintenance every worker runs (docs/behaviour.md#maintenance,
 * #worker-registry): register (superseding older workers of the pod, reaping expired ones and recovering their
 * tasks), heartbeat the lease and the running tasks, sweep timed-out tasks, fence this worker
 * while a newer one of its pod is alive, and sweep expired tasks (docs/behaviour.md#retention). Retention sweeps have
 * a timer of their own: a sweep may take its whole time slice, and task heartbeats must not wait
 * behind it.
 */
export class WorkerLease {
  /** Superseded by a live worker of the same pod: do not claim. */
  fenced = false;
  private timers: NodeJS.Timeout[] = [];
  /** Ticks under way: the store must not close under them. */
  private readonly ticks = new Set<Promise<void>>();
  /** What this worker says about itself in its registry row, besides handlers that outlived their attempt. */
  private meta: Record<string, unknown> = {};
  /** Set when a lease heartbeat failed: this worker could not reach the database. */
  private cutOff = false;
  /**
   * No reaping before this time (`performance.now()`). After this worker was cut off from the
   * database, its peers probably were too (a server restart, a network partition): their leases
   * ran out while none of them could renew. It gives them one whole lease to renew before it takes
   * an expired lease for a dead worker, or it would reap live workers and run their tasks twice.
   */
  private reapAfter = 0;
  /**
   * Workers this one reaped or superseded, and until when (`performance.now()`) their running tasks
   * are looked for again at each lease renewal. Recovery takes a worker's tasks with SKIP LOCKED, so
   * a task row that a frozen transaction of that worker still locks is passed over; the server ends
   * that session after its idle limit (docs/failure-model.md), and a later renewal recovers the task.
   */
  private readonly recovering = new Map<string, number>();
  /** Automatic retention; absent when retention is off. */
  private readonly retention: RetentionSweeper | undefined;

  constructor(
    private readonly store: Store,
    private readonly options: ResolvedOptions,
    private readonly attempts: ClaimLoop,
    private readonly wake: WakeSignal,
    /** The database's clock: every time this lease writes is on it (see db-clock.ts). */
    private readonly clock: DbClock,
    /** Timed waits, swept with the maintenance (docs/behaviour.md#durable-sleep). */
    private readonly waits?: TimedWaits,
  ) {
    this.retention =
      options.retention.length > 0
        ? new RetentionSweeper(store, options.retention, {
            interval_ms: options.retention_interval,
            time_budget_ms: options.retention_time_budget,
            pause_ms: options.retention_pause,
            onError: options.onError,
            // tasks' times are on the database's clock: a process whose clock runs ahead must not delete early
            now: () => clock.now(),
          })
        : undefined;
  }

  /** When the next automatic retention sweep is due (ms since the epoch), or null. */
  get nextRetentionSweepAt(): number | null {
    return this.retention?.nextSweepAt ?? null;
  }

  /** A manual retention run just drained what was due: the next sweep can wait a full interval. */
  retentionRan(): void {
    this.retention?.postpone();
  }

  /** Register this worker, supersede older workers of its pod, reap expired ones and recover their tasks. */
  async register(): Promise<void> {
    const now = this.clock.now();
    await this.insert(now, { started_at: now });
    const superseded = this.options.pod_id ? await this.store.supersedeWorkers(this.options.pod_id, this.options.worker_id, now) : [];
    const reaped = await this.store.reapExpiredWorkers(now, SWEEP_BATCH);
    await this.recover([...superseded, ...reaped], now);
  }

  /** Start the maintenance and lease timers; they go on while `stop()` drains, or peers would recover live tasks. */
  startTimers(): void {
    this.every(this.options.task_heartbeat_interval, () => this.maintain());
    this.every(this.options.worker_heartbeat_interval, () => this.renew());
    this.retention?.start();
  }

  /**
   * Stop the timers, let a tick under way finish, and mark this worker dead. Each wait is bounded by
   * `shutdown_timeout`: a store call that never settles (a driver stranding a query on a connection
   * the server killed) must not hang `stop()`; the lease then simply expires.
   */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const bound = this.options.shutdown_timeout;
    await this.retention?.stop();
    if (!(await settlesWithin(Promise.all(this.ticks), bound))) {
      this.options.onError(new Error(`A maintenance tick had not finished ${bound} ms into stop(); stopping without it`), 'maintenance');
    }
    const dead = this.store.markWorkerDead(this.options.worker_id, this.clock.now()).catch((error) => this.options.onError(error, 'markWorkerDead'));
    if (!(await settlesWithin(dead, bound))) {
      this.options.onError(new Error(`markWorkerDead had not finished after ${bound} ms; the lease will expire instead`), 'markWorkerDead');
    }
  }

  /**
   * Run `fn` every `ms`, one tick at a time. A tick still running after a whole lease
   * (`worker_heartbeat_timeout`, and at least 10 s, so that an ordinary lock wait is not mistaken
   * for it) is reported once and no longer waited for: its store call has not settled and may
   * never, and a worker that stopped heartbeating over it would lose its lease for good (reaped by
   * peers, never re-registering). Its late end is harmless: every change a tick makes is a guarded
   * compare-and-set (docs/behaviour.md#maintenance).
   */
  private every(ms: number, fn: () => Promise<void>): void {
    let current: { started: number; reported: boolean } | undefined;
    const stuckAfter = Math.max(this.options.worker_heartbeat_timeout, 2 * ms, STUCK_TICK_FLOOR_MS);
    const timer = setInterval(() => {
      if (current) {
        const age = Date.now() - current.started;
        if (age < stuckAfter) return;
        if (!current.reported) {
          current.reported = true;
          this.options.onError(new Error(`A maintenance tick has not finished after ${age} ms (a store call has not settled); starting the next one`), 'maintenance');
        }
      }
      const mine = { started: Date.now(), reported: false };
      current = mine;
      const tick: Promise<void> = fn()
        .catch((error) => this.options.onError(error, 'maintenance'))
        .finally(() => {
          if (current === mine) current = undefined;
          this.ticks.delete(tick);
        });
      this.ticks.add(tick);
    }, ms);
    timer.unref?.();
    this.timers.push(timer);
  }

  /** Task heartbeats, the timeout sweep (docs/behaviour.md#maintenance, #timeouts), and reports of handlers that outlived their attempt. */
  private async maintain(): Promise<void> {
    const now = this.clock.now();
    this.attempts.reportOverdue(Date.now()); // handlers' ends are on the local clock
    const fences = this.attempts.fences();
    if (fences.length > 0) {
      const lost = await this.store.heartbeatTasks(fences, now);
      for (const id of lost) this.attempts.abandon(id, new Error(`Task ${id} is no longer owned by this worker`));
    }
    const timedOut = await this.store.sweepTimedOutTasks({ now, heartbeat_timeout_ms: this.options.task_heartbeat_timeout, limit: SWEEP_BATCH });
    for (const t of timedOut) {
      if (t.worker_id !== this.options.worker_id) continue;
      this.attempts.abandon(t.task_id, new TaskTimeoutError(t.timeout_type === 'total' ? SWEEP_ERRORS.total : SWEEP_ERRORS.heartbeat), t.attempt);
    }
    if (timedOut.length > 0) this.wake.wake();
    await this.waits?.sweep();
  }

  /** Lease heartbeat (with the handlers that outlived their attempt), reaping, recovery, supersede fencing (docs/behaviour.md#worker-registry). */
  private async renew(): Promise<void> {
    // each lease heartbeat measures the clock's offset again first, so a clock that jumps or
    // drifts is corrected before the lease, the reap and the recovery below are judged by it
    // (an unreachable database fails the heartbeat below too, which reports it)
    await this.clock.sync(this.store).catch(() => {});
    const now = this.clock.now();
    const { worker_id: workerId, worker_heartbeat_timeout: ttl, pod_id: podId } = this.options;
    let me: Awaited<ReturnType<Store['heartbeatWorker']>>;
    try {
      me = await this.store.heartbeatWorker(workerId, now, ttl, this.currentMeta());
    } catch (error) {
      this.cutOff = true;
      throw error;
    }
    if (this.cutOff) {
      this.cutOff = false;
      this.reapAfter = performance.now() + ttl;
    }
    const reaped = performance.now() < this.reapAfter ? [] : await this.store.reapExpiredWorkers(now, SWEEP_BATCH);
    await this.recover(reaped, now);
    await this.recoverPassedOver(reaped, now);
    if (me?.status === 'active' && !reaped.includes(workerId)) {
      this.fenced = false;
      return;
    }
    const peers = podId ? await this.store.listWorkers({ pod_id: podId, status: 'active' }) : [];
    this.fenced = peers.some((w) => w.worker_id !== workerId);
    if (!this.fenced) {
      await this.insert(now, { started_at: this.meta.started_at, recovered_at: now });
      this.wake.wake();
    }
  }

  private currentMeta(): Record<string, unknown> {
    const overdue = this.attempts.overdue();
    const limits = this.attempts.flowLimits();
    if (overdue.length === 0 && limits === undefined) return this.meta;
    return { ...this.meta, ...(overdue.length > 0 ? { overdue_handlers: overdue } : {}), ...(limits ? { flow_limits: limits } : {}) };
  }

  /** Insert or replace this worker's registry row with a fresh lease. */
  private async insert(now: number, meta: Record<string, unknown>): Promise<void> {
    this.meta = { pid: process.pid, ...meta };
    await this.store.registerWorker({
      worker_id: this.options.worker_id,
      pod_id: this.options.pod_id,
      host: hostname(),
      pid: process.pid,
      meta: this.currentMeta(),
      now,
      ttl_ms: this.options.worker_heartbeat_timeout,
    });
  }

  /**
   * Look again for the running tasks of workers reaped or superseded in the last few leases (not
   * those just recovered): long enough for the server to have ended a frozen session's
   * transaction (its idle limit is at most 10 s by default, and at most the lease for a store the
   * manager opened), one indexed read per renewal while any is listed.
   */
  private async recoverPassedOver(justRecovered: readonly string[], now: number): Promise<void> {
    const at = performance.now();
    const again: string[] = [];
    for (const [id, until] of this.recovering) {
      if (until < at) this.recovering.delete(id);
      else if (!justRecovered.includes(id)) again.push(id);
    }
    if (again.length === 0) return;
    // a worker that came back (it woke, found itself reaped and registered again) owns what it
    // runs now: it is no longer looked after
    const revived = (await this.store.listWorkers({ status: 'active' })).filter((w) => this.recovering.has(w.worker_id));
    for (const w of revived) this.recovering.delete(w.worker_id);
    await this.recover(again.filter((id) => this.recovering.has(id)), now, false);
  }

  private async recover(workerIds: string[], now: number, remember = true): Promise<void> {
    if (!this.options.recover_running_jobs || workerIds.length === 0) return;
    if (remember) {
      const until = performance.now() + 3 * this.options.worker_heartbeat_timeout + DEFAULT_SESSION_LIMITS.idle_transaction_timeout_ms;
      for (const id of workerIds) if (id !== this.options.worker_id) this.recovering.set(id, until);
    }
    for (;;) {
      const recovered = await this.store.recoverWorkerTasks({
        worker_ids: workerIds,
        by_worker_id: this.options.worker_id,
        by_pod_id: this.options.pod_id,
        now,
        limit: SWEEP_BATCH,
      });
      for (const r of recovered) {
        if (r.worker_id === this.options.worker_id) this.attempts.abandon(r.task_id, new Error(`Task ${r.task_id} was recovered`), r.attempt);
      }
      if (recovered.length > 0) this.wake.wake();
      if (recovered.length < SWEEP_BATCH) return;
    }
  }
}

