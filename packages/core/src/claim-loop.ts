import { StoreUnavailableError, SWEEP_ERRORS, TaskTimeoutError, type Fence, type FinishOutcome, type Store, type Task, type TaskId } from '@taskmill/contracts';
import type { HandlerDefinition, HandlerRegistry } from './handler-registry.js';
import type { ResolvedOptions } from './manager-options.js';
import { FinishGroups } from './finish-group.js';
import { failureOutcome, outcomeOf } from './outcome.js';
import { SubTasks } from './suspension.js';
import { buildTaskContext, type AttemptState } from './task-context.js';
import type { Clock } from './db-clock.js';
import type { NextFn, UntypedTaskMap } from './types.js';
import { settlesWithin, withinDeadline } from './bounded-waits.js';
import type { AttemptTelemetry, Telemetry } from './telemetry.js';
import type { TimedWaits } from './timed-waits.js';
import type { WakeSignal } from './wake-signal.js';

/** Largest delay setTimeout honours. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A handler still running this long after its attempt ended is reported as overdue. */
export const OVERDUE_GRACE_MS = 1000;

/**
 * An attempt this process holds, from its claim until its handler really returns (or, for one
 * that never started, until its attempt ends). It takes a handler slot once its handler starts.
 */
interface Flight {
  readonly task: Task;
  readonly def: HandlerDefinition;
  readonly state: AttemptState;
  /** The attempt's span and metrics. */
  readonly telemetry: AttemptTelemetry;
  timer: NodeJS.Timeout | undefined;
  /** The handler was started; until then the flight waits in the prefetch queue. */
  started: boolean;
  /** The handler has returned (or thrown). */
  returned: boolean;
  /** When the attempt ended (outcome written or given up); later results of the handler are discarded. */
  endedAt: number | undefined;
  /** Why the attempt ended before the handler returned. */
  endReason: string;
  /** Reported once via onError as outliving its attempt. */
  reported: boolean;
}

/** A handler that outlived its attempt, as listed in the worker's registry row. */
export interface OverdueHandler {
  task_id: TaskId;
  attempt: number;
  /** When its attempt ended (ms). */
  since: number;
}

/**
 * The claim loop and attempt runner: claims as many due tasks as there are free slots (globally
 * and per type), runs their handlers with `task.signal`, arms each attempt's timeout, and writes
 * each attempt's outcome exactly once (docs/behaviour.md#claiming, #timeouts, #concurrency, #handlers).
 *
 * A slot is counted until the handler returns, even after its attempt ended (timed out, paused,
 * cancelled, recovered, interrupted at stop): a handler that ignores its signal still bounds what
 * the process runs, and is reported (see {@link reportOverdue}). A handler that returned frees its
 * slot as soon as its outcome is queued for the next group commit (finish-group.ts), so the next
 * claim runs while that group commits instead of after it; claiming pauses while
 * 2 × (`max_concurrent_tasks` + `prefetch_tasks`) outcomes wait to be written, which bounds the
 * attempts a worker holds at three times that sum. The bound scales with what one claim may take:
 * with a prefetch queue a claim's tasks finish as one group larger than the concurrency, and a
 * bound of 2 × the concurrency alone stopped the next claim until that group had committed, so
 * claims and group commits took turns instead of overlapping.
 *
 * With `prefetch_tasks` = N > 0 a claim may also take up to N tasks more than there are free
 * slots; they wait in a local FIFO queue, already attempts (fenced, heartbeated, timing out from
 * the claim, counted by per-type and cluster limits — in the database they are `running`), and
 * start in claim order as slots free. Only started handlers take a slot. With N = 0 the queue
 * stays empty and every claimed task starts at once, as before.
 */
export class ClaimLoop {
  /** Every flight held: started handlers and queued ones. */
  private readonly flights = new Set<Flight>();
  /** Claimed flights whose handler has not started, in claim order (a Set iterates in insertion order). */
  private readonly queue = new Set<Flight>();
  /** Outcome writes under way (a timeout's write may outlast its handler's slot). */
  private readonly writes = new Set<Promise<void>>();
  private running = false;
  /** Whether queued handlers may start (not while this worker is fenced). */
  private mayStart: () => boolean = () => true;
  private loop: Promise<void> | undefined;
  private readonly groups: FinishGroups;

  constructor(
    private readonly store: Store,
    private readonly registry: HandlerRegistry,
    private readonly options: ResolvedOptions,
    private readonly wake: WakeSignal,
    private readonly telemetry: Telemetry,
    private readonly clock: Clock,
    /** Timed waits this process writes are ended by it on time (docs/behaviour.md#durable-sleep). */
    private readonly waits?: TimedWaits,
  ) {
    this.groups = new FinishGroups(store, () => this.storeCallBound(), clock);
  }

