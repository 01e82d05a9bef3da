import { keysetSql, PAGE_ORDER, TABLES, type Condition, type PagedTable, type Paging } from '@taskmill/store-kit';
import { jsonList, type Param } from './connection.js';

/*
 * The kit's dialect-neutral conditions as SQLite SQL. Values are always bound parameters; the only
 * text spliced into a statement is a column name from the kit's fixed list and ASC/DESC. Lists
 * bind as one JSON parameter (`json_each`), so a statement's text does not depend on their length.
 */

/** A WHERE clause (empty when there is no condition) and its parameters. */
export interface Where {
  sql: string;
  params: Param[];
}

function render(condition: Condition, params: Param[]): string {
  switch (condition.kind) {
    case 'eq':
      params.push(condition.value);
      return `${condition.column} = ?`;
    case 'in':
      params.push(jsonList(condition.values));
      return `${condition.column} IN (SELECT value FROM json_each(?))`;
    case 'cmp':
      params.push(condition.value);
      return `${condition.column} ${condition.op} ?`;
    case 'null':
      return `${condition.column} IS NULL`;
    case 'not_null':
      return `${condition.column} IS NOT NULL`;
    case 'in_workflow':
      params.push(condition.root, condition.root);
      return '(id = ? OR root_id = ?)';
    case 'task_in_workflow':
      params.push(condition.root, condition.root);
      return `task_id IN (SELECT id FROM ${TABLES.tasks} WHERE id = ? OR root_id = ?)`;
    case 'after':
      return keysetSql(condition, (name) => name, params);
    case 'none':
      return '0';
  }
}

/** Every condition ANDed, as a WHERE clause. */
export function where(conditions: readonly Condition[]): Where {
  const params: Param[] = [];
  const clauses = conditions.map((condition) => render(condition, params));
  return { sql: clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

/** `ORDER BY` of a paged read and its `LIMIT … OFFSET …` slice (none without a limit). */
export function pageSlice(table: PagedTable, paging: Paging): Where {
  const orderBy = `ORDER BY ${PAGE_ORDER[table].map((column) => `${column} ${paging.direction}`).join(', ')}`;
  if (paging.limit === null) return { sql: orderBy, params: [] };
  return { sql: `${orderBy} LIMIT ? OFFSET ?`, params: [paging.limit, paging.offset] };
}
