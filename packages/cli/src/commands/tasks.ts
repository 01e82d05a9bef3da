import { queryTasks } from '@taskmill/audit';
import type { Store, TaskQuery, TaskStatus, TaskType } from '@taskmill/contracts';
import { firstLine, table, time } from '../format.js';
import { json } from '../output.js';

/** Options of `taskmill tasks`: the filters and paging of `queryTasks` (docs/behaviour.md#queries). */
export interface TasksOptions {
  json?: boolean;
  status?: TaskStatus;
  name?: string;
  tag?: string;
  type?: TaskType;
  root?: number;
  parent?: number;
  worker?: string;
  limit?: number;
  offset?: number;
  cursor?: string;
  order?: 'asc' | 'desc';
}

/** Default page size: an unbounded listing of a large table is never what a person wants. */
export const DEFAULT_LIMIT = 50;

/** `taskmill tasks`: one page of tasks through `@taskmill/audit`'s `queryTasks`. */
export async function tasks(store: Store, options: TasksOptions): Promise<string> {
  const query: TaskQuery = {
    status: options.status,
    name: options.name,
    tag: options.tag,
    type: options.type,
    workflow_root_id: options.root,
    parent_id: options.parent,
    worker_id: options.worker,
    limit: options.limit ?? DEFAULT_LIMIT,
    offset: options.offset,
    cursor: options.cursor,
    order: options.order,
  };
  for (const key of Object.keys(query) as (keyof TaskQuery)[]) if (query[key] === undefined) delete query[key];
  const page = await queryTasks(store, query);
  if (options.json) return json(page);
  if (page.items.length === 0) return `No tasks (${page.total} match).\n`;
  const rows = page.items.map((t) => [
    t.id,
    t.name,
    t.type,
    t.status,
    t.tag,
    t.priority,
    t.stage,
    `${t.retry_count}/${t.max_retries}`,
    time(t.next_run_time),
    time(t.created_at),
    firstLine(t.error),
  ]);
  const body = table(['ID', 'NAME', 'TYPE', 'STATUS', 'TAG', 'PRIO', 'STAGE', 'RETRIES', 'NEXT RUN', 'CREATED', 'ERROR'], rows);
  const from = page.offset === null ? null : page.offset + 1;
  const range = from === null ? `${page.items.length}` : `${from}-${page.offset! + page.items.length}`;
  const more = page.next_cursor ? `; next page: --cursor ${page.next_cursor}` : '';
  return `${body}\n${range} of ${page.total}${more}\n`;
}
