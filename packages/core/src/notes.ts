import { LIMITS, ValidationError, assertStorableText, isPlainObject, type TaskNoteInput } from '@taskmill/contracts';
import { toJsonText } from './serialize.js';
import { freeText } from './validate.js';

/*
 * Validation of `task.audit()` and `task.progress()` input (docs/behaviour.md#progress-and-checkpoints), turning it into the
 * store's TaskNoteInput. Messages follow fib-flow's.
 */

/** A trimmed non-empty string every store can hold, at most LIMITS.max_text_bytes long. */
function trimmed(value: unknown, notString: string, empty: string, what: string): string {
  if (typeof value !== 'string') throw new ValidationError(notString);
  const out = value.trim();
  if (out === '') throw new ValidationError(empty);
  return freeText(assertStorableText(out, what), what);
}

function metadataOf(input: Record<string, unknown>, label: string): Record<string, unknown> {
  if (!Object.hasOwn(input, 'metadata') || input.metadata === undefined) return {};
  if (!isPlainObject(input.metadata)) throw new ValidationError(`${label} metadata must be an object`);
  toJsonText(input.metadata, `${label} metadata`, 'max_metadata_bytes');
  return input.metadata;
}

function stageOf(input: Record<string, unknown>): number | undefined {
  if (input.stage === undefined) return undefined;
  if (typeof input.stage !== 'number' || !Number.isSafeInteger(input.stage) || input.stage < 0) {
    throw new ValidationError('stage must be a non-negative integer');
  }
  return input.stage;
}

/** The string form `fn(text, details)` is `fn({[key]: text, ...details})`; the object form is taken as is. */
function inputOf(first: unknown, details: unknown, key: string, label: string, wrongType: string): Record<string, unknown> {
  if (typeof first === 'string') {
    if (details !== undefined && !isPlainObject(details)) throw new ValidationError(`${label} details must be an object`);
    return { ...(details ?? {}), [key]: first };
  }
  if (isPlainObject(first)) return first;
  throw new ValidationError(wrongType);
}

/** `audit(code, details)` / `audit({code, message?, metadata?})` → a checkpoint note. */
export function checkpointNote(codeOrInput: unknown, details?: unknown): TaskNoteInput {
  const input = inputOf(codeOrInput, details, 'code', 'Checkpoint', 'Task checkpoint must be a code string or checkpoint object');
  if (input.code === undefined) throw new ValidationError('Checkpoint code is required');
  const code = trimmed(input.code, 'Checkpoint code must be a string', 'Checkpoint code must not be empty', 'Checkpoint code');
  const message = Object.hasOwn(input, 'message')
    ? trimmed(input.message, 'Checkpoint message must be a string', 'Checkpoint message must not be empty', 'Checkpoint message')
    : undefined;
  const metadata = { code, ...metadataOf(input, 'Checkpoint') };
  return { event_type: 'task_checkpoint', message: message ?? code, metadata, stage: stageOf(input) };
}

/** `progress(text, details)` / `progress({stage_name?, progress_text?, progress_percent?, message?, metadata?})`. */
export function progressNote(textOrInput: unknown, details?: unknown): TaskNoteInput {
  const input = inputOf(textOrInput, details, 'progress_text', 'Progress', 'Task progress must be a text string or progress object');
  const progress: NonNullable<TaskNoteInput['progress']> = {};
  if (input.stage_name !== undefined) {
    const stageName = trimmed(input.stage_name, 'Progress stage_name must be a string', 'Progress stage_name must not be empty', 'Progress stage_name');
    // a VARCHAR(255) column on MySQL and PostgreSQL
    if (stageName.length > LIMITS.max_name_length) throw new ValidationError(`Progress stage_name must be at most ${LIMITS.max_name_length} characters`);
    progress.current_stage_name = stageName;
  }
  if (input.progress_text !== undefined) {
    progress.progress_text = trimmed(input.progress_text, 'Progress text must be a string', 'Progress text must not be empty', 'Progress text');
  }
  if (input.progress_percent !== undefined) {
    const p = input.progress_percent;
    if (typeof p !== 'number' || !Number.isFinite(p) || p < 0 || p > 100) {
      throw new ValidationError('progress_percent must be a number between 0 and 100');
    }
    progress.progress_percent = p;
  }
  if (Object.keys(progress).length === 0) {
    throw new ValidationError('Task progress requires stage_name, progress_text, or progress_percent');
  }
  const message = Object.hasOwn(input, 'message')
    ? trimmed(input.message, 'Progress message must be a string', 'Progress message must not be empty', 'Progress message')
    : undefined;
  const metadata: Record<string, unknown> = {
    ...(progress.current_stage_name !== undefined ? { stage_name: progress.current_stage_name } : {}),
    ...(progress.progress_text !== undefined ? { progress_text: progress.progress_text } : {}),
    ...(progress.progress_percent !== undefined ? { progress_percent: progress.progress_percent } : {}),
    ...metadataOf(input, 'Progress'),
  };
  return {
    event_type: 'task_progress',
    message: message ?? progress.progress_text ?? progress.current_stage_name ?? 'task progress updated',
    metadata,
    progress,
    stage: stageOf(input),
  };
}
