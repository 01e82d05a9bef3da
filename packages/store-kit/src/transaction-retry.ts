/*
 * When a store reruns a transaction the database rolled back for a conflict: a deadlock, a
 * serialization failure, a lock wait that timed out, a busy SQLite file
 * (docs/store-authors.md#the-driver-interfaces, `write`). A rolled-back transaction changed
 * nothing, so running it again from the start is safe; the rerun is bounded so that a conflict
 * that keeps recurring surfaces as an error instead of a hang. Which errors are conflicts is each
 * store's to say (its errors.ts); how often and how long to wait is said here, once.
 */

/** How often, and after which pauses, a transaction rolled back for a conflict runs again. */
export interface TransactionRetryPolicy {
  /** Reruns after the first run, at most. */
  retries: number;
  /** When given, no rerun starts once this many ms have passed since the first run began. */
  budgetMs?: number;
  /** Pause before the first rerun (ms, before jitter); each further rerun doubles it. */
  firstPauseMs: number;
  /** Longest pause (ms, before jitter). */
  maxPauseMs: number;
}

/**
 * The policy of the server stores' transactions: 5 reruns, pauses doubling from 10 ms up to
 * 200 ms. Contention on claims clears within a few milliseconds; two transactions that deadlocked
 * each other are apart again after one short, jittered pause.
 */
export const TRANSACTION_RETRY: Readonly<TransactionRetryPolicy> = { retries: 5, firstPauseMs: 10, maxPauseMs: 200 };

/**
 * The pause (ms) before rerun number `rerun` (1 for the first) of a transaction whose first run
 * began at `startedAt`, or null when the policy allows no such rerun. The pause doubles from
 * `firstPauseMs` up to `maxPauseMs` and is multiplied by a jitter between 0.5 and 1.5, so that
 * the transactions that collided do not run again in step.
 */
export function transactionRetryPause(
  policy: Readonly<TransactionRetryPolicy>,
  rerun: number,
  startedAt: number,
  now: number = Date.now(),
  random: () => number = Math.random,
): number | null {
  if (rerun > policy.retries) return null;
  if (policy.budgetMs !== undefined && now >= startedAt + policy.budgetMs) return null;
  return Math.min(policy.firstPauseMs * 2 ** (rerun - 1), policy.maxPauseMs) * (0.5 + random());
}

/**
 * Run `once`, and run it again after {@link transactionRetryPause} while it throws an error that
 * `isConflict` accepts and the policy allows a rerun. The last error is thrown as it is: the
 * store maps it.
 */
export async function retryTransaction<T>(
  policy: Readonly<TransactionRetryPolicy>,
  isConflict: (error: unknown) => boolean,
  once: () => Promise<T>,
): Promise<T> {
  const startedAt = Date.now();
  for (let rerun = 1; ; rerun++) {
    try {
      return await once();
    } catch (error) {
      const pause = isConflict(error) ? transactionRetryPause(policy, rerun, startedAt) : null;
      if (pause === null) throw error;
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}
