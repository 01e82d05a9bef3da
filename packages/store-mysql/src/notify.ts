import { TABLES } from '@taskmill/store-kit';
import { listenBell } from './bell.js';
import type { MysqlConnection } from './connection.js';
import { rows, type Conn } from './transaction.js';

/*
 * Cross-process wake-ups (docs/behaviour.md#wake-ups) without LISTEN/NOTIFY. MySQL and MariaDB
 * have no channel a committed transaction can signal on. On MariaDB, where the store opened its
 * own connections, the doorbell serves (bell.ts): a blocking wait that commits interrupt. Where it
 * cannot (a pool passed in, a MySQL server, `wakeBell: false`) an idle worker probes instead, as cheaply as a probe
 * can be: `SELECT MAX(id)` of the events table, which InnoDB answers from the last entry of the
 * primary key — one index page, no row scan, no lock, no write — every `wakeProbeInterval` ms
 * (default 50) on one pooled connection. Every change that can make a task claimable (a new task
 * or child, a retry, a resume, a manual retry…) writes an event in its transaction, so a committed
 * one moves MAX(id) and the next probe wakes the claim loop. Nothing is written to signal, so
 * enqueues and finishes pay nothing for it, and no hot row serialises writers. The claim loop's
 * own poll (`poll_interval`) remains the fallback; a failed probe is simply tried again.
 *
 * Idle cost: 1 / wakeProbeInterval statements per second per worker process (20/s by default),
 * each a sub-millisecond primary-key read. Wake-up delay: half the interval on average.
 */

/** A task became claimable: the event written with it is the probe's signal (see above), and the bell rings after commit. */
export async function wake(conn: Conn): Promise<void> {
  conn.wake();
}

/** Wait on the bell where it can run, else probe; resolves to the unsubscribe. */
export async function listen(connection: MysqlConnection, onWake: () => void): Promise<() => Promise<void>> {
  const open = connection.openBell;
  if (!open) return probe(connection, onWake);
  return listenBell(connection, open, onWake, () => probe(connection, onWake));
}

/** Probe for new events every `connection.wakeProbeInterval` ms; resolves after the first probe, to the unsubscribe. */
export async function probe(connection: MysqlConnection, onWake: () => void): Promise<() => Promise<void>> {
  let last: number | null = null;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const probe = async (): Promise<void> => {
    try {
      const [row] = await rows(connection.pool(), `SELECT MAX(id) AS id FROM ${TABLES.events}`);
      const id = Number(row?.id ?? 0);
      if (last !== null && id !== last && !stopped) onWake();
      last = id;
    } catch {
      // unreachable or closing: the next probe tries again, and the claim loop still polls
    }
    if (stopped) return;
    timer = setTimeout(() => void probe(), connection.wakeProbeInterval);
    timer.unref?.();
  };
  await probe();
  return async () => {
    stopped = true;
    clearTimeout(timer);
  };
}
