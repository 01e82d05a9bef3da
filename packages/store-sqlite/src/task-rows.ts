import type { Task, TaskId } from '@taskmill/contracts';
import {
  decodeTask,
  EVENT_INSERT_COLUMNS,
  insertColumnsFor,
  TABLES,
  TASK_INSERT_BASE_COLUMNS,
  TASK_INSERT_COLUMNS,
  TASK_PATCH_COLUMNS,
  type EventDraft,
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
 *
 * The per-task path is kept lean, since a drain runs it for every task (the bench README's
 * "SQLite per-task cost"): an UPDATE's text is built once per patch shape (which columns, which
 * guard) and found again by a number; parameters are bound as one array; and the rows a
 * transaction read are kept (`connection.taskRows`) with each applied patch merged into them, so
 * reading back the rows a claim or a finish group just wrote reads nothing. A copy is merged only
 * when every value keeps its JavaScript type in its column (a string in a TEXT column, a number in
 * a numeric one, bytes in the BLOB), which is exactly when SQLite hands back the same value; any
 * other value, and any other statement that may change task rows, drops the copies.
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
const OPEN_ATTEMPT = `INSERT INTO ${TABLES.attempts} (task_id, name, attempt, worker_id, started_at, due_at) VALUES (?, ?, ?, ?, ?, ?)`;

/** A value as SQLite stores it: bytes as a Buffer, everything else unchanged. */
function bind(value: TaskPatch[keyof TaskPatch]): Param {
  if (value instanceof Uint8Array) return toBlob(value);
  return value ?? null;
}

/** The task row, or null (synchronous: the create program also runs inside an application's transaction). */
export function selectTask(sql: SqliteConnection, id: TaskId): RawRow | null {
  const kept = sql.taskRows?.get(id);
  if (kept) return kept;
  const row = sql.get(`SELECT * FROM ${TABLES.tasks} WHERE id = ?`, id) ?? null;
  if (row) keep(sql, row);
  return row;
}

/** The decoded task, or null (the write transaction already holds the database's write lock). */
export function lockTask(sql: SqliteConnection, id: TaskId): Task | null {
  const row = selectTask(sql, id);
  return row ? decodeTask(row) : null;
}

/** The decoded tasks of these ids, by id (one statement, or none when the transaction holds every row). */
export async function lockTasks(sql: SqliteConnection, ids: readonly TaskId[]): Promise<Task[]> {
  if (ids.length === 0) return [];
  const kept = sql.taskRows;
  if (kept && ids.every((id) => kept.has(id))) return [...new Set(ids)].sort((a, b) => a - b).map((id) => decodeTask(kept.get(id)!));
  return readTasks(sql, sql.all(`SELECT * FROM ${TABLES.tasks} WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id`, jsonList(ids)));
}

/** Keep task rows read in the open transaction (see above), and decode them. */
export function readTasks(sql: SqliteConnection, rows: RawRow[]): Task[] {
  const out: Task[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    keep(sql, rows[i]);
    out[i] = decodeTask(rows[i]);
  }
  return out;
}

