import { assertStorableText, LIMITS, utf8Bytes, ValidationError, type NamePause } from '@taskmill/contracts';
import { eventRow } from '../rows-to-write.js';
import type { RawRow } from '../codec.js';
import type { StoreReader, StoreWriter } from '../statements.js';

/*
 * Pausing a task name cluster-wide (docs/behaviour.md#flow-control): a row per paused name, read by
 * every claim, and a `name_paused` / `name_resumed` event that belongs to no task (`task_id` 0).
 */

/** A task name as the pause calls take it: a non-empty string of at most 255 characters. */
function pauseName(value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new ValidationError('Task name must be a non-empty string');
  if (value.length > LIMITS.max_name_length) throw new ValidationError(`Task name must be at most ${LIMITS.max_name_length} characters`);
  return assertStorableText(value, 'Task name');
}

/** An optional short text (who, why): null, or a string within the free-text limit. */
function optionalText(value: unknown, what: string, maxLength: number): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new ValidationError(`${what} must be a string`);
  if (value.length > maxLength || utf8Bytes(value) > LIMITS.max_text_bytes) throw new ValidationError(`${what} must be at most ${maxLength} characters`);
  return assertStorableText(value, what);
}

function decodePause(row: RawRow): NamePause {
  return {
    name: String(row.name),
    paused_at: Number(row.paused_at),
    paused_by: row.paused_by === null || row.paused_by === undefined ? null : String(row.paused_by),
    reason: row.reason === null || row.reason === undefined ? null : String(row.reason),
  };
}

/** The event of a name's pause or resume (no task: `task_id` 0, the name in `metadata`). */
function nameEvent(type: 'name_paused' | 'name_resumed', name: string, by: string | null, reason: string | null, now: number) {
  return eventRow({
    task_id: 0,
    root_id: null,
    parent_id: null,
    event_type: type,
    from_status: null,
    to_status: null,
    stage: null,
    worker_id: null,
    attempt: null,
    event_time: now,
    message: reason,
    metadata: { name, by },
  });
}

/** Validate a pause call's input before the transaction (nothing is written on a bad one). */
export function pauseInput(name: unknown, options: unknown): { name: string; by: string | null; reason: string | null } {
  const checked = pauseName(name);
  if (options !== undefined && options !== null && (typeof options !== 'object' || Array.isArray(options))) throw new ValidationError('options must be an object');
  const given = (options ?? {}) as { by?: unknown; reason?: unknown };
  return {
    name: checked,
    by: optionalText(given.by, 'by', LIMITS.max_name_length),
    reason: optionalText(given.reason, 'reason', LIMITS.max_text_bytes),
  };
}

/** See `TaskStore.pauseName`. */
export async function pauseTaskName(
  tx: StoreWriter,
  input: { name: string; by: string | null; reason: string | null },
  now: number,
): Promise<{ changed: boolean; pause: NamePause }> {
  const row = { name: input.name, paused_at: now, paused_by: input.by, reason: input.reason };
  if (await tx.insertPausedName(row)) {
    await tx.insertEvents([nameEvent('name_paused', input.name, input.by, input.reason, now)]);
    return { changed: true, pause: row };
  }
  const found = (await tx.selectPausedNames()).find((pause) => String(pause.name) === input.name);
  return { changed: false, pause: found ? decodePause(found) : row };
}

/** See `TaskStore.resumeName`. */
export async function resumeTaskName(tx: StoreWriter, input: { name: string; by: string | null }, now: number): Promise<boolean> {
  if (!(await tx.deletePausedName(input.name))) return false;
  await tx.insertEvents([nameEvent('name_resumed', input.name, input.by, null, now)]);
  // its pending tasks are claimable again: tell the other processes, as an enqueue does
  await tx.wake();
  return true;
}

/** See `TaskStore.listPausedNames`. */
export async function listPausedNames(reader: StoreReader): Promise<NamePause[]> {
  return (await reader.selectPausedNames()).map(decodePause).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
