import { LIMITS, RETENTION_STATUSES, ValidationError, isPlainObject, isRetentionStatus, knownKeysObject, unknownOption, type RetentionStatus } from '@taskmill/contracts';

/*
 * Retention policies (docs/behaviour.md#retention): what may be deleted, and after how long. Validated once,
 * here, before anything is deleted, for the TaskManager options, `runRetention` arguments and
 * ops scripts alike. A policy is one rule or a list of rules, so that failures can be kept
 * longer than successes (one rule per group of statuses, each with its own `expire_time`).
 */

/** Statuses a rule deletes when it names none (docs/behaviour.md#retention): `paused` cron tasks are opt-in. */
export const DEFAULT_RETENTION_STATUSES: readonly RetentionStatus[] = ['completed', 'permanently_failed'];

/** Longest `expire_time` in seconds: any longer reaches back before the epoch from every time taskmill accepts. */
export const MAX_EXPIRE_TIME_SECONDS = LIMITS.max_time_ms / 1000;

const RULE_KEYS = ['expire_time', 'statuses', 'now'] as const;

/**
 * One retention rule: delete tasks in `statuses` whose last activity (`last_active_time`, or
 * `created_at` when never active) is more than `expire_time` seconds before `now`, with their
 * events and attempts.
 */
export interface RetentionRule {
  /**
   * Seconds after a task's last activity when it may be deleted; a positive number, at most
   * {@link MAX_EXPIRE_TIME_SECONDS}. `null`, `false` or absent: this rule deletes nothing.
   * (Default: none; the TaskManager fills in its `expire_time` option)
   */
  expire_time?: number | null | false;
  /**
   * Statuses to delete: a non-empty subset of `completed`, `permanently_failed`, `paused`.
   * Pending, running, suspended, failed and timeout tasks are never deleted.
   * (Default: `['completed', 'permanently_failed']`)
   */
  statuses?: readonly RetentionStatus[];
  /** The clock in ms since the epoch, for tests and backfills. (Default: `Date.now()` when a run starts) */
  now?: number;
}

/**
 * A retention policy: a number (the `expire_time` in seconds, default statuses), one
 * {@link RetentionRule}, or an array of rules and numbers. Each status may appear in one rule
 * only, so every status has exactly one `expire_time`. `false`, `null`, `undefined` and `[]`
 * delete nothing.
 *
 * @example Keep failures for 30 days and successes for one day:
 * ```ts
 * [
 *   { expire_time: 86_400, statuses: ['completed'] },
 *   { expire_time: 30 * 86_400, statuses: ['permanently_failed'] },
 * ]
 * ```
 */
export type RetentionPolicy = number | false | null | undefined | RetentionRule | readonly (number | RetentionRule)[];

/** A validated, enabled rule with its statuses deduplicated. It is itself a valid {@link RetentionRule}. */
export interface NormalizedRetentionRule {
  expire_time: number;
  statuses: RetentionStatus[];
  now?: number;
}

/** What {@link normalizeRetentionPolicy} fills into rules that lack a value. */
export interface RetentionDefaults {
  /** `expire_time` of object rules that have none. (Default: none: such a rule deletes nothing) */
  expire_time?: number | null | false;
}

/**
 * Validate a policy and return its enabled rules (an empty list deletes nothing). Throws a
 * ValidationError with fib-flow's messages (docs/behaviour.md#retention), e.g. `retention expire_time must be a positive number`,
 * `retention statuses must be a non-empty array`, `Unsupported retention status: running`.
 */
