import { ValidationError, type Page, type PageOptions } from '@taskmill/contracts';
import type { Condition, FilterColumn } from './filters.js';

/** A table a paged read runs over. */
export type PagedTable = 'tasks' | 'events' | 'attempts';

/** Order columns of each paged read (docs/behaviour.md#queries); the direction comes from {@link Paging}. */
export const PAGE_ORDER: Readonly<Record<PagedTable, readonly [FilterColumn, FilterColumn]>> = {
  tasks: ['created_at', 'id'],
  events: ['event_time', 'id'],
  attempts: ['attempt', 'id'],
};

/** One `column op value` comparison of a keyset predicate. */
export interface KeysetTerm {
  column: FilterColumn;
  op: '>' | '<' | '>=' | '<=';
  value: number;
}

/** A keyset predicate: every term of `all`, AND at least one term of `any`. */
export interface KeysetPredicate {
  all: readonly KeysetTerm[];
  any: readonly KeysetTerm[];
}

/**
 * The rows after a cursor page's position, as comparisons for a store to render in its dialect:
 * `first op= v1 AND (first op v1 OR second op v2)`. The row-value form `(first, second) > (v1, v2)`
 * says the same, but the leading `first op= v1` is a plain range that an index on
 * `(scope, first)` serves directly, on every dialect. Terms come in the order their values bind.
 */
export function keysetPredicate(after: Extract<Condition, { kind: 'after' }>): KeysetPredicate {
  const [first, second] = after.columns;
  const [v1, v2] = after.values;
  const { op } = after;
  return {
    all: [{ column: first, op: op === '>' ? '>=' : '<=', value: v1 }],
    any: [
      { column: first, op, value: v1 },
      { column: second, op, value: v2 },
    ],
  };
}

/**
 * {@link keysetPredicate} as SQL text with `?` placeholders, for the dialects that bind by position
 * (MySQL, SQLite): `column` renders a column name, and each term's value is pushed to `params` in
 * the order of its placeholder.
 */
export function keysetSql(after: Extract<Condition, { kind: 'after' }>, column: (name: FilterColumn) => string, params: { push(value: number): unknown }): string {
  const { all, any } = keysetPredicate(after);
  const term = (t: KeysetTerm) => {
    params.push(t.value);
    return `${column(t.column)} ${t.op} ?`;
  };
  return `${all.map(term).join(' AND ')} AND (${any.map(term).join(' OR ')})`;
}

/** Paging options after validation. `limit` null means every row. */
export interface Paging {
  limit: number | null;
  /** 0 unless a limit is given (docs/behaviour.md#queries: offset applies only with a limit); 0 on a cursor page. */
  offset: number;
  direction: 'ASC' | 'DESC';
  /**
   * A cursor page's keyset condition: it narrows the rows read, never the total count. Null on an
   * offset page.
   */
  after: Condition | null;
}

/** A cursor's content: the table it pages, its direction and the page-order key of the last row read. */
interface CursorKey {
  table: PagedTable;
  direction: Paging['direction'];
  values: [number, number];
}

const CURSOR_VERSION = 1;

function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify([CURSOR_VERSION, key.table, key.direction, ...key.values])).toString('base64url');
}

function decodeCursor(cursor: unknown, table: PagedTable): CursorKey {
  const invalid = () => new ValidationError('cursor must be a next_cursor returned by this query');
  if (typeof cursor !== 'string' || cursor === '' || cursor.length > 200) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parsed) || parsed.length !== 5) throw invalid();
  const [version, forTable, direction, first, second] = parsed as unknown[];
  if (version !== CURSOR_VERSION || forTable !== table || (direction !== 'ASC' && direction !== 'DESC')) throw invalid();
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(second)) throw invalid();
  return { table, direction, values: [first as number, second as number] };
}

/**
 * Validate paging options (docs/behaviour.md#queries) for a read of `table`: `limit` a positive integer, `offset` a
 * non-negative integer, `order` `'asc'` or `'desc'` in any case; `cursor` a `next_cursor` of
 * the same table, with a limit, without an offset, in its own order. Throws ValidationError, one
 * message per mistake.
 */
export function normalizePaging(options: PageOptions | undefined | null, table: PagedTable = 'events'): Paging {
  const { limit, offset, order, cursor } = (options ?? {}) as { limit?: unknown; offset?: unknown; order?: unknown; cursor?: unknown };
  if (limit !== undefined && limit !== null && !(typeof limit === 'number' && Number.isSafeInteger(limit) && limit > 0)) {
    throw new ValidationError('limit must be a positive integer');
  }
  if (offset !== undefined && offset !== null && !(typeof offset === 'number' && Number.isSafeInteger(offset) && offset >= 0)) {
    throw new ValidationError('offset must be a non-negative integer');
  }
  // 'asc' or 'desc' in any case (docs/behaviour.md#queries); anything else is a mistake to report, not to read as ascending
  const given = order !== undefined && order !== null;
  if (given && !(typeof order === 'string' && ['asc', 'desc'].includes(order.toLowerCase()))) {
    throw new ValidationError(`order must be 'asc' or 'desc', got ${JSON.stringify(order)}`);
  }
  const direction: Paging['direction'] = given && (order as string).toLowerCase() === 'desc' ? 'DESC' : 'ASC';
  const lim = typeof limit === 'number' ? limit : null;
  if (cursor === undefined || cursor === null) {
    return { limit: lim, offset: lim === null ? 0 : typeof offset === 'number' ? offset : 0, direction, after: null };
  }
  const key = decodeCursor(cursor, table);
  if (lim === null) throw new ValidationError('cursor needs a limit');
  if (typeof offset === 'number' && offset > 0) throw new ValidationError('cursor and offset cannot be combined');
  if (given && direction !== key.direction) {
    throw new ValidationError(`cursor was made for order ${key.direction.toLowerCase()}`);
  }
  const after: Condition = { kind: 'after', columns: PAGE_ORDER[table], op: key.direction === 'ASC' ? '>' : '<', values: key.values };
  return { limit: lim, offset: 0, direction: key.direction, after };
}

/** The paging a store reads for a cursor page: one row beyond the limit, so that `has_more` needs no count. */
export function readPaging(paging: Paging): Paging {
  return paging.after === null || paging.limit === null ? paging : { ...paging, limit: paging.limit + 1 };
}

/**
 * Build a {@link Page} from the rows a store read with {@link readPaging} and the total count;
 * `next_cursor` is the last item's page-order key when more rows follow.
 */
export function makePage<T>(items: T[], total: number, paging: Paging, table: PagedTable = 'events'): Page<T> {
  const byCursor = paging.after !== null;
  const page = byCursor && paging.limit !== null ? items.slice(0, paging.limit) : items;
  const has_more =
    paging.limit !== null && (byCursor ? items.length > paging.limit : paging.offset + items.length < total);
  const last = page[page.length - 1] as Record<string, unknown> | undefined;
  const next_cursor =
    has_more && last !== undefined
      ? encodeCursor({ table, direction: paging.direction, values: PAGE_ORDER[table].map((column) => Number(last[column])) as [number, number] })
      : null;
  return { items: page, total, limit: paging.limit, offset: byCursor ? null : paging.offset, has_more, next_cursor };
}
