import type { Task, TaskId, TaskStatus } from '@taskmill/contracts';
import {
  decodeTask,
  EVENT_INSERT_COLUMNS,
  eventRow,
  groupBy,
  holdsFence,
  patchEntries,
  TABLES,
  insertColumnsFor,
  TASK_INSERT_COLUMNS,
  type AttemptClose,
  type AttemptOpen,
  type EventRow,
  type RawRow,
  type TaskChange,
  type TaskInsert,
} from '@taskmill/store-kit';
import { exec, rows, type Conn } from './transaction.js';

/*
 * Task rows and what is written with them: inserts, the changes the kit decides (patch, guard,
 * attempt rows, events), child crediting and task heartbeats.
 *
 * MySQL has no `INSERT … RETURNING`. A multi-row `INSERT … VALUES` is a "simple insert": InnoDB
 * allocates all its ids at once, consecutive in steps of `auto_increment_increment`, in every
 * `innodb_autoinc_lock_mode` (only INSERT … SELECT and LOAD DATA may leave gaps), and `insertId`
 * is the first. So the ids of a batch are `insertId + i * step`, without a read back.
 *
 * Crediting a child runs inside the child's final transaction, whose child row is already locked:
 * the child's `parent_credited` flips 0 → 1 with a guarded UPDATE (only the first final transition
 * of a child gets past it), then the parent row is updated (an exclusive lock): concurrent
 * siblings queue on the parent row, so each counts on top of the count its predecessor committed
 * and exactly one sees the last child in. Locks are always taken child first, then parent, so
 * siblings cannot deadlock one another.
 */

const T = TABLES.tasks;
const A = TABLES.attempts;
const E = TABLES.events;

/** mysql2 only escapes real Buffers as binary; a plain Uint8Array must be wrapped. */
function toBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** A patch value as mysql2 binds it: bytes as a Buffer, an absent value as NULL. */
function bindable(value: unknown): unknown {
  return value instanceof Uint8Array ? toBuffer(value) : (value ?? null);
}

function columns(names: readonly string[]): string {
  return names.map((name) => `\`${name}\``).join(', ');
}

/**
 * Rows per INSERT are bounded by count and by an estimate of their size, so a batch of large
 * payloads stays well under `max_allowed_packet` (16 MiB by default on MariaDB, 64 MiB on MySQL 8).
 */
const INSERT_CHUNK_ROWS = 500;
const INSERT_CHUNK_BYTES = 4 * 1024 * 1024;

function sizeOf(values: unknown[]): number {
  return values.reduce<number>((sum, value) => sum + (typeof value === 'string' || Buffer.isBuffer(value) ? value.length : 16), 0);
}

/** Multi-row INSERTs (chunked); the generated ids in row order. */
async function insertRows(conn: Conn, table: string, names: readonly string[], values: unknown[][]): Promise<number[]> {
  const ids: number[] = [];
  let chunk: unknown[][] = [];
  let bytes = 0;
  const flush = async () => {
    if (chunk.length === 0) return;
    const { insertId } = await exec(conn, `INSERT INTO ${table} (${columns(names)}) VALUES ?`, [chunk]);
    const step = chunk.length > 1 ? await conn.idStep() : 1;
    ids.push(...chunk.map((_, i) => insertId + i * step));
    chunk = [];
    bytes = 0;
  };
  for (const row of values) {
    const size = sizeOf(row);
    if (chunk.length > 0 && (chunk.length >= INSERT_CHUNK_ROWS || bytes + size > INSERT_CHUNK_BYTES)) await flush();
    chunk.push(row);
    bytes += size;
  }
  await flush();
  return ids;
}

/** The raw task row, or null. */
export async function selectTask(conn: Conn, id: TaskId): Promise<RawRow | null> {
  const [row] = await rows(conn, `SELECT * FROM ${T} WHERE id = ?`, [id]);
  return row ?? null;
}

/** The task, exclusively locked until the transaction ends, or null. */
export async function lockTask(conn: Conn, id: TaskId): Promise<Task | null> {
  const [row] = await rows(conn, `SELECT * FROM ${T} WHERE id = ? FOR UPDATE`, [id]);
  return row ? decodeTask(row) : null;
}

