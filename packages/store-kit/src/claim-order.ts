import type { ClaimRequest, RateLimit, Task } from '@taskmill/contracts';

/*
 * Which due task runs first (docs/behaviour.md#claiming): higher priority, then the earliest due, then the
 * oldest id. Stores put CLAIM_ORDER_SQL in their candidate queries; code that orders candidates
 * in memory uses compareClaimOrder. Both come from here, so they cannot disagree.
 */

/** The claim order as SQL (column names are those of every store's tasks table). */
export const CLAIM_ORDER_SQL = 'priority DESC, next_run_time ASC, id ASC';

export { CLAIMABLE_STATUSES } from '@taskmill/contracts';

/** Sort comparator for the claim order. */
export function compareClaimOrder(
  a: Pick<Task, 'priority' | 'next_run_time' | 'id'>,
  b: Pick<Task, 'priority' | 'next_run_time' | 'id'>,
): number {
  return b.priority - a.priority || a.next_run_time - b.next_run_time || a.id - b.id;
}

/** A claim request after normalisation: what a store's candidate query needs. */
export interface ClaimPlan {
  worker_id: string;
  now: number;
  /** Tasks to take at most (> 0). */
  limit: number;
  /** Names that may be claimed (distinct, non-empty; capped names with no room left removed). */
  names: string[];
  /** Caps for this claim of the names that have them, each between 1 and `limit - 1`. */
  caps: Record<string, number>;
  /** Rate limits of names of the plan (max >= 1, per_ms >= 1). */
  rates: Record<string, RateLimit>;
  /** Per-key limits (>= 1) of names of the plan: these are claimed key by key in turn. */
  keys: Record<string, number>;
}

/**
 * Normalise a claim request; null when it can claim nothing (no free slot, no name, every name
 * capped at 0). A cap of `limit` or more does not constrain and is dropped.
 */
export function planClaim(request: ClaimRequest): ClaimPlan | null {
  const limit = Math.floor(Number(request.limit));
  if (!(limit > 0) || !Array.isArray(request.names)) return null;
  const given = request.name_limits ?? {};
  const caps: Record<string, number> = {};
  const names: string[] = [];
  for (const name of new Set(request.names)) {
    if (typeof name !== 'string' || name === '') continue;
    const cap = Object.prototype.hasOwnProperty.call(given, name) ? Math.floor(Number(given[name])) : Infinity;
    if (!(cap > 0)) continue;
    if (cap < limit) caps[name] = cap;
    names.push(name);
  }
  if (names.length === 0) return null;
  const rates: Record<string, RateLimit> = {};
  const keys: Record<string, number> = {};
  for (const name of names) {
    const rate = own(request.rate_limits, name);
    if (rate !== undefined) {
      const max = Math.floor(Number(rate?.max));
      const per = Math.floor(Number(rate?.per_ms));
      // a limit that cannot be read holds the name back (0 starts) rather than lifting it
      rates[name] = { max: max >= 0 ? max : 0, per_ms: per >= 1 ? per : 1 };
    }
    const perKey = own(request.key_limits, name);
    if (perKey !== undefined) keys[name] = Math.max(1, Math.floor(Number(perKey)) || 1);
  }
  return { worker_id: String(request.worker_id), now: request.now, limit, names, caps, rates, keys };
}

function own<T>(record: Record<string, T> | undefined, key: string): T | undefined {
  return record && Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined;
}

/**
 * Names whose claims are serialised cluster-wide (sorted, the order claimers lock them in): those
 * with a cluster limit, a rate limit or a per-key limit, whose room is counted inside the claim.
 */
export function serialisedNames(plan: ClaimPlan, clusterLimits: Record<string, number> | undefined): string[] {
  return plan.names
    .filter((name) => own(clusterLimits, name) !== undefined || plan.rates[name] !== undefined || plan.keys[name] !== undefined)
    .sort();
}

/** The plan without these names (null when none is left). */
export function withoutNames(plan: ClaimPlan, drop: readonly string[]): ClaimPlan | null {
  if (drop.length === 0) return plan;
  const gone = new Set(drop);
  const names = plan.names.filter((name) => !gone.has(name));
  if (names.length === 0) return null;
  const keep = <T>(record: Record<string, T>) => Object.fromEntries(Object.entries(record).filter(([name]) => !gone.has(name)));
  return { ...plan, names, caps: keep(plan.caps), rates: keep(plan.rates), keys: keep(plan.keys) };
}

