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
 * transaction.ts), the process rings: {@link FIND} reads the waiting statements of the store's
 * database from `information_schema.PROCESSLIST`, and each is interrupted with MariaDB's
 * `KILL QUERY ID`, which ends exactly that statement (never a later one on the same connection,
 * as `KILL QUERY <thread>` could); the waiter's statement fails with 1317 (or its SLEEP returns
 * 1) and the connection stays usable. Rings are fire and forget, never awaited by the write and
 * never failing it; while one is in flight, further rings coalesce into one more, at least
 * RING_GAP_MS after it. A ring with nobody waiting is one statement; with waiters, one more per
 * waiter.
 *
 * Where a ring cannot reach a waiter, the waiter still wakes at the end of its sleep: a user
 * without the PROCESS privilege sees (and may kill) only its own user's threads, so a producer
 * under another database user than the workers does not wake them; an enqueue inside the
 * application's own transaction commits where the store does not see it. MySQL servers have no
 * `KILL QUERY ID`: a store there asks the server's version once and never rings again, and the
 * workers probe.
 */

const E = TABLES.events;

/** The waiter's marker; {@link FIND} matches it without containing it (so rings never match each other). */
const MARKER = '/* taskmill-bell */';

/** One wait: the newest event id, after sleeping up to `?` seconds when it is still `?`. */
const WAIT = `SELECT ${MARKER} m.id, IF(m.id <> ?, 0, SLEEP(?)) AS slept FROM (SELECT COALESCE(MAX(id), 0) AS id FROM ${E}) AS m`;

/**
 * The waiting statements of this database that this user may see. The pattern is built by CONCAT
 * so that this statement's own text (which the process list shows too) does not match it.
 */
const FIND = `SELECT QUERY_ID AS query_id FROM information_schema.PROCESSLIST
  WHERE DB = DATABASE() AND COMMAND = 'Query' AND INFO LIKE CONCAT('%/* taskmill', '-bell */%')`;

/** ER_QUERY_INTERRUPTED: the ring's KILL QUERY ended the waiting statement. */
const INTERRUPTED = 1317;

/**
 * A worker's own claims and finishes move MAX(id) too (they do not ring), so while it works a wait
 * would return at once after each of them and wake it again: after a wait that returned at once
 * without a ring before it, the next one starts at least this long after it, which bounds that to
 * 100 statements (and wake-ups) per second. The first wait after a ring, which delivers the
 * wake-up, and the wait after it start at once: resting there would let the next ring find no
 * waiter.
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

/**
 * At least this long between the starts of two rings of one store. Reading the process list costs
 * the server more than its round trip shows (it visits every thread): measured with back-to-back
 * single enqueues (about one per 0.55 ms), ringing every 5 ms made them 25-35% slower, every 10 ms
 * about 15%, every 20 ms 7-10%, every 50 ms nothing measurable. So the rings asked for meanwhile
 * become one at the end of the gap: at most 100 per second, and a wake-up is delayed by up to
 * this only in a burst of enqueues closer than it. A lone enqueue rings at once.
 */
const RING_GAP_MS = 10;

/** The store's `ring()`: coalesced (one in flight, one pending, RING_GAP_MS apart), errors swallowed, off for good on a server that is not MariaDB. */
export function ringer(pool: () => Pool): () => void {
  let inFlight = false;
  let pending = false;
  let mariaDB: boolean | null = null;
  let lastStart = 0;
  const ring = async (): Promise<void> => {
    const p = pool();
    if (mariaDB === null) {
      const [row] = await rows(p, 'SELECT VERSION() AS version');
      mariaDB = /mariadb/i.test(String(row?.version ?? ''));
    }
    if (!mariaDB) return;
    const waiters = await rows(p, FIND);
    // each KILL on its own: one refused (another user's thread) must not keep the others awake
    await Promise.all(waiters.map((waiter) => p.query('KILL QUERY ID ?', [waiter.query_id]).catch(() => {})));
  };
  const run = async (): Promise<void> => {
    inFlight = true;
    do {
      const wait = lastStart + RING_GAP_MS - Date.now();
      if (wait > 0) await pause(wait);
      // the rings asked for until now are this one
      pending = false;
      lastStart = Date.now();
      try {
        await ring();
      } catch {
        // a closed store, an outage: the waiters still wake at the end of their wait
      }
    } while (pending && mariaDB !== false);
    inFlight = false;
  };
  return () => {
    if (mariaDB === false) return;
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
  /** The last wait ended by a ring: the next one returns at once with the id that moved, and is no spin. */
  let rung = false;
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
    for (;;) {
      try {
        const [row] = await rows(conn, WAIT, [-1, 0]);
        last = Number(row?.id ?? 0);
        return 'ready';
      } catch (error) {
        // a ring can interrupt this read too (it carries the marker): read again
        if (errno(error) === INTERRUPTED) continue;
        drop();
        return 'failed';
      }
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
      let rest = 0;
      try {
        waiting = true;
        const [row] = await rows(current, WAIT, [last, seconds]).finally(() => (waiting = false));
        const id = Number(row?.id ?? 0);
        if (id !== last && !stopped) onWake();
        // a wait that moved on at once, and not because of a ring: the worker's own commits
        if (id !== last && !rung) rest = started + MIN_GAP_MS - Date.now();
        // SLEEP returns 1 where an interrupt does not fail the statement
        rung = Number(row?.slept ?? 0) === 1;
        last = id;
      } catch (error) {
        if (errno(error) !== INTERRUPTED) {
          drop();
          wakeOnConnect = true;
          rung = false;
          if (!stopped) await pause(RECONNECT_MS);
          continue;
        }
        // rung: the next wait reads the new id at once and wakes
        rung = true;
      }
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
