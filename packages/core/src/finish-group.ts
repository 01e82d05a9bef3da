import { StoreUnavailableError, type Fence, type FinishItem, type FinishOutcome, type FinishResult, type Store } from '@taskmill/contracts';
import type { Clock } from './db-clock.js';
import { withinDeadline } from './bounded-waits.js';

/** Outcomes written in one transaction at most. */
export const MAX_FINISH_GROUP = 100;

interface Waiting extends FinishItem {
  resolve(result: FinishResult): void;
  reject(error: unknown): void;
}

/**
 * Group commit of attempt outcomes: outcomes that arrive while a group is being written, or in
 * the same turn of the event loop, are written together in the next group (at the next turn, or
 * with the claim loop's next claim, see {@link FinishGroups.flush}), one transaction
 * (`store.finishAttempts`), so a worker pays one commit for many finished attempts instead of one
 * each. Nothing waits for a group to fill: a lone outcome is written at the next turn.
 *
 * Each outcome's promise settles with its own result once its group has committed; an outcome is
 * reported written only after its commit, so grouping never loses a committed event, and a crash
 * loses at most the group not yet committed (whose tasks are recovered as any unfinished attempt).
 * When a group fails with anything but an unreachable store, one outcome may be at fault (a bug,
 * a row a constraint refuses): each is then written alone, so the others still land.
 */
export class FinishGroups {
  private queue: Waiting[] = [];
  private writing = false;
  /** The next turn's write, when one is scheduled. */
  private scheduled: NodeJS.Immediate | undefined;

  constructor(
    private readonly store: Store,
    /** How long one store call may take before it is taken for stranded. */
    private readonly bound: () => number,
    /** The database's clock (see db-clock.ts). */
    private readonly clock: Clock,
  ) {}

  /** Write one attempt's outcome with the next group; resolves with its result after the commit. */
  finish(fence: Fence, outcome: FinishOutcome): Promise<FinishResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ fence, outcome, resolve, reject });
      this.schedule();
    });
  }

  /**
   * Write the outcomes waiting for the next turn now, if no group is being written. The claim loop
   * calls this right before it claims: the group and the claim are then called together, and a
   * store that runs writes called together in one transaction (SQLite) commits them once.
   */
  flush(): void {
    if (this.writing || this.queue.length === 0) return;
    // the scheduled turn is taken over: left in place it would write the next outcomes alone,
    // ahead of the claim that could have taken them along
    clearImmediate(this.scheduled);
    this.scheduled = undefined;
    void this.drain();
  }

  private schedule(): void {
    if (this.writing || this.scheduled) return;
    // one turn of the event loop: outcomes of handlers that return together share the group
    this.scheduled = setImmediate(() => {
      this.scheduled = undefined;
      if (!this.writing && this.queue.length > 0) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      await this.write(this.queue.splice(0, MAX_FINISH_GROUP));
    } finally {
      this.writing = false;
    }
    // outcomes that arrived meanwhile go with the next turn, or with the next claim if it comes
    // first (flush): written at once, they would commit alone just before that claim
    if (this.queue.length > 0) this.schedule();
  }

  private async write(group: Waiting[]): Promise<void> {
    if (group.length === 1 || typeof this.store.finishAttempts !== 'function') {
      for (const waiting of group) await this.writeAlone(waiting);
      return;
    }
    try {
      const items = group.map(({ fence, outcome }) => ({ fence, outcome }));
      const results = await withinDeadline(this.store.finishAttempts(items, this.clock.now()), this.bound(), 'finishAttempts');
      group.forEach((waiting, i) => waiting.resolve(results[i]));
    } catch (error) {
      if (error instanceof StoreUnavailableError) {
        for (const waiting of group) waiting.reject(error);
        return;
      }
      for (const waiting of group) await this.writeAlone(waiting);
    }
  }

  private async writeAlone(waiting: Waiting): Promise<void> {
    try {
      waiting.resolve(await withinDeadline(this.store.finishAttempt(waiting.fence, waiting.outcome, this.clock.now()), this.bound(), 'finishAttempt'));
    } catch (error) {
      waiting.reject(error);
    }
  }
}