  /**
   * Start claiming while `mayClaim()` holds (not paused, not fenced), and starting queued handlers
   * while `mayStart()` holds: a paused manager still starts what it holds (it is running in the
   * database), a fenced worker does not (its tasks are being recovered by the process that
   * superseded it; they start if the fence lifts, or drop out as lost at the next heartbeat).
   */
  start(mayClaim: () => boolean, mayStart: () => boolean = () => true): void {
    this.running = true;
    this.mayStart = mayStart;
    this.loop = this.run(mayClaim);
  }

  /**
   * Stop claiming; wait up to `shutdownMs` for running handlers and persist their outcomes; hand
   * back the attempts still running at the deadline (`interrupted`, `task_recovered` naming this
   * pod) and report handlers that have not returned.
   */
  async stop(shutdownMs: number): Promise<void> {
    this.running = false;
    this.wake.dispose();
    // prefetched tasks never started: hand them back now (no retry consumed) so another worker can
    // run them while this one drains, rather than at the deadline
    this.handBack();
    // a claim whose store call never settles must not hang stop(): give it the shutdown time
    if (this.loop && !(await settlesWithin(this.loop, shutdownMs))) {
      this.options.onError(new Error(`The claim under way had not finished ${shutdownMs} ms into stop(); stopping without it`), 'claim');
    }
    await this.settle(Date.now() + shutdownMs);
    const interrupted = this.interrupted();
    const abort = new Error('TaskManager stopped before the handler finished');
    await Promise.all(this.attempts().map((f) => this.finish(f, interrupted, abort, 'interrupted by stop()')));
    await this.settle(Date.now() + OVERDUE_GRACE_MS);
    this.reportOverdue(Date.now(), 0);
    // writes retry through an outage for up to ~35 s; only a write that never settles is given up on
    const writesMs = Math.max(shutdownMs, 60_000);
    if (!(await settlesWithin(Promise.all(this.writes), writesMs))) {
      this.options.onError(new Error(`Outcome writes had not finished ${writesMs} ms after the handlers; stopping without them`), 'finishAttempt');
    }
  }

  /** The outcome of an attempt stop() gives up on: back to `pending`, no retry consumed. */
  private interrupted(): FinishOutcome {
    return { kind: 'interrupted', reason: 'shutdown_timeout', by_pod_id: this.options.pod_id };
  }

  /** Write `interrupted` for every queued flight; their handlers never run. */
  private handBack(): void {
    for (const flight of [...this.queue]) void this.finish(flight, this.interrupted(), undefined, 'handed back by stop() before it started');
  }

  /** Wait until every handler has returned, or the deadline. */
  private async settle(deadline: number): Promise<void> {
    while (this.flights.size > 0 && Date.now() < deadline) await sleep(Math.min(10, deadline - Date.now()));
  }

  /** The cluster-wide limits of the registered types (for the worker's registry row), or undefined. */
  flowLimits(): ReturnType<HandlerRegistry['flowLimits']> {
    return this.registry.flowLimits();
  }

  /** Fences of the attempts under way, queued ones included (for task heartbeats). */
  fences(): Fence[] {
    return this.attempts().map((f) => f.state.fence);
  }

  /** Give up an attempt another party ended (paused, cancelled, timed out, recovered): abort its handler, or drop it from the queue. */
  abandon(taskId: TaskId, reason: Error, attempt?: number): void {
    const flight = this.attempts().find((f) => f.task.id === taskId && (attempt === undefined || f.state.fence.attempt === attempt));
    if (flight && this.end(flight, reason, reason.message)) flight.telemetry.abandoned(reason, flight.endedAt!);
  }

  /** Report, once each via onError, handlers still running `graceMs` after their attempt ended. */
  reportOverdue(now: number, graceMs = OVERDUE_GRACE_MS): void {
    for (const f of this.flights) {
      if (f.returned || f.reported || f.endedAt === undefined || now - f.endedAt < graceMs) continue;
      f.reported = true;
      const { id, name } = f.task;
      const seconds = ((now - f.endedAt) / 1000).toFixed(1);
      this.options.onError(
        new Error(
          `Handler of task ${id} (${name}) attempt ${f.state.fence.attempt} is still running ${seconds} s after its attempt ended ` +
            `(${f.endReason}); it ignores task.signal, and its slot stays taken until it returns`,
        ),
        'overdue handler',
      );
    }
  }

  /** Reported handlers that have not returned yet. */
  overdue(): OverdueHandler[] {
    return [...this.flights]
      .filter((f) => f.reported && !f.returned)
      .map((f) => ({ task_id: f.task.id, attempt: f.state.fence.attempt, since: f.endedAt! }));
  }