/** The tasks of these ids, by id, exclusively locked until the transaction ends (one statement). */
export async function lockTasks(conn: Conn, ids: readonly TaskId[]): Promise<Task[]> {
  if (ids.length === 0) return [];
  return (await rows(conn, `SELECT * FROM ${T} WHERE id IN (?) ORDER BY id FOR UPDATE`, [ids])).map(decodeTask);
}

/** Insert task rows (one statement); their ids in input order. */
export function insertTasks(conn: Conn, list: readonly TaskInsert[]): Promise<TaskId[]> {
  const names = insertColumnsFor(list);
  return insertRows(
    conn,
    T,
    names,
    list.map((row) => names.map((name) => row[name])),
  );
}

/**
 * Insert one unique task (see `StoreWriter.insertUniqueTask`). MySQL has no `ON CONFLICT DO
 * NOTHING` that is safe here (`INSERT IGNORE` also hides other errors), so a plain INSERT runs and
 * ER_DUP_ENTRY (1062) from `idx_task_unique` means "held": InnoDB undoes only that statement, and
 * the transaction goes on. A concurrent uncommitted holder makes the INSERT wait for its end.
 */
export async function insertUniqueTask(conn: Conn, row: TaskInsert): Promise<TaskId | null> {
  try {
    const { insertId } = await exec(conn, `INSERT INTO ${T} (${columns(TASK_INSERT_COLUMNS)}) VALUES ?`, [[TASK_INSERT_COLUMNS.map((name) => row[name])]]);
    return insertId;
  } catch (error) {
    if ((error as { errno?: unknown } | null)?.errno === 1062) return null;
    throw error;
  }
}

/** The id of the task of this name holding `slot`, or null. */
export async function selectUniqueHolder(conn: Conn, name: string, slot: string): Promise<TaskId | null> {
  const [row] = await rows(conn, `SELECT id FROM ${T} WHERE name = ? AND unique_slot = ?`, [name, slot]);
  return row ? Number(row.id) : null;
}

/** Release an expired `period` holder of the slot (compare-and-set); true when released. */
export async function releaseExpiredUnique(conn: Conn, name: string, slot: string, now: number): Promise<boolean> {
  const { affectedRows } = await exec(conn, `UPDATE ${T} SET unique_slot = NULL WHERE name = ? AND unique_slot = ? AND unique_until <= ?`, [name, slot, now]);
  return affectedRows > 0;
}

/** UPDATE the row with the change's patch under its guard; false when the guard no longer held. */
async function patchTask(conn: Conn, change: TaskChange): Promise<boolean> {
  const guard: string[] = [];
  const guardParams: unknown[] = [];
  if (change.guard) {
    guard.push('status = ?');
    guardParams.push(change.guard.status);
    if (change.guard.worker_id !== undefined) {
      guard.push('worker_id = ?');
      guardParams.push(change.guard.worker_id);
    }
    if (change.guard.attempt !== undefined) {
      guard.push('attempt = ?');
      guardParams.push(change.guard.attempt);
    }
  }
  const condition = ['id = ?', ...guard].join(' AND ');
  const entries = patchEntries(change.patch);
  if (entries.length === 0) {
    if (!change.guard) return true;
    const found = await rows(conn, `SELECT id FROM ${T} WHERE ${condition} FOR UPDATE`, [change.task_id, ...guardParams]);
    return found.length > 0;
  }
  // every value is a constant, so MySQL's left-to-right SET (each assignment sees the ones before) changes nothing
  const set = entries.map(([name]) => `\`${name}\` = ?`).join(', ');
  const values = entries.map(([, value]) => bindable(value));
  const { affectedRows } = await exec(conn, `UPDATE ${T} SET ${set} WHERE ${condition}`, [...values, change.task_id, ...guardParams]);
  // a guarded patch always changes the status, so affectedRows counts the row with or without CLIENT_FOUND_ROWS
  return !change.guard || affectedRows > 0;
}

async function closeAttempt(conn: Conn, close: AttemptClose): Promise<void> {
  await exec(
    conn,
    `UPDATE ${A} SET ended_at = ?, outcome = ?, error = ?, timeout_flag = ? WHERE task_id = ? AND attempt = ? AND ended_at IS NULL`,
    [close.ended_at, close.outcome, close.error, close.timeout_flag, close.task_id, close.attempt],
  );
}

async function openAttempts(conn: Conn, list: AttemptOpen[]): Promise<void> {
  const names = ['task_id', 'name', 'attempt', 'worker_id', 'started_at', 'due_at'] as const;
  await insertRows(conn, A, names, list.map((open) => names.map((name) => open[name])));
}