function keep(sql: SqliteConnection, row: RawRow): void {
  sql.taskRows?.set(Number(row.id), row);
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

/** What SQLite hands back for a value of each patch column: the value itself when it is of this type (else the kept row is dropped). */
const PATCH_KINDS: Record<keyof TaskPatch, 'number' | 'string' | 'bytes'> = {
  status: 'string',
  worker_id: 'string',
  start_time: 'number',
  last_active_time: 'number',
  attempt: 'number',
  next_run_time: 'number',
  stage: 'number',
  retry_count: 'number',
  result: 'string',
  error: 'string',
  context: 'bytes',
  children_results: 'string',
  suspend_reason: 'string',
  total_children: 'number',
  current_stage_name: 'string',
  progress_text: 'string',
  progress_percent: 'number',
  last_event_time: 'number',
  last_event_type: 'string',
  unique_slot: 'string',
  payload: 'string',
  type: 'string',
  cron_expr: 'string',
  cron_tz: 'string',
  priority: 'number',
  tag: 'string',
  timeout: 'number',
  max_retries: 'number',
  retry_interval: 'number',
  retry_backoff: 'string',
  retry_max_interval: 'number',
  retry_jitter: 'number',
  concurrency_key: 'string',
  wake_at: 'number',
  awaited_signal: 'string',
  received_signal: 'string',
};
const KINDS = TASK_PATCH_COLUMNS.map((column) => PATCH_KINDS[column]);

/** Whether SQLite hands `value` back unchanged from a column of this kind. */
function keepsType(value: Param, kind: 'number' | 'string' | 'bytes'): boolean {
  if (value === null) return true;
  if (kind === 'number') return typeof value === 'number' && Number.isFinite(value);
  if (kind === 'string') return typeof value === 'string';
  return Buffer.isBuffer(value);
}

/**
 * UPDATE texts by shape: the mask has 2^i for TASK_PATCH_COLUMNS[i] (more columns than a 32-bit
 * bit operation holds, so arithmetic, exact in a double), times 8, plus the guard's bits.
 */
const UPDATES = new Map<number, string>();

function updateText(mask: number, columns: readonly number[], guardBits: number): string {
  const key = mask * 8 + guardBits;
  let text = UPDATES.get(key);
  if (text === undefined) {
    const sets = columns.map((i) => `${TASK_PATCH_COLUMNS[i]} = ?`);
    let guard = '';
    if (guardBits & 1) guard += ' AND status = ?';
    if (guardBits & 2) guard += ' AND worker_id = ?';
    if (guardBits & 4) guard += ' AND attempt = ?';
    text = `UPDATE ${TABLES.tasks} SET ${sets.length > 0 ? sets.join(', ') : 'id = id'} WHERE id = ?${guard}`;
    UPDATES.set(key, text);
  }
  return text;
}

/** UPDATE one task row with a change's patch, under its guard; false when the guard did not match. */
function patchRow(sql: SqliteConnection, change: TaskChange): boolean {
  const patch = change.patch as Record<string, TaskPatch[keyof TaskPatch]>;
  const params: Param[] = [];
  const columns: number[] = [];
  let mask = 0;
  for (let i = 0; i < TASK_PATCH_COLUMNS.length; i++) {
    const value = patch[TASK_PATCH_COLUMNS[i]];
    if (value === undefined) continue;
    mask += 2 ** i;
    columns.push(i);
    params.push(bind(value));
  }
  const guard = change.guard;
  if (mask === 0 && guard === null) return true;
  const values = columns.length;
  params.push(change.task_id);
  let guardBits = 0;
  if (guard) {
    guardBits = 1;
    params.push(guard.status);
    if (guard.worker_id !== undefined) {
      guardBits |= 2;
      params.push(guard.worker_id);
    }
    if (guard.attempt !== undefined) {
      guardBits |= 4;
      params.push(guard.attempt);
    }
  }
  if (sql.write(updateText(mask, columns, guardBits), params).changes === 0) return false;
  // the kept copy of the row, if any, becomes the row as written (a new object: one handed out stays as it was)
  const kept = sql.taskRows;
  const row = kept?.get(change.task_id);
  if (kept && row) {
    const merged: RawRow = { ...row };
    for (let j = 0; j < values; j++) {
      const i = columns[j];
      if (!keepsType(params[j], KINDS[i])) {
        kept.delete(change.task_id);
        return true;
      }
      merged[TASK_PATCH_COLUMNS[i]] = params[j];
    }
    kept.set(change.task_id, merged);
  }
  return true;
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
    if (close) sql.write(CLOSE_ATTEMPT, [close.ended_at, close.outcome, close.error, close.timeout_flag ? 1 : 0, close.task_id, close.attempt]);
    const open = change.open_attempt;
    if (open) sql.write(OPEN_ATTEMPT, [open.task_id, open.name, open.attempt, open.worker_id, open.started_at, open.due_at]);
    for (const draft of change.events) eventIds.push(insertEvent(sql, draft));
  }
  return { applied, event_ids: eventIds };
}

/** An event's INSERT parameters, in EVENT_INSERT_COLUMNS order, `metadata` as JSON text (as the kit's `eventRow`). */
function eventParams(draft: EventDraft | EventRow): Param[] {
  const params: Param[] = new Array(EVENT_INSERT_COLUMNS.length);
  for (let i = 0; i < EVENT_INSERT_COLUMNS.length; i++) {
    const column = EVENT_INSERT_COLUMNS[i];
    const value = draft[column];
    params[i] = column === 'metadata' && value !== null && typeof value !== 'string' ? JSON.stringify(value) : (value as Param);
  }
  return params;
}

/** Insert one event (a draft, or a row whose metadata is already text); its id. */
function insertEvent(sql: SqliteConnection, event: EventDraft | EventRow): number {
  return Number(sql.write(INSERT_EVENT, eventParams(event)).lastInsertRowid);
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
