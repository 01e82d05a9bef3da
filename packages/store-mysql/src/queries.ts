import type { EventDraft, RawRow, Task } from '@taskmill/contracts';
import { decodeTask, TABLES } from '@taskmill/contracts';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { Conn } from './transaction.js';

/*
 * Small SQL helpers shared by the store's operations. Every value is a bound parameter
 * (mysql2 escapes `?` placeholders client-side; `IN (?)` expands an array).
 */

export const T = TABLES.tasks;
export const E = TABLES.events;
export const A = TABLES.attempts;
export const W = TABLES.workers;

/** Rows of a SELECT. */
export async function rows(conn: Conn, sql: string, params: unknown[] = []): Promise<RawRow[]> {
  const [result] = await conn.query<RowDataPacket[]>(sql, params);
  return result as RawRow[];
}

/** Run a write; returns affected rows and the first generated id. */
export async function exec(conn: Conn, sql: string, params: unknown[] = []): Promise<{ affectedRows: number; insertId: number }> {
  const [result] = await conn.query<ResultSetHeader>(sql, params);
  return { affectedRows: Number(result.affectedRows), insertId: Number(result.insertId) };
}

/**
 * A task id as the database may see it, or null. Ids are safe positive integers; anything else
 * (a string such as `'1 OR 1=1'`, which MySQL would coerce to 1) finds nothing.
 */
export function toId(value: unknown): number | null {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : null;
}

/** mysql2 only escapes real Buffers as binary; a plain Uint8Array must be wrapped. */
export function toBuffer(value: Uint8Array | null | undefined): Buffer | null {
  if (value === null || value === undefined) return null;
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** The raw task row, or null. */
export async function selectTaskRow(conn: Conn, id: number): Promise<RawRow | null> {
  const found = await rows(conn, `SELECT * FROM ${T} WHERE id = ?`, [id]);
  return found[0] ?? null;
}

/** The raw task row, exclusively locked until the transaction ends, or null. */
export async function lockTaskRow(conn: Conn, id: number): Promise<RawRow | null> {
  const found = await rows(conn, `SELECT * FROM ${T} WHERE id = ? FOR UPDATE`, [id]);
  return found[0] ?? null;
}

/** The decoded task, or null. */
export async function selectTask(conn: Conn, id: number): Promise<Task | null> {
  const row = await selectTaskRow(conn, id);
  return row ? decodeTask(row) : null;
}

/** Decoded tasks by id, in the order of `ids`. */
export async function selectTasks(conn: Conn, ids: number[]): Promise<Task[]> {
  if (ids.length === 0) return [];
  const found = (await rows(conn, `SELECT * FROM ${T} WHERE id IN (?)`, [ids])).map(decodeTask);
  const byId = new Map(found.map((t) => [t.id, t]));
  return ids.map((id) => byId.get(id)).filter((t): t is Task => t !== undefined);
}

/** Column assignments for an UPDATE, as SQL and params (keys are trusted column names). */
export function assignments(values: Record<string, unknown>): { sql: string; params: unknown[] } {
  const keys = Object.keys(values);
  return { sql: keys.map((k) => `\`${k}\` = ?`).join(', '), params: keys.map((k) => values[k]) };
}

/** `UPDATE taskmill_tasks SET … WHERE id = ?`. */
export async function updateTask(conn: Conn, id: number, values: Record<string, unknown>): Promise<number> {
  const set = assignments(values);
  const { affectedRows } = await exec(conn, `UPDATE ${T} SET ${set.sql} WHERE id = ?`, [...set.params, id]);
  return affectedRows;
}

/**
 * Insert audit events (one multi-row INSERT) and point each task's `last_event_time` /
 * `last_event_type` at its last event. Returns the id of the first event.
 */
export async function insertEvents(conn: Conn, drafts: EventDraft[]): Promise<number> {
  if (drafts.length === 0) return 0;
  const values = drafts.map((d) => [
    d.task_id,
    d.root_id,
    d.parent_id,
    d.event_type,
    d.from_status,
    d.to_status,
    d.stage,
    d.worker_id,
    d.attempt,
    d.event_time,
    d.message,
    d.metadata === null ? null : JSON.stringify(d.metadata),
  ]);
  const { insertId } = await exec(
    conn,
    `INSERT INTO ${E} (task_id, root_id, parent_id, event_type, from_status, to_status, stage, worker_id, attempt, event_time, message, metadata) VALUES ?`,
    [values],
  );
  // the last event of each task wins; group tasks sharing (time, type) into one UPDATE
  const last = new Map<number, EventDraft>();
  for (const d of drafts) last.set(d.task_id, d);
  const groups = new Map<string, { time: number; type: string; ids: number[] }>();
  for (const [taskId, d] of last) {
    const key = `${d.event_time}\u0000${d.event_type}`;
    const group = groups.get(key) ?? { time: d.event_time, type: d.event_type, ids: [] };
    group.ids.push(taskId);
    groups.set(key, group);
  }
  for (const g of groups.values()) {
    await exec(conn, `UPDATE ${T} SET last_event_time = ?, last_event_type = ? WHERE id IN (?)`, [g.time, g.type, g.ids]);
  }
  return insertId;
}

/** Close the open attempt `attempt` of a task. */
export async function closeAttempt(
  conn: Conn,
  taskId: number,
  attempt: number,
  fields: { ended_at: number; outcome: string; error: string | null; timeout_flag: boolean },
): Promise<void> {
  await exec(
    conn,
    `UPDATE ${A} SET ended_at = ?, outcome = ?, error = ?, timeout_flag = ? WHERE task_id = ? AND attempt = ? AND ended_at IS NULL`,
    [fields.ended_at, fields.outcome, fields.error, fields.timeout_flag, taskId, attempt],
  );
}

/** Split a list into chunks (keeps `IN (…)` lists and packets bounded). */
export function chunks<V>(list: V[], size: number): V[][] {
  const out: V[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}
