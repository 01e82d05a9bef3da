import type { Task, TaskId } from '@taskmill/contracts';
import { getTableConfig } from 'drizzle-orm/pg-core';
import {
  type AttemptClose,
  decodeTask,
  EVENT_INSERT_COLUMNS,
  type EventRow,
  eventRow,
  groupBy,
  patchEntries,
  type RawRow,
  insertColumnsFor,
  TASK_INSERT_COLUMNS,
  type TaskChange,
  type TaskInsert,
} from '@taskmill/store-kit';
import { taskAttempts, tasks } from './schema.js';
import type { Db } from './transaction.js';

/*
 * Writes to task rows and their attempt and event rows, inside the caller's transaction.
 *
 * Statements that do not wait for each other's results are issued together: postgres-js
 * pipelines them on the transaction's connection, so a batch costs one round trip while the
 * server still runs them one after the other, in the order sent.
 */

/** Rows per multi-row INSERT: keeps a statement well under PostgreSQL's 65,535 bound parameters. */
const INSERT_BATCH = 1000;

function batches<T>(rows: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += INSERT_BATCH) out.push(rows.slice(i, i + INSERT_BATCH));
  return out;
}

/** The task row, or null. */
export async function selectTask(db: Db, id: TaskId): Promise<RawRow | null> {
  const [row] = await db.sql`SELECT * FROM ${db.t.tasks} WHERE id = ${id}`;
  return row ?? null;
}

/** The task row, locked (`FOR UPDATE`) until the transaction ends. */
export async function lockTask(db: Db, id: TaskId): Promise<Task | null> {
  const [row] = await db.sql`SELECT * FROM ${db.t.tasks} WHERE id = ${id} FOR UPDATE`;
  return row ? decodeTask(row) : null;
}

/** The tasks of these ids, by id, locked (`FOR UPDATE`) until the transaction ends (one statement). */
export async function lockTasks(db: Db, ids: readonly TaskId[]): Promise<Task[]> {
  if (ids.length === 0) return [];
  const found = await db.sql`SELECT * FROM ${db.t.tasks} WHERE id = ANY(${ids as TaskId[]}::int8[]) ORDER BY id FOR UPDATE`;
  return found.map(decodeTask);
}

/** Insert task rows with multi-row INSERTs; ids in input order. */
export async function insertTasks(db: Db, rows: readonly TaskInsert[]): Promise<TaskId[]> {
  const { sql } = db;
  const ids: TaskId[] = [];
  for (const batch of batches(rows)) {
    const inserted = await sql`INSERT INTO ${db.t.tasks} ${sql(batch, ...insertColumnsFor(batch))} RETURNING id`;
    // Sequence values are drawn in VALUES order: ascending ids are the input order.
    ids.push(...inserted.map((r) => Number(r.id)).sort((a, b) => a - b));
  }
  return ids;
}

/**
 * Insert one unique task (see `StoreWriter.insertUniqueTask`): `ON CONFLICT … DO NOTHING` on the
 * partial UNIQUE index `idx_task_unique`; a concurrent uncommitted holder is waited for, then
 * nothing is inserted if it committed.
 */
export async function insertUniqueTask(db: Db, row: TaskInsert): Promise<TaskId | null> {
  const { sql } = db;
  const [inserted] = await sql`INSERT INTO ${db.t.tasks} ${sql(row, ...TASK_INSERT_COLUMNS)}
    ON CONFLICT (name, unique_slot) WHERE unique_slot IS NOT NULL DO NOTHING RETURNING id`;
  return inserted ? Number(inserted.id) : null;
}

/** The id of the task of this name holding `slot`, or null. */
export async function selectUniqueHolder(db: Db, name: string, slot: string): Promise<TaskId | null> {
  const [row] = await db.sql`SELECT id FROM ${db.t.tasks} WHERE name = ${name} AND unique_slot = ${slot}`;
  return row ? Number(row.id) : null;
}

