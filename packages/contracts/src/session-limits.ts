import { ConfigurationError } from './errors.js';

/*
 * Limits a store sets on the database sessions it opens itself, so that a frozen process (SIGSTOP,
 * a paused VM or container, an event loop blocked by a CPU-heavy handler) cannot hold row locks
 * that other workers need for longer than a bounded time. taskmill's own transactions never wait
 * on anything but the database (see docs/failure-model.md), so a session that sits
 * idle inside a transaction for seconds belongs to a process that stopped running: the server
 * ends that session, its locks go, and the process is fenced when it wakes, as after any lost lease.
 */

/** Session limits of a store's own connections, in milliseconds; 0 turns one off. */
export interface SessionLimits {
  /**
   * How long a session may sit idle inside an open transaction before the server ends it
   * (PostgreSQL `idle_in_transaction_session_timeout`; MariaDB `idle_transaction_timeout`, whole
   * seconds, rounded up; MySQL 8 has no equivalent and keeps its own settings). (Default: 10000)
   */
  idle_transaction_timeout_ms?: number;
  /**
   * How long a statement waits for a row lock before it fails and its transaction is run again
   * (PostgreSQL `lock_timeout`; MySQL/MariaDB `innodb_lock_wait_timeout`, whole seconds, rounded
   * up). (Default: 10000)
   */
  lock_timeout_ms?: number;
}

/** The defaults: a frozen session is cut within 10 s, well inside the default 30 s worker lease. */
export const DEFAULT_SESSION_LIMITS: Required<SessionLimits> = { idle_transaction_timeout_ms: 10_000, lock_timeout_ms: 10_000 };

/** Upper bound of a session limit: one hour. Longer gives a frozen process back its unbounded hold. */
const MAX_SESSION_LIMIT_MS = 3_600_000;

/**
 * The session limits a TaskManager asks of a store it opens itself: the idle limit is at most the
 * worker lease, so a frozen worker's locks are gone by the time its lease has run out and the
 * reaper that finds its expired row can lock it, recovering its tasks within lease + one heartbeat.
 */
export function sessionLimitsForLease(leaseMs: number): Required<SessionLimits> {
  const idle = Math.max(1000, Math.min(DEFAULT_SESSION_LIMITS.idle_transaction_timeout_ms, Math.floor(leaseMs)));
  return { idle_transaction_timeout_ms: idle, lock_timeout_ms: DEFAULT_SESSION_LIMITS.lock_timeout_ms };
}

/**
 * Validate a store's session-limit options (`store` names the store in messages). Each is a whole
 * number of ms from 0 (off) to one hour.
 *
 * @throws ConfigurationError for anything else.
 */
export function resolveSessionLimits(options: SessionLimits, store: string): Required<SessionLimits> {
  const resolved = { ...DEFAULT_SESSION_LIMITS };
  for (const key of ['idle_transaction_timeout_ms', 'lock_timeout_ms'] as const) {
    const value = options[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > MAX_SESSION_LIMIT_MS) {
      throw new ConfigurationError(`${store} store option ${key} must be a whole number of ms from 0 (off) to ${MAX_SESSION_LIMIT_MS}, got ${String(value)}`);
    }
    resolved[key] = value;
  }
  return resolved;
}

/** A limit in whole seconds for servers that take seconds (MySQL/MariaDB), rounded up; 0 stays off. */
export function wholeSeconds(ms: number): number {
  return ms === 0 ? 0 : Math.max(1, Math.ceil(ms / 1000));
}