export function normalizeRetentionPolicy(policy: unknown, defaults: RetentionDefaults = {}): NormalizedRetentionRule[] {
  if (policy === undefined || policy === null || policy === false) return [];
  const entries = Array.isArray(policy) ? policy : [policy];
  const rules: NormalizedRetentionRule[] = [];
  for (const entry of entries) {
    const rule = normalizeRule(entry, defaults);
    if (rule) rules.push(rule);
  }
  const owner = new Map<RetentionStatus, number>();
  for (const [i, rule] of rules.entries()) {
    for (const status of rule.statuses) {
      // two expire times for one status would silently mean the shorter one
      if (owner.has(status)) throw new ValidationError(`Retention status ${status} is in more than one rule; give each status one expire_time`);
      owner.set(status, i);
    }
  }
  return rules;
}

/**
 * The policy of one `runRetention(policy?)` call on a manager configured with `configured`
 * (docs/behaviour.md#retention): no policy → the configured one; a number or an array → that policy alone; an object
 * → merged over each configured rule (over a default rule when retention is disabled), so
 * `{ now }` or `{ expire_time }` apply to every rule.
 */
export function mergeRetentionPolicy(configured: readonly NormalizedRetentionRule[], policy: unknown): NormalizedRetentionRule[] {
  if (policy === undefined || policy === null) return normalizeRetentionPolicy(configured);
  if (!isPlainObject(policy)) return normalizeRetentionPolicy(policy);
  checkRuleKeys(policy);
  const base: readonly RetentionRule[] = configured.length > 0 ? configured : [{}];
  return normalizeRetentionPolicy(base.map((rule) => ({ ...rule, ...policy })));
}

/**
 * An expire time in seconds: a positive number, or null when disabled (`null`, `undefined`,
 * `false`). `what` names it in the error (`retention expire_time`, `expire_time`).
 */
export function checkExpireTime(value: unknown, what = 'retention expire_time'): number | null {
  if (value === undefined || value === null || value === false) return null;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new ValidationError(`${what} must be a positive number`);
  if (value > MAX_EXPIRE_TIME_SECONDS) throw new ValidationError(`${what} must be at most ${MAX_EXPIRE_TIME_SECONDS} seconds`);
  return value;
}

const NOT_A_POLICY = 'retention policy must be a number of seconds, a rule object {expire_time, statuses, now} or an array of them';

function normalizeRule(entry: unknown, defaults: RetentionDefaults): NormalizedRetentionRule | null {
  if (typeof entry === 'number') return { expire_time: checkExpireTime(entry)!, statuses: [...DEFAULT_RETENTION_STATUSES] };
  if (!isPlainObject(entry)) {
    throw new ValidationError(NOT_A_POLICY);
  }
  checkRuleKeys(entry);
  const expireTime = checkExpireTime(entry.expire_time === undefined ? defaults.expire_time : entry.expire_time);
  const statuses = checkStatuses(entry.statuses);
  const now = checkNow(entry.now);
  // a disabled rule is still validated whole, so a typo surfaces before it is switched on
  if (expireTime === null) return null;
  return now === undefined ? { expire_time: expireTime, statuses } : { expire_time: expireTime, statuses, now };
}

/** Callers have checked that the rule is a plain object: the not-an-object message is theirs. */
function checkRuleKeys(rule: Record<string, unknown>): void {
  knownKeysObject(rule, RULE_KEYS, { notObject: NOT_A_POLICY, unknownKey: unknownOption('retention') }, ValidationError);
}

function checkStatuses(value: unknown): RetentionStatus[] {
  if (value === undefined) return [...DEFAULT_RETENTION_STATUSES];
  if (!Array.isArray(value) || value.length === 0) throw new ValidationError('retention statuses must be a non-empty array');
  for (const status of value) {
    if (!isRetentionStatus(status)) {
      throw new ValidationError(`Unsupported retention status: ${String(status)} (expected one of: ${RETENTION_STATUSES.join(', ')})`);
    }
  }
  return [...new Set(value as RetentionStatus[])];
}

function checkNow(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > LIMITS.max_time_ms) {
    throw new ValidationError(`retention now must be a time in ms since the epoch, from 0 to ${LIMITS.max_time_ms}`);
  }
  return value;
}