/** Release an expired `period` holder of the slot (compare-and-set); true when released. */
export async function releaseExpiredUnique(db: Db, name: string, slot: string, now: number): Promise<boolean> {
  const result = await db.sql`UPDATE ${db.t.tasks} SET unique_slot = NULL
    WHERE name = ${name} AND unique_slot = ${slot} AND unique_until <= ${now}`;
  return result.count > 0;
}

/** UPDATE one task row with a change's patch under its guard; true when the change applies. */
async function updateTask(db: Db, change: TaskChange): Promise<boolean> {
  const { sql } = db;
  const entries = patchEntries(change.patch);
  const guard = change.guard;
  if (!guard && entries.length === 0) return true;
  const guarded = guard
    ? sql`AND status = ${guard.status}
          ${guard.worker_id !== undefined ? sql`AND worker_id = ${guard.worker_id}` : sql``}
          ${guard.attempt !== undefined ? sql`AND attempt = ${guard.attempt}` : sql``}`
    : sql``;
  if (entries.length === 0) {
    const rows = await sql`SELECT id FROM ${db.t.tasks} WHERE id = ${change.task_id} ${guarded}`;
    return rows.length > 0;
  }
  const patch = Object.fromEntries(entries);
  const result = await sql`
    UPDATE ${db.t.tasks} SET ${sql(patch, ...entries.map(([column]) => column))}
    WHERE id = ${change.task_id} ${guarded}`;
  return !guard || result.count > 0;
}

/** SQL types of the tasks and attempts columns, for the casts of multi-row UPDATEs. */
const TASK_TYPES = columnTypes(tasks);
const ATTEMPT_TYPES = columnTypes(taskAttempts);

function columnTypes(table: typeof tasks | typeof taskAttempts): Record<string, string> {
  const types: Record<string, string> = {};
  // a column's collation is no part of its type in a cast (`::varchar(255)[]`)
  for (const column of getTableConfig(table).columns) types[column.name] = column.getSQLType().replace('bigserial', 'bigint').replace(/ COLLATE .*$/, '');
  return types;
}

/**
 * `unnest($1::text[]::type1[], $2::text[]::type2[], …)`: rows of values passed as one array per
 * column, so a statement binds one parameter per column whatever its row count. Its text depends
 * only on the columns, so each shape is prepared once per connection; a `VALUES` list of a
 * fragment per value cost more JavaScript (query objects and garbage) than the statement itself.
 * Each array goes as `text[]` and is cast by the server (booleans as `t`/`f`, bytes as `\x…` hex):
 * the driver would declare an array whose first element is a boolean or a Buffer as a scalar.
 */
function unnestColumns(db: Db, rows: unknown[][], types: string[]): Fragment {
  const { sql } = db;
  const columns = types.map((type, k) => sql`${rows.map((row) => asText(row[k])) as never}::text[]::${sql.unsafe(`${type}[]`)}` as Fragment);
  return sql`unnest(${columns.reduce((acc, column) => sql`${acc}, ${column}` as Fragment)})` as Fragment;
}