  private attempts(): Flight[] {
    return [...this.flights].filter((f) => f.endedAt === undefined);
  }

  private async run(mayClaim: () => boolean): Promise<void> {
    let failures = 0;
    while (this.running) {
      this.startQueued(); // after a fence lifted
      const limit = this.claimLimit();
      const { names, name_limits, cluster_limits, rate_limits, key_limits, defs } = this.registry.claimable();
      if (!mayClaim() || limit <= 0 || names.length === 0) {
        await this.wake.wait(this.options.poll_interval);
        // slots free in groups (one commit finishes many attempts): let the whole group's
        // releases land before claiming, so one claim refills them all
        if (limit <= 0) await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      let claimed: Task[];
      let retryAt: number | null;
      try {
        const now = this.clock.now();
        const request = { worker_id: this.options.worker_id, now, limit, names, name_limits, cluster_limits, rate_limits, key_limits };
        // the outcomes waiting for their group go first, called together with the claim (see FinishGroups.flush)
        this.groups.flush();
        ({ tasks: claimed, retry_at: retryAt } = await withinDeadline(this.store.claimBatch(request), this.storeCallBound(), 'claimTasks'));
        failures = 0;
      } catch (error) {
        failures++;
        this.options.onError(error, 'claim');
        await this.wake.wait(Math.min(this.options.poll_interval * 2 ** Math.min(failures, 6), 30_000));
        continue;
      }
      for (const task of claimed) this.queue.add(this.launch(task, defs.get(task.name)!));
      // a claim under way when stop() began starts what fits its free slots, as without prefetch,
      // and hands back the rest
      this.startQueued(true);
      if (!this.running) this.handBack();
      // a limit that held tasks back says when they may be taken (the end of a rate window, or at
      // once when a fair-share pass has keys left to visit): sleep until then, not a whole poll,
      // and not less (docs/behaviour.md#flow-control)
      if (claimed.length === 0) await this.wake.wait(retryAt === null ? this.options.poll_interval : Math.min(this.options.poll_interval, Math.max(0, retryAt - this.clock.now())));
      // With a synchronous driver (better-sqlite3) and synchronous handlers, claiming, running and
      // finishing settle as microtasks only: without a turn of the event loop per claim, timers
      // (heartbeats, attempt timeouts) and I/O wait until the whole queue is drained.
      else await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /**
   * How many tasks to claim now: the free slots plus the prefetch queue's room, or none while
   * 2 × (`max_concurrent_tasks` + `prefetch_tasks`) outcomes wait to be written. Without a free
   * slot the claim waits until the queue is down to half of `prefetch_tasks`: claiming the moment
   * one place frees would make many claims of one task each, and the point of prefetching is few
   * claims of many. Half still leaves queued work for the slots while the claim runs.
   */
  private claimLimit(): number {
    const { max_concurrent_tasks: max, prefetch_tasks: prefetch } = this.options;
    if (this.writes.size >= 2 * (max + prefetch)) return 0;
    const free = max - this.busy();
    const queued = this.queue.size;
    if (free <= 0 && queued >= prefetch / 2) return 0;
    return Math.max(0, free) + (prefetch - queued);
  }

  /** Handler slots taken: started handlers that have not returned. */
  private busy(): number {
    return this.flights.size - this.queue.size;
  }

  /**
   * Start queued handlers, oldest claim first, while slots are free. Once stop() began only the
   * claim that was under way may start its own tasks (`evenWhenStopping`); nothing queued before
   * stop() ever starts, it is handed back.
   */
  private startQueued(evenWhenStopping = false): void {
    if ((!this.running && !evenWhenStopping) || !this.mayStart()) return;
    const max = this.options.max_concurrent_tasks;
    for (const flight of this.queue) {
      if (this.busy() >= max) return;
      this.queue.delete(flight);
      flight.started = true;
      void this.execute(flight).finally(() => this.release(flight));
    }
  }

  /** Make a claimed task an attempt of this process: fence, telemetry, timeout and type count start at the claim. */
  private launch(task: Task, def: HandlerDefinition): Flight {
    const fence: Fence = { task_id: task.id, worker_id: this.options.worker_id, attempt: task.attempt };
    const state: AttemptState = { fence, startedAt: Date.now(), controller: new AbortController(), checkTimedOut: false, notes: new Set() };
    const telemetry = this.telemetry.attempt(task, state.startedAt);
    const flight: Flight = {
      task,
      def,
      state,
      telemetry,
      timer: undefined,
      started: false,
      returned: false,
      endedAt: undefined,
      endReason: '',
      reported: false,
    };
    this.flights.add(flight);
    this.registry.track(task.name, 1);
    const deadline = Date.now() + task.timeout * 1000;
    const arm = () => {
      // setTimeout fires at once for delays above 2^31-1 ms (~24.8 days): re-arm in steps instead
      flight.timer = setTimeout(() => {
        if (Date.now() < deadline) return arm();
        const outcome: FinishOutcome = { kind: 'failed', status: 'timeout', error: SWEEP_ERRORS.total, timeout_type: 'total' };
        void this.finish(flight, outcome, new TaskTimeoutError(SWEEP_ERRORS.total), 'timed out');
      }, Math.min(deadline - Date.now(), MAX_TIMER_MS));
    };
    arm();
    return flight;
  }

  private async execute(flight: Flight): Promise<void> {
    const { task, def, state } = flight;
    const next: NextFn<UntypedTaskMap> = (children, context) => new SubTasks(children, context);
    let outcome: FinishOutcome;
    try {
      const ctx = buildTaskContext(task, state, this.store, this.clock);
      const value = await flight.telemetry.run(() => (def.isolated ? def.isolated.run(ctx, state) : def.handler(ctx as never, next as never)));
      outcome = state.checkTimedOut ? failureOutcome(new TaskTimeoutError(), true) : outcomeOf(value, task, this.registry, this.clock.now());
    } catch (error) {
      outcome = failureOutcome(error, state.checkTimedOut);
    }
    flight.returned = true;
    if (flight.endedAt !== undefined) return; // the attempt ended meanwhile: the result is discarded
    await Promise.allSettled([...state.notes]);
    // queued for the next group commit; the slot is freed now (see the class comment)
    void this.finish(flight, outcome);
  }

  /**
   * End the attempt without writing (someone else wrote its end); a started handler keeps its slot
   * until it returns, a queued one is dropped from the queue and never starts.
   */
  private end(flight: Flight, abortReason: unknown, why: string): boolean {
    if (flight.endedAt !== undefined) return false;
    flight.endedAt = Date.now();
    flight.endReason = why;
    clearTimeout(flight.timer);
    if (!flight.started) {
      this.queue.delete(flight);
      this.release(flight);
      return true;
    }
    if (abortReason !== undefined) flight.state.controller.abort(abortReason);
    this.wake.wake();
    return true;
  }

  /**
   * Write an attempt's outcome once (the first of: handler result, local timeout, stop deadline),
   * retrying while the database is unreachable so a committed claim is never left dangling.
   */
  private async finish(flight: Flight, outcome: FinishOutcome, abortReason?: unknown, why = 'finished'): Promise<void> {
    if (!this.end(flight, abortReason, why)) return;
    const write = this.write(flight, outcome);
    this.writes.add(write);
    await write.finally(() => {
      this.writes.delete(write);
      this.wake.wake(); // claiming may have paused for outstanding writes
    });
  }

  private async write(flight: Flight, outcome: FinishOutcome): Promise<void> {
    const sent = flight.telemetry.outgoing(outcome);
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          const result = await this.groups.finish(flight.state.fence, sent);
          flight.telemetry.finished(sent, result, flight.endedAt ?? Date.now());
          if (!result.applied) {
            const { worker_id, attempt: n } = flight.state.fence;
            this.options.onError(new Error(`Discarded the outcome of task ${flight.task.id}: worker ${worker_id} no longer owns attempt ${n}`), 'fenced write');
          } else if (result.task && (result.task.status === 'failed' || result.task.status === 'timeout')) {
            this.wake.wakeAt(result.task.next_run_time);
          } else if (result.task?.status === 'suspended' && result.task.wake_at !== null) {
            this.waits?.at(result.task.wake_at);
          } else if (result.task?.status === 'pending' && (sent.kind === 'wait_signal' || sent.kind === 'sleep')) {
            this.wake.wake(); // a kept signal (or a sleep already due) ended the wait at once
          }
          return;
        } catch (error) {
          if (!(error instanceof StoreUnavailableError) || attempt >= 20) throw error;
          await sleep(Math.min(100 * 2 ** attempt, 2000));
        }
      }
    } catch (error) {
      flight.telemetry.writeFailed(sent, error);
      this.options.onError(error, 'finishAttempt');
    }
  }

  /**
   * How long a claim or an outcome write may take before it is taken for stranded and retried:
   * far beyond any lock wait (a claim abandoned while it still commits leaves its tasks unrun until
   * the heartbeat sweep times them out), yet bounded, so one stranded query cannot stop the loop.
   */
  private storeCallBound(): number {
    return Math.max(60_000, 2 * this.options.worker_heartbeat_timeout);
  }

  /** The handler returned (or a queued attempt ended): free the slot, start what waits for it. */
  private release(flight: Flight): void {
    this.flights.delete(flight);
    this.registry.track(flight.task.name, -1);
    this.startQueued();
    this.wake.wake();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
