import { TABLES } from '@taskmill/store-kit';
import type { Connection, Pool } from 'mysql2/promise';
import type { MysqlConnection } from './connection.js';
import { rows } from './transaction.js';

/*
 * The doorbell: cross-process wake-ups on MariaDB (docs/behaviour.md#wake-ups) that cost an idle
 * worker one statement per `wakeBellWait` (default 1 s) instead of a probe every 50 ms, and wake
 * it within a round trip or two of the commit instead of half a probe interval.
 *
 * Waiter. An idle worker's listener holds ONE statement on a connection of its own (not a pooled
 * one the claim path needs), {@link WAIT}: it reads the events' MAX(id) and, only if that is still
 * the id it saw last, sleeps up to `wakeBellWait`. The check and the sleep are one statement, so
 * there is no gap between them for a commit to fall into: a commit that lands before the
 * statement's read is seen by the read (it returns at once with the new id: wake), and a commit
 * after it finds the statement in the process list, already sleeping. Every change that can make
 * a task claimable writes an event in its transaction, so MAX(id) moves with it (as the probe,
 * notify.ts, relies on). Between two statements nothing sleeps, but the next statement's read
 * comes after the gap and sees whatever committed in it.
 *
 * Ringer. After a transaction that made a task claimable commits (the kit's `wake()` in it,
 * transaction.ts), the process sends {@link RING}, one compound statement: it finds the sleeping
 * waiters of the store's database in `information_schema.PROCESSLIST` and interrupts each with
 * MariaDB's `KILL QUERY ID`, which ends exactly that statement (never a later one on the same
 * connection, as `KILL QUERY <thread>` could); the waiter's statement fails with 1317 (or its
 * SLEEP returns 1) and the connection stays usable. Rings are fire and forget, never awaited by
 * the write and never failing it; while one is in flight, further rings coalesce into one more.
 * A ring is one statement whether or not anybody waits (about as costly as one primary-key read
 * plus a walk of the server's thread list).
 *
 * Where a ring cannot reach a waiter, the waiter still wakes at the end of its sleep: a user
 * without the PROCESS privilege sees (and may kill) only its own user's threads, so a producer
 * under another database user than the workers does not wake them (the continue handler keeps a
 * refused KILL from stopping the others); an enqueue inside the application's own transaction
 * commits where the store does not see it. MySQL servers have neither `KILL QUERY ID` nor
 * `BEGIN NOT ATOMIC`: the first ring's parse error turns ringing off, and their workers probe.
 */

const E = TABLES.events;

/** The waiter's marker; {@link RING} matches it without containing it (so rings never match each other). */
const MARKER = '/* taskmill-bell */';

/** One wait: the newest event id, after sleeping up to `?` seconds when it is still `?`. */
const WAIT = `SELECT ${MARKER} m.id, IF(m.id <> ?, 0, SLEEP(?)) AS slept FROM (SELECT COALESCE(MAX(id), 0) AS id FROM ${E}) AS m`;

/** Interrupt every waiting statement of this database that this user may kill, in one statement. */
const RING = `BEGIN NOT ATOMIC
  DECLARE CONTINUE HANDLER FOR SQLEXCEPTION BEGIN END;
  FOR waiter IN (
    SELECT QUERY_ID FROM information_schema.PROCESSLIST
    WHERE DB = DATABASE() AND COMMAND = 'Query' AND INFO LIKE CONCAT('%/* taskmill', '-bell */%')
  ) DO
    KILL QUERY ID waiter.QUERY_ID;
  END FOR;
END`;

/** ER_QUERY_INTERRUPTED: the ring's KILL QUERY ended the waiting statement. */
const INTERRUPTED = 1317;
/** ER_PARSE_ERROR: the server is not MariaDB (no `BEGIN NOT ATOMIC`). */
const PARSE_ERROR = 1064;

/**
 * At least this long between the starts of two waits. A worker's own claims and finishes move
 * MAX(id) too, so while it works each wait would return at once and wake it again: this bounds
 * that to 100 statements (and wake-ups) per second. A ring never waits for it: a wait that was
 * interrupted had started long before.
 */
const MIN_GAP_MS = 10;

/** After the bell's connection failed, this long before connecting again (the claim loop polls meanwhile). */
const RECONNECT_MS = 1000;

function errno(error: unknown): unknown {
  return (error as { errno?: unknown } | null)?.errno;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref?.());
}

