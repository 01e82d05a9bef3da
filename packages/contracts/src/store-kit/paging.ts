import { ValidationError } from '../errors.js';
import type { Page, PageOptions } from '../rows.js';

/** Paging options after validation. `limit` null means every row. */
export interface Paging {
  limit: number | null;
  /** 0 unless a limit is given (SPEC B10: offset applies only with a limit). */
  offset: number;
  direction: 'ASC' | 'DESC';
}

/**
 * Validate paging options (SPEC B10): `limit` a positive integer, `offset` a non-negative
 * integer, `order` `'desc'` in any case for descending. Throws ValidationError, one message per mistake.
 */
export function normalizePaging(options: PageOptions | undefined | null): Paging {
  const { limit, offset, order } = (options ?? {}) as { limit?: unknown; offset?: unknown; order?: unknown };
  if (limit !== undefined && limit !== null && !(typeof limit === 'number' && Number.isSafeInteger(limit) && limit > 0)) {
    throw new ValidationError('limit must be a positive integer');
  }
  if (offset !== undefined && offset !== null && !(typeof offset === 'number' && Number.isSafeInteger(offset) && offset >= 0)) {
    throw new ValidationError('offset must be a non-negative integer');
  }
  // SPEC B10: 'desc' in any case sorts descending, anything else ascending
  const direction: Paging['direction'] = typeof order === 'string' && order.toLowerCase() === 'desc' ? 'DESC' : 'ASC';
  const lim = typeof limit === 'number' ? limit : null;
  return { limit: lim, offset: lim === null ? 0 : typeof offset === 'number' ? offset : 0, direction };
}

/** Build a {@link Page} from a slice and the total count. */
export function makePage<T>(items: T[], total: number, paging: Paging): Page<T> {
  return {
    items,
    total,
    limit: paging.limit,
    offset: paging.offset,
    has_more: paging.limit !== null && paging.offset + items.length < total,
  };
}
