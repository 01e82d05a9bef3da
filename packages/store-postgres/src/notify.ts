import type { Queryable, StoreContext } from './context.js';
import { toStoreError } from './errors.js';

/*
 * Cross-process wake-ups (SPEC A11). Every transaction that makes a task due now sends one
 * NOTIFY on the schema's channel; PostgreSQL delivers it only when that transaction commits,
 * so a woken worker always finds the task. Payloads are empty: a wake-up only says "claim now".
 */

/** Queue a wake-up in the current transaction (delivered at commit, deduplicated by PostgreSQL). */
export async function notifyDue(tx: Queryable, ctx: StoreContext): Promise<void> {
  await tx`SELECT pg_notify(${ctx.channel}, '')`;
}

/**
 * LISTEN on the schema's channel with a dedicated connection (postgres-js keeps it apart from
 * the pool and re-listens after a reconnect). Resolves once listening; returns the unsubscribe.
 */
export async function listenForWakeups(ctx: StoreContext, onWake: () => void): Promise<() => Promise<void>> {
  try {
    const meta = await ctx.sql.listen(ctx.channel, () => {
      try {
        onWake();
      } catch {
        // a throwing callback must not break the listener connection
      }
    });
    let active = true;
    return async () => {
      if (!active) return;
      active = false;
      try {
        await meta.unlisten();
      } catch (error) {
        throw toStoreError(error, 'unlisten');
      }
    };
  } catch (error) {
    throw toStoreError(error, 'listen');
  }
}
