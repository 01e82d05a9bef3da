import type postgres from '#postgres';
import type { StoreContext } from './context.js';
import { isRetryableTransactionError, toStoreError } from './errors.js';

/** Attempts of a transaction that keeps hitting serialization failures or deadlocks. */
const MAX_ATTEMPTS = 5;

/**
 * Run `fn` in one READ COMMITTED transaction. Serialization failures and deadlocks (40001,
 * 40P01) roll back and rerun the whole transaction a bounded number of times; every other
 * error is mapped by {@link toStoreError} (typed errors thrown by `fn` pass through unchanged).
 */
export async function inTransaction<T>(
  ctx: StoreContext,
  operation: string,
  fn: (tx: postgres.TransactionSql) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await ctx.sql.begin((tx) => fn(tx))) as T;
    } catch (error) {
      if (attempt < MAX_ATTEMPTS && isRetryableTransactionError(error)) {
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
        continue;
      }
      throw toStoreError(error, operation);
    }
  }
}

/** Run one statement (or a few independent ones) outside a transaction, mapping errors. */
export async function run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw toStoreError(error, operation);
  }
}