/**
 * Apply the kit's changes in order. Attempt rows opened and events are collected and written with
 * one multi-row INSERT each; opened attempts are written before any later close so the order of
 * the list holds. Changes of distinct tasks go together ({@link applyTogether}); a list naming a
 * task twice goes change by change (each UPDATE sees the one before).
 */
export async function applyChanges(conn: Conn, list: readonly TaskChange[]): Promise<{ applied: boolean[]; event_ids: number[] }> {
  if (list.length > 1 && new Set(list.map((change) => change.task_id)).size === list.length) return applyTogether(conn, list);
  const applied: boolean[] = [];
  let opened: AttemptOpen[] = [];
  const events: EventRow[] = [];
  for (const change of list) {
    const ok = await patchTask(conn, change);
    applied.push(ok);
    if (!ok) continue;
    if (change.close_attempt) {
      await openAttempts(conn, opened);
      opened = [];
      await closeAttempt(conn, change.close_attempt);
    }
    if (change.open_attempt) opened.push(change.open_attempt);
    events.push(...change.events.map(eventRow));
  }
  await openAttempts(conn, opened);
  return { applied, event_ids: await insertEvents(conn, events) };
}

/** Insert events (one multi-row INSERT per chunk); their ids in order. Also those of no task (`task_id` 0: a name's pause and resume). */
export function insertEvents(conn: Conn, events: readonly EventRow[]): Promise<number[]> {
  return insertRows(
    conn,
    E,
    EVENT_INSERT_COLUMNS,
    events.map((event) => EVENT_INSERT_COLUMNS.map((name) => event[name])),
  );
}

/** Rows per grouped UPDATE (each row binds two values per column). */
const UPDATE_CHUNK_ROWS = 200;

/**
 * Changes of distinct tasks in a few statements instead of one UPDATE per task. MySQL has no
 * `UPDATE … RETURNING` to tell which rows a guarded multi-row UPDATE matched, so the guards are
 * checked on the rows read with `FOR UPDATE` (one statement by primary key): a locking read sees
 * the newest committed version, as the UPDATE's own WHERE would, and the lock holds it until
 * commit, so the rows the check passed are exactly the rows a guarded UPDATE would have changed.
 * Then one UPDATE per patch shape (`SET c = CASE id WHEN … END … WHERE id IN (…)`), one UPDATE
 * closing the attempts, and one INSERT each for opened attempts and events.
 */
async function applyTogether(conn: Conn, list: readonly TaskChange[]): Promise<{ applied: boolean[]; event_ids: number[] }> {
  const guarded = list.filter((change) => change.guard);
  const current = new Map<number, RawRow>();
  if (guarded.length > 0) {
    const found = await rows(conn, `SELECT id, status, worker_id, attempt FROM ${T} WHERE id IN (?) FOR UPDATE`, [guarded.map((c) => c.task_id)]);
    for (const row of found) current.set(Number(row.id), row);
  }
  const applied = list.map((change) => !change.guard || guardHolds(change.guard, current.get(Number(change.task_id))));
  const done = list.filter((_, i) => applied[i]);
  const patched = done.filter((change) => patchEntries(change.patch).length > 0);
  const shapes = groupBy(patched, (change) => patchEntries(change.patch).map(([name]) => name).join(','));
  for (const group of shapes.values()) {
    for (let i = 0; i < group.length; i += UPDATE_CHUNK_ROWS) await updateTogether(conn, group.slice(i, i + UPDATE_CHUNK_ROWS));
  }
  const closes = done.flatMap((change) => (change.close_attempt ? [change.close_attempt] : []));
  for (let i = 0; i < closes.length; i += UPDATE_CHUNK_ROWS) await closeAttemptsTogether(conn, closes.slice(i, i + UPDATE_CHUNK_ROWS));
  await openAttempts(
    conn,
    done.flatMap((change) => (change.open_attempt ? [change.open_attempt] : [])),
  );
  return { applied, event_ids: await insertEvents(conn, done.flatMap((change) => change.events.map(eventRow))) };
}