/** Whether the server of a connection is MariaDB, as its handshake said. */
function isMariaDB(conn: Connection): boolean {
  const core = (conn as unknown as { connection?: { _isMariaDB?: boolean; _handshakePacket?: { serverVersion?: string } } }).connection;
  if (typeof core?._isMariaDB === 'boolean') return core._isMariaDB;
  return /mariadb/i.test(core?._handshakePacket?.serverVersion ?? '');
}

/** The store's `ring()`: coalesced (one in flight, one pending), errors swallowed, off for good on a server that is not MariaDB. */
export function ringer(pool: () => Pool): () => void {
  let inFlight = false;
  let pending = false;
  let off = false;
  const run = async (): Promise<void> => {
    inFlight = true;
    do {
      pending = false;
      try {
        await pool().query(RING);
      } catch (error) {
        // a closed store, an outage, a refusal: the waiters still wake at the end of their wait
        if (errno(error) === PARSE_ERROR) off = true;
      }
    } while (pending && !off);
    inFlight = false;
  };
  return () => {
    if (off) return;
    if (inFlight) {
      pending = true;
      return;
    }
    void run();
  };
}

/**
 * Wait on the bell and call `onWake` when the events' MAX(id) moved. Resolves once the first
 * connection attempt is over, to the unsubscribe. On a server that is not MariaDB it closes its
 * connection and hands over to `probe` (notify.ts), for good.
 */
export async function listenBell(
  connection: MysqlConnection,
  open: () => Promise<Connection>,
  onWake: () => void,
  probe: () => Promise<() => Promise<void>>,
): Promise<() => Promise<void>> {
  const seconds = connection.wakeBellWait / 1000;
  let conn: Connection | null = null;
  let stopped = false;
  /** The events' MAX(id) as the last statement read it. */
  let last = 0;
  let wakeOnConnect = false;
  let waiting = false;
  const drop = () => {
    conn?.destroy();
    conn = null;
  };

  /** Connect and read where the events stand: from here on no commit goes unseen. */
  const connect = async (): Promise<'ready' | 'failed' | 'not-mariadb'> => {
    try {
      conn = await open();
    } catch {
      conn = null;
      return 'failed';
    }
    // an error with no statement under way (the connection killed between two waits) is seen by
    // the next statement; unheard, mysql2 would throw it out of the event loop
    conn.on('error', () => {});
    if (!isMariaDB(conn)) {
      drop();
      return 'not-mariadb';
    }
    try {
      const [row] = await rows(conn, WAIT, [-1, 0]);
      last = Number(row?.id ?? 0);
      return 'ready';
    } catch {
      drop();
      return 'failed';
    }
  };

  let probing: Promise<() => Promise<void>> | null = null;
  const loop = async (retryFirst: boolean): Promise<void> => {
    if (retryFirst) await pause(RECONNECT_MS);
    while (!stopped) {
      if (!conn) {
        const state = await connect();
        if (state === 'not-mariadb') {
          if (!stopped) probing = probe();
          break;
        }
        if (stopped) break;
        if (state === 'failed') {
          await pause(RECONNECT_MS);
          continue;
        }
        // something may have committed while there was no bell: claim once
        if (wakeOnConnect) onWake();
        wakeOnConnect = false;
      }
      const started = Date.now();
      const current = conn as Connection | null;
      if (!current) continue;
      try {
        waiting = true;
        const [row] = await rows(current, WAIT, [last, seconds]).finally(() => (waiting = false));
        const id = Number(row?.id ?? 0);
        if (id !== last && !stopped) onWake();
        last = id;
      } catch (error) {
        // rung: the next statement reads the new id at once and wakes
        if (errno(error) !== INTERRUPTED) {
          drop();
          wakeOnConnect = true;
          if (!stopped) await pause(RECONNECT_MS);
          continue;
        }
      }
      const rest = started + MIN_GAP_MS - Date.now();
      if (rest > 0 && !stopped) await pause(rest);
    }
    drop();
  };

  const first = await connect();
  if (first === 'not-mariadb') return probe();
  wakeOnConnect = first === 'failed';
  const running = loop(first === 'failed');
  return async () => {
    stopped = true;
    // end a wait under way now, on the server too (no further statement follows on this
    // connection, so a KILL QUERY of its thread can hit nothing else); failing that, it runs out
    const waiter = conn;
    if (waiter && waiting) {
      try {
        await connection.pool().query('KILL QUERY ?', [waiter.threadId]);
      } catch {
        // a closed store or an outage: the wait ends by itself within wakeBellWait
      }
    }
    await running;
    if (probing) await (await probing)();
  };
}
