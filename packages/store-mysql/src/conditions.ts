import { keysetSql, PAGE_ORDER, TABLES, type Condition, type PagedTable, type Paging } from '@taskmill/store-kit';

/*
 * The kit's dialect-neutral query conditions as MySQL: column names come from the kit's fixed
 * list (quoted anyway), every value is a bound parameter.
 */

/** A WHERE clause (empty, or starting with ` WHERE`) and its parameters. */
export interface Where {
  sql: string;
  params: unknown[];
}

function column(name: string): string {
  return `\`${name}\``;
}

function render(condition: Condition, params: unknown[]): string {
  switch (condition.kind) {
    case 'eq':
      params.push(condition.value);
      return `${column(condition.column)} = ?`;
    case 'in':
      params.push(condition.values);
      return `${column(condition.column)} IN (?)`;
    case 'cmp':
      params.push(condition.value);
      return `${column(condition.column)} ${condition.op} ?`;
    case 'null':
      return `${column(condition.column)} IS NULL`;
    case 'not_null':
      return `${column(condition.column)} IS NOT NULL`;
    case 'in_workflow':
      params.push(condition.root, condition.root);
      return '(id = ? OR root_id = ?)';
    case 'task_in_workflow':
      params.push(condition.root, condition.root);
      return `task_id IN (SELECT id FROM ${TABLES.tasks} WHERE id = ? OR root_id = ?)`;
    case 'after':
      return keysetSql(condition, column, params);
    case 'none':
      return 'FALSE';
  }
}

/** `WHERE c1 AND c2 …` of every condition. */
export function where(conditions: readonly Condition[]): Where {
  const params: unknown[] = [];
  const clauses = conditions.map((condition) => render(condition, params));
  return { sql: clauses.length > 0 ? ` WHERE ${clauses.join(' AND ')}` : '', params };
}

/** `ORDER BY` of a paged read in the requested direction. */
export function pageOrder(table: PagedTable, paging: Paging): string {
  return ` ORDER BY ${PAGE_ORDER[table].map((name) => `${column(name)} ${paging.direction}`).join(', ')}`;
}

/** `LIMIT ? OFFSET ?` of a paged read (nothing without a limit), and its parameters. */
export function pageSlice(paging: Paging): Where {
  return paging.limit === null ? { sql: '', params: [] } : { sql: ' LIMIT ? OFFSET ?', params: [paging.limit, paging.offset] };
}
