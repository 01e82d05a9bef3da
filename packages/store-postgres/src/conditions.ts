import { keysetPredicate, PAGE_ORDER, type Condition, type KeysetTerm, type PagedTable, type Paging } from '@taskmill/store-kit';
import type { Fragment } from './connection.js';
import type { Db } from './transaction.js';

/*
 * The kit's dialect-neutral conditions as SQL. Column names come from the kit's fixed list and
 * are quoted as identifiers; every value is a bound parameter.
 */

/** One keyset comparison; the operator comes from the kit's closed list, never from a caller. */
function compare(db: Db, term: KeysetTerm): Fragment {
  const { sql } = db;
  const column = sql(term.column);
  switch (term.op) {
    case '>':
      return sql`${column} > ${term.value}`;
    case '<':
      return sql`${column} < ${term.value}`;
    case '>=':
      return sql`${column} >= ${term.value}`;
    case '<=':
      return sql`${column} <= ${term.value}`;
  }
}

function render(db: Db, c: Condition): Fragment {
  const { sql, t } = db;
  switch (c.kind) {
    case 'eq':
      return sql`${sql(c.column)} = ${c.value}`;
    case 'in':
      return sql`${sql(c.column)} IN ${sql(c.values as (string | number)[])}`;
    case 'cmp':
      return c.op === '>=' ? sql`${sql(c.column)} >= ${c.value}` : sql`${sql(c.column)} <= ${c.value}`;
    case 'null':
      return sql`${sql(c.column)} IS NULL`;
    case 'not_null':
      return sql`${sql(c.column)} IS NOT NULL`;
    case 'in_workflow':
      return sql`(id = ${c.root} OR root_id = ${c.root})`;
    case 'task_in_workflow':
      // ARRAY(subquery) is evaluated once, before the outer scan is planned, so the attempts are
      // read through their task_id index; as a plain IN (subquery) the planner hash-joins a
      // sequential scan of the whole attempts table once a workflow is a few percent of it
      return sql`task_id = ANY(ARRAY(SELECT id FROM ${t.tasks} WHERE id = ${c.root} OR root_id = ${c.root}))`;
    case 'after': {
      const { all, any } = keysetPredicate(c);
      const every = all.map((term) => compare(db, term)).reduce((joined, term) => sql`${joined} AND ${term}`);
      const some = any.map((term) => compare(db, term)).reduce((joined, term) => sql`${joined} OR ${term}`);
      return sql`${every} AND (${some})`;
    }
    case 'none':
      return sql`FALSE`;
  }
}

/** The conditions ANDed (TRUE when there are none). */
export function where(db: Db, conditions: readonly Condition[]): Fragment {
  if (conditions.length === 0) return db.sql`TRUE`;
  return conditions.map((c) => render(db, c)).reduce((all, c) => db.sql`${all} AND ${c}`);
}

/** `ORDER BY` the table's page order in the requested direction (every column numeric). */
export function pageOrder(db: Db, table: PagedTable, paging: Paging): Fragment {
  const direction = paging.direction === 'DESC' ? db.sql`DESC` : db.sql`ASC`;
  return PAGE_ORDER[table].map((column) => db.sql`${db.sql(column)} ${direction}`).reduce((all, c) => db.sql`${all}, ${c}`);
}

/** `LIMIT … OFFSET …` of a page, or nothing when every row is wanted. */
export function pageSlice(db: Db, paging: Paging): Fragment {
  return paging.limit === null ? db.sql`` : db.sql`LIMIT ${paging.limit} OFFSET ${paging.offset}`;
}
