import type { Store } from '@taskmill/contracts';
import { ClaimLoop } from './claim-loop.js';
import type { DbClock } from './db-clock.js';
import type { HandlerRegistry } from './handler-registry.js';
import type { ResolvedOptions } from './manager-options.js';
import type { Telemetry } from './telemetry.js';
import type { WakeSignal } from './wake-signal.js';
import { TimedWaits } from './timed-waits.js';
import { WorkerLease } from './worker-lease.js';

/** What a running manager's engine is made of, besides the store. */
export interface EngineParts {
  registry: HandlerRegistry;
  options: ResolvedOptions;
  wake: WakeSignal;
  telemetry: Telemetry;
  clock: DbClock;
}

/**
 * The working half of a started TaskManager: the claim loop, this worker's lease with its
 * maintenance, the store's cross-process wake-ups and telemetry's gauges, started and stopped in
 * the one order that is safe (register and recover before claiming; stop claiming, then settle
 * the attempts, then give up the lease).
 */
export class Engine {
  private constructor(
    readonly loop: ClaimLoop,
    readonly lease: WorkerLease,
    private readonly unlisten: (() => Promise<void>) | undefined,
    private readonly unobserve: () => void,
    private readonly options: ResolvedOptions,
    private readonly registry: HandlerRegistry,
    private readonly waits: TimedWaits,
  ) {}

  /** Register this worker (superseding and recovering as needed) and subscribe to wake-ups; nothing runs yet. */
  static async prepare(store: Store, parts: EngineParts): Promise<Engine> {
    const { registry, options, wake, telemetry, clock } = parts;
    const waits = new TimedWaits(store, clock, wake, options.onError);
    const loop = new ClaimLoop(store, registry, options, wake, telemetry, clock, waits);
    const lease = new WorkerLease(store, options, loop, wake, clock, waits);
    await lease.register();
    const unlisten = store.capabilities.notify && store.listen ? await store.listen(() => wake.wake()) : undefined;
    return new Engine(loop, lease, unlisten, telemetry.observe(store), options, registry, waits);
  }

  /** Start the lease timers and the claim loop; it claims while `mayClaim()` holds and this worker is not fenced. */
  run(mayClaim: () => boolean): void {
    this.lease.startTimers();
    // learn at once when the earliest timed wait ends (written by any process, before this one started)
    this.waits.sweepInBackground();
    this.loop.start(
      () => mayClaim() && !this.lease.fenced,
      () => !this.lease.fenced,
    );
  }

  /** Stop claiming, settle or hand back the attempts (`shutdown_timeout`), give up the lease, unsubscribe. */
  async stop(): Promise<void> {
    this.unobserve();
    await this.loop.stop(this.options.shutdown_timeout);
    await this.registry.closeIsolates();
    await this.waits.stop(this.options.shutdown_timeout);
    await this.lease.stop();
    await this.unlisten?.().catch((error) => this.options.onError(error, 'unlisten'));
  }
}
