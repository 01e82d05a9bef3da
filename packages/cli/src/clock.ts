import type { Store } from '@taskmill/contracts';
import { CLOCK_SKEW_WARNING_MS, DbClock } from '@taskmill/core';

/**
 * The database's clock for one command (see docs/failure-model.md, "Clocks"): the operator's
 * machine may be off, and every time a command writes (an action's due time and event time) or
 * compares with a stored time (ages, due now, lease expiry, the retention cutoff) is judged
 * against times that workers wrote on the database's clock. One reading per invocation is enough:
 * a command lasts seconds, and durations inside it stay on the local clock.
 */
export async function commandClock(store: Store): Promise<DbClock> {
  // the skew is read from `clock.skew` below; a failed background refresh (only a command running
  // over a minute starts one) keeps the offset already measured, which is what the command needs
  const clock = new DbClock(() => undefined);
  await clock.sync(store);
  return clock;
}

/**
 * The one-line stderr warning for a machine whose clock is more than a second off the database's,
 * or null. Printed only after a command succeeded and never with --json, so that an error stays
 * the only line on stderr and --json output stays JSON alone.
 */
export function skewWarning(clock: DbClock): string | null {
  if (Math.abs(clock.skew) <= CLOCK_SKEW_WARNING_MS) return null;
  const side = clock.skew < 0 ? 'ahead of' : 'behind';
  return (
    `taskmill: warning: this machine's clock is ${Math.abs(clock.skew)} ms ${side} the database's; ` +
    `the times shown and written are the database's, but this machine's time service needs fixing\n`
  );
}
