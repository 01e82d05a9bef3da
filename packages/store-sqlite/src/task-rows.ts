import type { Task, TaskId } from '@taskmill/contracts';
import {
  decodeTask,
  eventRow,
  EVENT_INSERT_COLUMNS,
  patchEntries,
  insertColumnsFor,
  TABLES,
  TASK_INSERT_BASE_COLUMNS,
  TASK_INSERT_COLUMNS,
  type EventRow,
  type RawRow,
  type TaskChange,
  type TaskInsert,
  type TaskPatch,
} from '@taskmill/store-kit';
import { jsonList, toBlob, type Param, type SqliteConnection } from './connection.js';

/*
 * Task rows and what every transition writes with them: the patch, the attempt row it opens or
 * closes, its events. Always inside a transaction opened by transaction.ts. SQLite has no row
 * locks: a write transaction holds the database's write lock from `BEGIN IMMEDIATE` on, so a row
 * read here cannot change before COMMIT. Statements run one row at a time: they are in-process
 * calls on cached prepared statements, with no round trip to save by batching.
 */

const insertTask = (columns: readonly string[]) => `INSERT INTO ${TABLES.tasks} (${columns.join(', ')})
  VALUES (${columns.map(() => '?').join(', ')})`;
const INSERT_TASK = insertTask(TASK_INSERT_COLUMNS);
/** A row that leaves the defaulted columns at their defaults binds fewer parameters. */
const INSERT_BASE_TASK = insertTask(TASK_INSERT_BASE_COLUMNS);

const INSERT_EVENT = `INSERT INTO ${TABLES.events} (${EVENT_INSERT_COLUMNS.join(', ')})
  VALUES (${EVENT_INSERT_COLUMNS.map(() => '?').join(', ')})`;

const CLOSE_ATTEMPT = `UPDATE ${TABLES.attempts} SET ended_at = ?, outcome = ?, error = ?, timeout_flag = ?
  WHERE task_id = ? AND attempt = ? AND ended_at IS NULL`;

/** The open attempt carries the task's name: rate limits count a name's starts (docs/behaviour.md#flow-control). */
const OPEN_ATTEMPT = `INSERT INTO ${TABLES.attempts} (task_id, name, attempt, worker_id, started_at) VALUES (?, ?, ?, ?, ?)`;

/** A value as SQLite stores it: bytes as a Buffer, everything else unchanged. */
function bind(value: TaskPatch[keyof TaskPatch]): Param {
  if (value instanceof Uint8Array) return toBlob(value);
  return value ?? null;
}

/** The task row, or null. */
export async function selectTask(sql: SqliteConnection, id: TaskId): Promise<RawRow | null> {
  return sql.get(`SELECT * FROM ${TABLES.tasks} WHERE id = ?`, id) ?? null;
}

/** The decoded task, or null (the write transaction already holds the database's write lock). */
export async function lockTask(sql: SqliteConnection, id: TaskId): Promise<Task | null> {
  const row = await selectTask(sql, id);
  return row ? decodeTask(row) : null;
}

/** The decoded tasks of these ids, by id (one statement). */
export async function lockTasks(sql: SqliteConnection, ids: readonly TaskId[]): Promise<Task[]> {
  if (ids.length === 0) return [];
  return sql.all(`SELECT * FROM ${TABLES.tasks} WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id`, jsonList(ids)).map(decodeTask);
}

/*
 * insertTasks, insertUniqueTask, selectUniqueHolder, releaseExpiredUnique and applyChanges are synchronous (as every statement of better-sqlite3 is), not
 * async: they also run inside an application's own synchronous transaction (within.ts), where
 * every statement must have run before the call returns.
 */

/** Insert task rows; their ids in input order. */
export function insertTasks(sql: SqliteConnection, rows: readonly TaskInsert[]): TaskId[] {
  return rows.map((row) => {
    const columns = insertColumnsFor([row]);
    const statement = columns === TASK_INSERT_COLUMNS ? INSERT_TASK : INSERT_BASE_TASK;
    return Number(sql.run(statement, ...columns.map((column) => row[column])).lastInsertRowid);
  });
}

/** INSERT of a unique task: the partial UNIQUE index `idx_task_unique` refuses a held key, and nothing is inserted. */
const INSERT_UNIQUE_TASK = `${INSERT_TASK} ON CONFLICT DO NOTHING RETURNING id`;

/** Insert one unique task (see `StoreWriter.insertUniqueTask`); the write lock is held, so no one races us here. */
export function insertUniqueTask(sql: SqliteConnection, row: TaskInsert): TaskId | null {
  const inserted = sql.get(INSERT_UNIQUE_TASK, ...TASK_INSERT_COLUMNS.map((column) => row[column]));
  return inserted ? Number(inserted.id) : null;
}

