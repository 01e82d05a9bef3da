import type { ClaimRequest, Task } from '@taskmill/contracts';

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
  return { worker_id: String(request.worker_id), now: request.now, limit, names, caps };
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
 * `plan.limit`, at most `plan.caps[name]` per capped name.
 */
export function pickClaims<T extends Pick<Task, 'priority' | 'next_run_time' | 'id' | 'name'>>(candidates: T[], plan: ClaimPlan): T[] {
  const taken = new Map<string, number>();
  const picked: T[] = [];
  const seen = new Set<number>();
  for (const task of [...candidates].sort(compareClaimOrder)) {
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