/** A value as the text PostgreSQL casts back to its column's type. */
function asText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (value instanceof Uint8Array) return `\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
  return String(value);
}

type Fragment = ReturnType<Db['sql']['unsafe']>;

/** The shape of a change's UPDATE: its patch columns and guard terms. Changes of one shape share a statement. */
function shapeOf(change: TaskChange): string {
  const g = change.guard;
  const guard = g ? `s${g.worker_id !== undefined ? 'w' : ''}${g.attempt !== undefined ? 'a' : ''}` : '-';
  return `${patchEntries(change.patch).map(([column]) => column).join(',')}|${guard}`;
}

/**
 * UPDATE the rows of changes of one shape (distinct tasks) in one statement:
 * `UPDATE tasks SET c = v.c … FROM unnest(…) AS v(id, c…, guard…) WHERE id = v.id AND <guards>`.
 */
async function updateTasksTogether(db: Db, group: readonly TaskChange[]): Promise<boolean[]> {
  const { sql, t } = db;
  const first = group[0];
  const columns = patchEntries(first.patch).map(([column]) => column as string);
  const guard = first.guard;
  if (!guard && columns.length === 0) return group.map(() => true);
  const guardColumns = guard ? (['status', ...(guard.worker_id !== undefined ? ['worker_id'] : []), ...(guard.attempt !== undefined ? ['attempt'] : [])] as const) : [];
  const names = ['id', ...columns, ...guardColumns.map((c) => `g_${c}`)];
  const types = ['bigint', ...columns.map((c) => TASK_TYPES[c]), ...guardColumns.map((c) => TASK_TYPES[c])];
  const rows = group.map((change) => {
    const patch = change.patch as Record<string, unknown>;
    const g = change.guard as Record<string, unknown> | null;
    return [change.task_id, ...columns.map((c) => patch[c] ?? null), ...guardColumns.map((c) => g?.[c] ?? null)];
  });
  const set = columns.length > 0 ? columns.map((c) => `"${c}" = v."${c}"`).join(', ') : '"id" = task."id"';
  const where = guardColumns.map((c) => `AND task."${c}" = v."g_${c}"`).join(' ');
  const updated = await sql`
    UPDATE ${t.tasks} AS task SET ${sql.unsafe(set)}
    FROM ${unnestColumns(db, rows, types)} AS v(${sql.unsafe(names.map((n) => `"${n}"`).join(', '))})
    WHERE task.id = v.id ${sql.unsafe(where)}
    RETURNING task.id`;
  const hit = new Set(updated.map((r) => Number(r.id)));
  return group.map((change) => !guard || hit.has(change.task_id));
}

/**
 * The task UPDATEs of a list of changes. Changes of distinct tasks are grouped by shape, one
 * statement per shape (a claim of 10 or a group of 10 completions is one UPDATE); when one task
 * has several changes, each is its own statement, pipelined in order, so a later guard sees an
 * earlier change of the same row.
 */
async function updateTasks(db: Db, changes: readonly TaskChange[]): Promise<boolean[]> {
  if (changes.length === 1 || new Set(changes.map((c) => c.task_id)).size < changes.length) {
    return Promise.all(changes.map((change) => updateTask(db, change)));
  }
  const shapes = groupBy(changes.keys(), (i) => shapeOf(changes[i]));
  const applied: boolean[] = new Array(changes.length);
  await Promise.all(
    [...shapes.values()].map(async (indexes) => {
      const result = indexes.length === 1 ? [await updateTask(db, changes[indexes[0]])] : await updateTasksTogether(db, indexes.map((i) => changes[i]));
      indexes.forEach((i, k) => (applied[i] = result[k]));
    }),
  );
  return applied;
}

/** Close attempt rows (by number, only while open): one statement for all of them. */
async function closeAttempts(db: Db, closes: readonly AttemptClose[]): Promise<void> {
  if (closes.length === 0) return;
  const { sql, t } = db;
  const names = ['task_id', 'attempt', 'ended_at', 'outcome', 'error', 'timeout_flag'] as const;
  const rows = closes.map((close) => names.map((name) => close[name]));
  await sql`
    UPDATE ${t.attempts} AS a
    SET ended_at = v.ended_at, outcome = v.outcome, error = v.error, timeout_flag = v.timeout_flag
    FROM ${unnestColumns(db, rows, names.map((n) => ATTEMPT_TYPES[n]))} AS v(task_id, attempt, ended_at, outcome, error, timeout_flag)
    WHERE a.task_id = v.task_id AND a.attempt = v.attempt AND a.ended_at IS NULL`;
}

/**
 * Apply changes in order: the task UPDATEs first (see {@link updateTasks}), then, for the changes
 * that applied, the attempt closes, the opened attempts and the events, each one multi-row
 * statement, pipelined.
 */
export async function applyChanges(db: Db, changes: readonly TaskChange[]): Promise<{ applied: boolean[]; event_ids: number[] }> {
  const { sql, t } = db;
  const applied = await updateTasks(db, changes);
  const done = changes.filter((_, i) => applied[i]);
  const closes = done.flatMap((c) => (c.close_attempt ? [c.close_attempt] : []));
  const opens = done.flatMap((c) => (c.open_attempt ? [c.open_attempt] : []));
  const events = done.flatMap((c) => c.events.map(eventRow));
  const [, , eventIds] = await Promise.all([
    closeAttempts(db, closes),
    Promise.all(batches(opens).map((batch) => sql`INSERT INTO ${t.attempts} ${sql(batch)}`)),
    insertEvents(db, events),
  ]);
  return { applied, event_ids: eventIds };
}

/**
 * Insert event rows with multi-row INSERTs (pipelined); their ids in input order. Also the events
 * that belong to no task (`task_id` 0: a name's pause and resume).
 */
export async function insertEvents(db: Db, rows: readonly EventRow[]): Promise<number[]> {
  const { sql, t } = db;
  const ids = await Promise.all(
    batches(rows).map(async (batch) => {
      const inserted = await sql`INSERT INTO ${t.events} ${sql(batch, ...EVENT_INSERT_COLUMNS)} RETURNING id`;
      // Sequence values are drawn in VALUES order: ascending ids are the rows' order.
      return inserted.map((r) => Number(r.id)).sort((a, b) => a - b);
    }),
  );
  return ids.flat();
}

/**
 * Flip a child's `parent_credited` flag; true when this call flipped it. The guarded UPDATE takes
 * the child's row lock, so of two transactions crediting the same child exactly one sees the flag
 * still FALSE (the other re-checks the committed TRUE at READ COMMITTED and changes nothing).
 */
export async function markCredited(db: Db, childId: TaskId): Promise<boolean> {
  const result = await db.sql`
    UPDATE ${db.t.tasks} SET parent_credited = TRUE WHERE id = ${childId} AND parent_credited = FALSE`;
  return result.count > 0;
}

/**
 * Count a credited child on its parent and append its result line, returning the parent row.
 * The atomic `completed_children + 1 … RETURNING` serialises concurrent siblings on the parent's
 * row lock: exactly one of them sees the last count and resumes the parent.
 */
export async function addChildResult(db: Db, parentId: TaskId, line: string): Promise<Task | null> {
  const [row] = await db.sql`
    UPDATE ${db.t.tasks}
    SET completed_children = completed_children + 1, children_results = COALESCE(children_results, '') || ${line}
    WHERE id = ${parentId}
    RETURNING *`;
  return row ? decodeTask(row) : null;
}

/** Refresh `last_active_time` of the tasks still running under each fence, in one statement. */
export async function touchTasks(
  db: Db,
  fences: ReadonlyArray<{ task_id: TaskId; worker_id: string; attempt: number }>,
  now: number,
): Promise<boolean[]> {
  const rows = await db.sql`
    UPDATE ${db.t.tasks} AS task SET last_active_time = ${now}
    FROM unnest(${fences.map((f) => f.task_id)}::int8[], ${fences.map((f) => f.worker_id)}::text[],
                ${fences.map((f) => f.attempt)}::int4[]) AS f(id, worker_id, attempt)
    WHERE task.id = f.id AND task.status = 'running' AND task.worker_id = f.worker_id AND task.attempt = f.attempt
    RETURNING task.id, task.worker_id, task.attempt`;
  const held = new Set(rows.map((r) => `${r.id}|${r.worker_id}|${r.attempt}`));
  return fences.map((f) => held.has(`${f.task_id}|${f.worker_id}|${f.attempt}`));
}
