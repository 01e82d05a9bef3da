/*
 * Handles of an application's own transaction (`Store.createTasksWithin`): what every store
 * accepts besides its driver's native handle. A drizzle database or transaction object (any
 * dialect) keeps its driver client at `session.client`: a postgres-js transaction, a mysql2
 * connection or pool, a better-sqlite3 database. Checked by shape, so it works with the
 * application's own copy of drizzle-orm.
 */

/** The driver client under a drizzle database/transaction object, or undefined when `handle` is not one. */
export function drizzleClient(handle: unknown): unknown {
  if (handle === null || typeof handle !== 'object') return undefined;
  const session = (handle as { session?: unknown }).session;
  if (session === null || typeof session !== 'object') return undefined;
  if (!('dialect' in handle)) return undefined;
  const client = (session as { client?: unknown }).client;
  return client ?? undefined;
}