/** The id of the task of this name holding `slot`, or null. */
export function selectUniqueHolder(sql: SqliteConnection, name: string, slot: string): TaskId | null {
  const row = sql.get(`SELECT id FROM ${TABLES.tasks} WHERE name = ? AND unique_slot = ?`, name, slot);
  return row ? Number(row.id) : null;
}

/** Release an expired `period` holder of the slot (compare-and-set); true when released. */
export function releaseExpiredUnique(sql: SqliteConnection, name: string, slot: string, now: number): boolean {
  return sql.run(`UPDATE ${TABLES.tasks} SET unique_slot = NULL WHERE name = ? AND unique_slot = ? AND unique_until <= ?`, name, slot, now).changes > 0;
}

/** UPDATE one task row with a change's patch, under its guard; false when the guard did not match. */
function patchRow(sql: SqliteConnection, change: TaskChange): boolean {
  const entries = patchEntries(change.patch);
  if (entries.length === 0 && change.guard === null) return true;
  const sets = entries.length > 0 ? entries.map(([column]) => `${column} = ?`).join(', ') : 'id = id';
  const params: Param[] = [...entries.map(([, value]) => bind(value)), change.task_id];
  let guard = '';
  if (change.guard) {
    guard = ' AND status = ?';
    params.push(change.guard.status);
    if (change.guard.worker_id !== undefined) {
      guard += ' AND worker_id = ?';
      params.push(change.guard.worker_id);
    }
    if (change.guard.attempt !== undefined) {
      guard += ' AND attempt = ?';
      params.push(change.guard.attempt);
    }
  }
  return sql.run(`UPDATE ${TABLES.tasks} SET ${sets} WHERE id = ?${guard}`, ...params).changes > 0;
}

/** Apply changes in order (see `StoreWriter.applyChanges`). */
export function applyChanges(sql: SqliteConnection, changes: readonly TaskChange[]): { applied: boolean[]; event_ids: number[] } {
  const applied: boolean[] = [];
  const eventIds: number[] = [];
  for (const change of changes) {
    const ok = patchRow(sql, change);
    applied.push(ok);
    if (!ok) continue;
    const close = change.close_attempt;
    if (close) sql.run(CLOSE_ATTEMPT, close.ended_at, close.outcome, close.error, close.timeout_flag ? 1 : 0, close.task_id, close.attempt);
    const open = change.open_attempt;
    if (open) sql.run(OPEN_ATTEMPT, open.task_id, open.name, open.attempt, open.worker_id, open.started_at);
    for (const draft of change.events) eventIds.push(insertEvent(sql, eventRow(draft)));
  }
  return { applied, event_ids: eventIds };
}

/** Insert one event row; its id. */
function insertEvent(sql: SqliteConnection, row: EventRow): number {
  return Number(sql.run(INSERT_EVENT, ...EVENT_INSERT_COLUMNS.map((column) => row[column])).lastInsertRowid);
}

/** Insert events that belong to no task (`task_id` 0: a name's pause and resume); their ids in order. */
export async function insertEvents(sql: SqliteConnection, rows: readonly EventRow[]): Promise<number[]> {
  return rows.map((row) => insertEvent(sql, row));
}

/** Flip a child's `parent_credited` from 0 to 1; true when this call flipped it. */
export async function markCredited(sql: SqliteConnection, childId: TaskId): Promise<boolean> {
  return sql.run(`UPDATE ${TABLES.tasks} SET parent_credited = 1 WHERE id = ? AND parent_credited = 0`, childId).changes > 0;
}

/** Count a credited child and append its line to the parent's results; the parent after. */
export async function addChildResult(sql: SqliteConnection, parentId: TaskId, line: string): Promise<Task | null> {
  sql.run(
    `UPDATE ${TABLES.tasks}
     SET completed_children = completed_children + 1, children_results = COALESCE(children_results, '') || ?
     WHERE id = ?`,
    line,
    parentId,
  );
  return lockTask(sql, parentId);
}

/** Refresh `last_active_time` under each fence; per fence whether it held. */
export async function touchTasks(
  sql: SqliteConnection,
  fences: ReadonlyArray<{ task_id: TaskId; worker_id: string; attempt: number }>,
  now: number,
): Promise<boolean[]> {
  return fences.map(
    (fence) =>
      sql.run(
        `UPDATE ${TABLES.tasks} SET last_active_time = ?
         WHERE id = ? AND status = 'running' AND worker_id = ? AND attempt = ?`,
        now,
        fence.task_id,
        fence.worker_id,
        fence.attempt,
      ).changes > 0,
  );
}
