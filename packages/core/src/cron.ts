import { CronExpressionParser } from 'cron-parser';
import { InvalidCronError, LIMITS, parseEvery } from '@taskmill/contracts';

/** Default time zone of cron expressions. */
export const DEFAULT_CRON_TZ = 'UTC';

/**
 * First occurrence of `expr` strictly after `after` (ms), in time zone `tz`. Throws
 * InvalidCronError for a bad expression or time zone (docs/behaviour.md#cron).
 */
export function nextCronTime(expr: string, tz: string, after: number): number {
  if (typeof expr !== 'string' || expr.trim() === '' || expr.length > LIMITS.max_cron_expr_length) {
    throw new InvalidCronError(String(expr));
  }
  const fields = expr.trim().split(/\s+/).length;
  if (!expr.trim().startsWith('@') && fields !== 5 && fields !== 6) {
    // cron-parser fills in missing fields; a 3-field typo must not silently mean "every …"
    throw new InvalidCronError(expr, { detail: `expected 5 fields, or 6 with leading seconds, got ${fields}` });
  }
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch (cause) {
    throw new InvalidCronError(expr, { cause, detail: `unknown time zone ${tz}` });
  }
  try {
    const interval = CronExpressionParser.parse(expr, { currentDate: new Date(after), tz, strict: false });
    return interval.next().getTime();
  } catch (cause) {
    throw new InvalidCronError(expr, { cause });
  }
}

/**
 * The next run of a cron task's stored expression after `after` (ms): an interval schedule's
 * `@every Ns` falls on the grid of multiples of N seconds since the Unix epoch, the first grid
 * time strictly after `after` (docs/behaviour.md#schedules); anything else is a cron expression.
 */
export function nextRunTime(expr: string, tz: string, after: number): number {
  const every = parseEvery(expr);
  if (every === null) return nextCronTime(expr, tz, after);
  const ms = every * 1000;
  return (Math.floor(after / ms) + 1) * ms;
}