/** A guard against the row read under lock, with SQL's `=` (a NULL never matches). */
function guardHolds(guard: NonNullable<TaskChange['guard']>, row: RawRow | undefined): boolean {
  if (!row || row.status === null || String(row.status) !== guard.status) return false;
  if (guard.worker_id !== undefined && (row.worker_id === null || String(row.worker_id) !== guard.worker_id)) return false;
  if (guard.attempt !== undefined && (row.attempt === null || Number(row.attempt) !== guard.attempt)) return false;
  return true;
}

/** `CASE key WHEN ? THEN ? … END` over `rows`, its values appended to `params` in placeholder order. */
function caseOf<R>(key: string, rows: readonly R[], pick: (row: R) => [unknown, unknown], params: unknown[]): string {
  for (const row of rows) params.push(...pick(row));
  return `CASE ${key} ${rows.map(() => 'WHEN ? THEN ?').join(' ')} END`;
}

/** `c = CASE id WHEN ? THEN ? … END` for each column, over changes of one patch shape. */
async function updateTogether(conn: Conn, group: readonly TaskChange[]): Promise<void> {
  const params: unknown[] = [];
  const set = patchEntries(group[0].patch).map(
    ([name]) => `\`${name}\` = ${caseOf('id', group, (change) => [change.task_id, bindable((change.patch as Record<string, unknown>)[name])], params)}`,
  );
  // every value is a constant and `id` is not assigned, so MySQL's left-to-right SET changes nothing
  await exec(conn, `UPDATE ${T} SET ${set.join(', ')} WHERE id IN (?)`, [...params, group.map((change) => change.task_id)]);
}

/** Close the attempt rows of distinct tasks (by number, only while open) in one statement. */
async function closeAttemptsTogether(conn: Conn, closes: readonly AttemptClose[]): Promise<void> {
  if (closes.length === 0) return;
  const params: unknown[] = [];
  const byTask = (pick: (close: AttemptClose) => unknown) => caseOf('task_id', closes, (close) => [close.task_id, pick(close)], params);
  const set = `ended_at = ${byTask((c) => c.ended_at)}, outcome = ${byTask((c) => c.outcome)}, error = ${byTask((c) => c.error)}, timeout_flag = ${byTask((c) => c.timeout_flag)}`;
  const attempt = byTask((c) => c.attempt);
  await exec(conn, `UPDATE ${A} SET ${set} WHERE attempt = ${attempt} AND task_id IN (?) AND ended_at IS NULL`, [...params, closes.map((close) => close.task_id)]);
}

/** Flip a child's `parent_credited` from 0 to 1; true when this call flipped it. */
export async function markCredited(conn: Conn, childId: TaskId): Promise<boolean> {
  const { affectedRows } = await exec(conn, `UPDATE ${T} SET parent_credited = TRUE WHERE id = ? AND parent_credited = FALSE`, [childId]);
  return affectedRows > 0;
}

/** Count a credited child on its parent and append its line to the results; the parent after, locked. */
export async function addChildResult(conn: Conn, parentId: TaskId, line: string): Promise<Task | null> {
  await exec(
    conn,
    `UPDATE ${T} SET completed_children = completed_children + 1, children_results = CONCAT(COALESCE(children_results, ''), ?) WHERE id = ?`,
    [line, parentId],
  );
  return lockTask(conn, parentId);
}

/**
 * Task heartbeats: one fenced UPDATE (a row changes only while running under the fence's worker
 * and attempt), then one read of the rows to tell which fences still hold.
 */
export async function touchTasks(
  conn: Conn,
  fences: ReadonlyArray<{ task_id: TaskId; worker_id: string; attempt: number }>,
  now: number,
): Promise<boolean[]> {
  const ids = [...new Set(fences.map((fence) => fence.task_id))];
  const held = fences.map(() => '(id = ? AND worker_id = ? AND attempt = ?)').join(' OR ');
  await exec(conn, `UPDATE ${T} SET last_active_time = ? WHERE id IN (?) AND status = 'running' AND (${held})`, [
    now,
    ids,
    ...fences.flatMap((fence) => [fence.task_id, fence.worker_id, fence.attempt]),
  ]);
  const current = await rows(conn, `SELECT id, status, worker_id, attempt FROM ${T} WHERE id IN (?)`, [ids]);
  const byId = new Map(current.map((row) => [Number(row.id), row]));
  return fences.map((fence) => {
    const row = byId.get(fence.task_id);
    return row !== undefined && holdsFence({ status: row.status as TaskStatus, worker_id: row.worker_id as string | null, attempt: Number(row.attempt) }, fence);
  });
}
