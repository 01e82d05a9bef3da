import type { Db } from './transaction.js';

/*
 * Sessions of a stopped process that the server's idle limit cannot end (docs/failure-model.md,
 * "Recovery of a dead or frozen worker").
 *
 * `idle_in_transaction_session_timeout` runs only while a session waits for its next query after a
 * Sync. postgres-js describes a statement before its first run on each connection (Parse, Describe
 * and Flush, no Sync) when a parameter has no type of its own, such as a string: until the client
 * sends Bind, Execute and Sync, the session is `active`, waiting on `ClientRead`, and no timeout of
 * the server ends it (a statement timeout is ignored while the server reads from its client). A
 * process frozen in that round trip, inside a transaction, keeps its row locks for as long as its
 * TCP connection lives: the reaper's `SKIP LOCKED` passes over its registry row for ever, and its
 * task rows with it. Seen in packages/e2e/test/frozen-worker.test.ts about once in 13 runs, on a
 * fresh worker whose connections had not yet described the lease heartbeat.
 *
 * So the reaper ends such a session itself: one that holds (as the newest locker, `xmax`) the row
 * of a worker whose lease has run out, and that has been waiting on its client since before the
 * lease ran out. A process that answered its server lately would have renewed its lease; one that
 * did not is taken for dead by the reaper anyway, and its late writes are fenced. Only sessions
 * waiting on their client are ended, never one waiting on a lock or running a statement, and only
 * where this role may end them (the same role or `pg_signal_backend`, a superuser only by a
 * superuser): elsewhere the guard leaves them to the server, as before. The backend exits after
 * the signal and its locks go with it: the next round (one lease heartbeat later) finds the row.
 */

/** The conditions on `a` (pg_stat_activity) of a session this role may end that waits on its client. */
function endable(db: Db) {
  return db.sql`
    a.pid <> pg_backend_pid() AND a.state = 'active' AND a.wait_event_type = 'Client'
    AND a.wait_event IN ('ClientRead', 'ClientWrite')
    AND (pg_has_role(a.usesysid, 'USAGE') OR pg_has_role('pg_signal_backend', 'USAGE'))
    AND (NOT EXISTS (SELECT 1 FROM pg_roles AS r WHERE r.oid = a.usesysid AND r.rolsuper)
      OR EXISTS (SELECT 1 FROM pg_roles AS r WHERE r.rolname = current_user AND r.rolsuper))`;
}

/**
 * End the sessions that hold the row of an `active` worker whose lease ended before `now` and that
 * have waited on their client since before it ended. Cheap when no such row is locked: the lock
 * and activity views are read only for expired rows with a locker.
 */
export async function endFrozenWorkerSessions(db: Db, now: number): Promise<number> {
  const rows = await db.sql`
    SELECT pg_terminate_backend(a.pid) AS ended
    FROM ${db.t.workers} AS w
    CROSS JOIN LATERAL (
      SELECT l.pid FROM pg_locks AS l
      WHERE l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock' AND l.granted AND l.transactionid = w.xmax
    ) AS l
    JOIN pg_stat_activity AS a ON a.pid = l.pid
    WHERE w.status = 'active' AND w.expires_at < ${now} AND w.xmax::text <> '0'
      AND a.state_change < to_timestamp(w.expires_at / 1000.0)
      AND ${endable(db)}`;
  return rows.filter((r) => r.ended).length;
}

/**
 * End the sessions that hold a running task row of these workers, once they are no longer
 * `active` (reaped or superseded), that have waited on their client since before the worker's
 * lease ended or it was superseded.
 */
export async function endFrozenTaskSessions(db: Db, workerIds: readonly string[]): Promise<number> {
  const rows = await db.sql`
    SELECT pg_terminate_backend(a.pid) AS ended
    FROM ${db.t.tasks} AS t
    JOIN ${db.t.workers} AS w ON w.worker_id = t.worker_id AND w.status <> 'active'
    CROSS JOIN LATERAL (
      SELECT l.pid FROM pg_locks AS l
      WHERE l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock' AND l.granted AND l.transactionid = t.xmax
    ) AS l
    JOIN pg_stat_activity AS a ON a.pid = l.pid
    WHERE t.status = 'running' AND t.worker_id = ANY(${workerIds as string[]}::text[]) AND t.xmax::text <> '0'
      AND a.state_change < to_timestamp(LEAST(w.expires_at, COALESCE(w.superseded_at, w.expires_at)) / 1000.0)
      AND ${endable(db)}`;
  return rows.filter((r) => r.ended).length;
}
