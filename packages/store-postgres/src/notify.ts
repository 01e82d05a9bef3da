import type { Connection } from './connection.js';
import { toStoreError } from './errors.js';
import type { Db } from './transaction.js';

/*
 * Cross-process wake-ups (docs/behaviour.md#wake-ups). A transaction that makes a task due now sends one NOTIFY on
 * the schema's channel; PostgreSQL delivers it only when that transaction commits (and drops it
 * on rollback), so a woken worker always finds the task. Several NOTIFYs with the same payload in
 * one transaction are delivered once. Payloads are empty: a wake-up only says "claim now".
 */

/**
 * Queue a wake-up in the current transaction: delivered at commit. In the store's own
 * transactions the NOTIFY is sent and not waited for, so it travels in one round trip with the
 * statements after it (see `Db.unawaited`); the transaction waits for its answer before COMMIT.
 */
export async function wake(db: Db): Promise<void> {
  const notify = db.sql`SELECT pg_notify(${db.channel}, '')`;
  if (!db.unawaited) {
    await notify;
    return;
  }
  // execute() sends it now; the catch keeps a failure from being unhandled before write() awaits it
  notify.execute().catch(() => undefined);
  db.unawaited.push(notify);
}

/**
 * LISTEN on the schema's channel with a dedicated connection (postgres-js keeps it apart from
 * the pool and re-listens after a reconnect). Resolves once listening; returns the unsubscribe,
 * which the store's `close()` also calls.
 */
export async function listen(connection: Connection, onWake: () => void): Promise<() => Promise<void>> {
  let meta: { unlisten(): Promise<void> };
  try {
    meta = await connection.sql.listen(connection.channel, () => {
      try {
        onWake();
      } catch {
        // a throwing callback must not break the listener connection
      }
    });
  } catch (error) {
    throw toStoreError(error, 'listen');
  }
  const unsubscribe = async (): Promise<void> => {
    if (!connection.listeners.delete(unsubscribe)) return;
    try {
      await meta.unlisten();
    } catch (error) {
      throw toStoreError(error, 'unlisten');
    }
  };
  connection.listeners.add(unsubscribe);
  return unsubscribe;
}
