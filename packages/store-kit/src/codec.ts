import type {
  AttemptOutcome,
  ChildResult,
  EventType,
  ReceivedSignal,
  Task,
  TaskId,
  TaskAttempt,
  TaskEvent,
  TaskStatus,
  TaskType,
  WorkerRecord,
  WorkerStatus,
} from '@taskmill/contracts';

/*
 * Shared row decoding, so that every store returns byte-for-byte the same objects whatever its
 * driver hands back (bigint strings from PostgreSQL, 0/1 booleans from SQLite, Buffers…).
 */

/** A task row as it comes out of a driver: JSON still text, numbers possibly strings. */
export type RawRow = Record<string, unknown>;

function num(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string' && value !== '') return Number(value);
  return Number.NaN;
}

function numOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : num(value);
}

function strOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

/** Parse stored JSON text; text that is not valid JSON is returned as is. */
export function parseJson(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function bytesOrNull(value: unknown): Uint8Array | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === 'string') return Buffer.from(value, 'binary');
  return null;
}

/** Encode one child's outcome as a line of the parent's `children_results` column. */
export function encodeChildResult(entry: ChildResult): string {
  return `${JSON.stringify(entry)}\n`;
}

/** Decode a `children_results` column into entries sorted by child id (bad lines skipped). */
export function decodeChildResults(text: unknown): ChildResult[] {
  if (typeof text !== 'string' || text === '') return [];
  const out: ChildResult[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const entry = JSON.parse(line) as ChildResult;
      if (entry && typeof entry === 'object' && typeof entry.task_id === 'number') out.push(entry);
    } catch {
      // a line that is not ours is skipped, never fatal
    }
  }
  return out.sort((a, b) => a.task_id - b.task_id);
}

/** Decode a raw `taskmill_tasks` row. */
export function decodeTask(row: RawRow): Task {
  const status = String(row.status) as TaskStatus;
  const stage = num(row.stage ?? 0);
  const usesChildResults = stage >= 1 && status !== 'completed';
  return {
    id: num(row.id),
    name: String(row.name),
    type: String(row.type) as TaskType,
    priority: num(row.priority ?? 0),
    payload: parseJson(row.payload),
    created_at: num(row.created_at),
    tag: strOrNull(row.tag),
    status,
    next_run_time: num(row.next_run_time),
    last_active_time: numOrNull(row.last_active_time),
    last_event_time: numOrNull(row.last_event_time),
    last_event_type: strOrNull(row.last_event_type) as EventType | null,
    result: usesChildResults ? decodeChildResults(row.children_results) : parseJson(row.result),
    error: strOrNull(row.error),
    current_stage_name: strOrNull(row.current_stage_name),
    progress_text: strOrNull(row.progress_text),
    progress_percent: numOrNull(row.progress_percent),
    stage,
    timeout: num(row.timeout),
    retry_count: num(row.retry_count ?? 0),
    max_retries: num(row.max_retries),
    retry_interval: num(row.retry_interval ?? 0),
    cron_expr: strOrNull(row.cron_expr),
    cron_tz: strOrNull(row.cron_tz),
    root_id: numOrNull(row.root_id),
    parent_id: numOrNull(row.parent_id),
    total_children: num(row.total_children ?? 0),
    completed_children: num(row.completed_children ?? 0),
    worker_id: strOrNull(row.worker_id),
    start_time: numOrNull(row.start_time),
    context: bytesOrNull(row.context),
    attempt: num(row.attempt ?? 0),
    suspend_reason: strOrNull(row.suspend_reason),
    retry_backoff: row.retry_backoff === 'exponential' ? 'exponential' : 'fixed',
    retry_max_interval: numOrNull(row.retry_max_interval),
    retry_jitter: num(row.retry_jitter ?? 0),
    unique_key: strOrNull(row.unique_key),
    unique_scope: strOrNull(row.unique_scope) as Task['unique_scope'],
    unique_until: numOrNull(row.unique_until),
    trace_context: strOrNull(row.trace_context),
    concurrency_key: strOrNull(row.concurrency_key),
    dead_letter: strOrNull(row.dead_letter),
    on_failure: strOrNull(row.on_failure) as Task['on_failure'],
    keep_stage: num(row.keep_stage ?? 0) === 1,
    wake_at: numOrNull(row.wake_at),
    awaited_signal: strOrNull(row.awaited_signal),
    received_signal: decodeReceivedSignal(row.received_signal),
  };
}

/** Decode the `received_signal` column (JSON text of a ReceivedSignal) or null. */
function decodeReceivedSignal(value: unknown): ReceivedSignal | null {
  const parsed = parseJson(value);
  return parsed !== null && typeof parsed === 'object' ? (parsed as ReceivedSignal) : null;
}

/** A row of `taskmill_task_signals`, decoded (docs/behaviour.md#signals). */
export interface SignalRow {
  id: number;
  task_id: TaskId;
  name: string;
  /** JSON text or null, as stored. */
  data: string | null;
  sent_at: number;
  consumed_at: number | null;
}

/** Decode a raw `taskmill_task_signals` row. */
export function decodeSignal(row: RawRow): SignalRow {
  return {
    id: num(row.id),
    task_id: num(row.task_id),
    name: String(row.name),
    data: strOrNull(row.data),
    sent_at: num(row.sent_at),
    consumed_at: numOrNull(row.consumed_at),
  };
}

/** Decode a raw `taskmill_task_events` row. */
export function decodeEvent(row: RawRow): TaskEvent {
  const metadata = parseJson(row.metadata);
  return {
    id: num(row.id),
    task_id: num(row.task_id),
    root_id: numOrNull(row.root_id),
    parent_id: numOrNull(row.parent_id),
    event_type: String(row.event_type) as EventType,
    from_status: strOrNull(row.from_status) as TaskStatus | null,
    to_status: strOrNull(row.to_status) as TaskStatus | null,
    stage: numOrNull(row.stage),
    worker_id: strOrNull(row.worker_id),
    attempt: numOrNull(row.attempt),
    event_time: num(row.event_time),
    message: strOrNull(row.message),
    metadata: metadata && typeof metadata === 'object' ? (metadata as Record<string, unknown>) : null,
  };
}

/** Decode a raw `taskmill_task_attempts` row. */
export function decodeAttempt(row: RawRow): TaskAttempt {
  return {
    id: num(row.id),
    task_id: num(row.task_id),
    attempt: num(row.attempt),
    worker_id: strOrNull(row.worker_id),
    started_at: num(row.started_at),
    ended_at: numOrNull(row.ended_at),
    outcome: strOrNull(row.outcome) as AttemptOutcome | null,
    error: strOrNull(row.error),
    timeout_flag: row.timeout_flag === true || num(row.timeout_flag) === 1,
  };
}

/** Decode a raw `taskmill_workers` row. */
export function decodeWorker(row: RawRow): WorkerRecord {
  const meta = parseJson(row.meta);
  return {
    worker_id: String(row.worker_id),
    pod_id: strOrNull(row.pod_id),
    status: String(row.status) as WorkerStatus,
    host: strOrNull(row.host),
    pid: numOrNull(row.pid),
    registered_at: num(row.registered_at),
    last_seen_at: num(row.last_seen_at),
    expires_at: num(row.expires_at),
    superseded_at: numOrNull(row.superseded_at),
    dead_at: numOrNull(row.dead_at),
    meta: meta && typeof meta === 'object' ? (meta as Record<string, unknown>) : null,
  };
}