/** The plan with the name capped at `cap` more tasks this claim (dropped when `cap` <= 0). */
export function capName(plan: ClaimPlan, name: string, cap: number): ClaimPlan | null {
  if (!(cap > 0)) return withoutNames(plan, [name]);
  if (cap >= plan.limit || cap >= (plan.caps[name] ?? Infinity)) return plan;
  return { ...plan, caps: { ...plan.caps, [name]: cap } };
}

/**
 * The order a keyed name's candidates are taken in (docs/behaviour.md#flow-control): round robin over
 * its turns, in the order they were visited (the unkeyed tasks first, then the keys in key order
 * from the cursor), one task of each turn per round, each turn's tasks in claim order, a key's
 * turn ending at its room (`per_key_room`; unkeyed tasks have no per-key limit).
 */
export function roundRobin(turns: ReadonlyArray<{ room: number; tasks: Task[] }>): Task[] {
  const out: Task[] = [];
  const lists = turns.map((turn) => ({ tasks: [...turn.tasks].sort(compareClaimOrder), room: turn.room }));
  for (let level = 0; ; level += 1) {
    let any = false;
    for (const list of lists) {
      if (level < list.room && level < list.tasks.length) {
        out.push(list.tasks[level]);
        any = true;
      }
    }
    if (!any) return out;
  }
}

/** Names of the plan that have a cluster-wide limit (sorted: the order claimers lock them in). */
export function clusterLimitedNames(plan: ClaimPlan, limits: Record<string, number> | undefined): string[] {
  if (!limits) return [];
  return plan.names.filter((name) => Object.prototype.hasOwnProperty.call(limits, name)).sort();
}

/**
 * The plan with each cluster-limited name capped at its room left (`limit - running`): a name
 * without room is dropped; null when no name is left. A cap below the per-process one replaces it.
 */
export function narrowPlan(plan: ClaimPlan, limits: Record<string, number>, running: Record<string, number>): ClaimPlan | null {
  const caps = { ...plan.caps };
  const names: string[] = [];
  for (const name of plan.names) {
    if (!Object.prototype.hasOwnProperty.call(limits, name)) {
      names.push(name);
      continue;
    }
    const room = Math.floor(Number(limits[name])) - (running[name] ?? 0);
    if (!(room > 0)) continue;
    if (room < plan.limit) caps[name] = Math.min(caps[name] ?? Infinity, room);
    names.push(name);
  }
  for (const name of Object.keys(caps)) if (!names.includes(name)) delete caps[name];
  return names.length === 0 ? null : { ...plan, names, caps };
}

/**
 * Choose the batch among candidates (any order, possibly more than needed): claim order, at most
 * `plan.limit`, at most `plan.caps[name]` per capped name. With `streams` (lists already in the
 * order they must be taken in, such as a keyed name's round robin) the lists are merged instead:
 * each step takes the head that comes first in claim order, so each list keeps its own order.
 */
export function pickClaims<T extends Pick<Task, 'priority' | 'next_run_time' | 'id' | 'name'>>(candidates: T[], plan: ClaimPlan, streams: T[][] = []): T[] {
  const taken = new Map<string, number>();
  const picked: T[] = [];
  const seen = new Set<number>();
  for (const task of mergeStreams([[...candidates].sort(compareClaimOrder), ...streams])) {
    if (picked.length >= plan.limit) break;
    if (seen.has(task.id)) continue;
    seen.add(task.id);
    const cap = plan.caps[task.name];
    const count = taken.get(task.name) ?? 0;
    if (cap !== undefined && count >= cap) continue;
    taken.set(task.name, count + 1);
    picked.push(task);
  }
  return picked;
}

/** Merge lists, each in its own order: repeatedly the head first in claim order. */
function mergeStreams<T extends Pick<Task, 'priority' | 'next_run_time' | 'id'>>(lists: T[][]): T[] {
  const live = lists.filter((list) => list.length > 0);
  if (live.length <= 1) return live[0] ?? [];
  const at = live.map(() => 0);
  const out: T[] = [];
  for (;;) {
    let best = -1;
    for (let i = 0; i < live.length; i += 1) {
      if (at[i] < live[i].length && (best < 0 || compareClaimOrder(live[i][at[i]], live[best][at[best]]) < 0)) best = i;
    }
    if (best < 0) return out;
    out.push(live[best][at[best]]);
    at[best] += 1;
  }
}
