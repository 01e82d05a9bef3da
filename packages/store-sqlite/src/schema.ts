import { sql } from 'drizzle-orm';
import { primaryKey, blob, check, index, integer, real, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/*
 * The drizzle schema of the SQLite store: the tables of docs/behaviour.md#schema with the names of
 * the store kit's tables.ts. Times are integer epoch milliseconds. drizzle-kit generates the
 * migrations in ../drizzle from this file; the store itself talks SQL through better-sqlite3.
 * No foreign keys: no store cascades deletes the others would not (docs/behaviour.md#schema).
 */

/** `taskmill_tasks`. */
export const tasks = sqliteTable(
  'taskmill_tasks',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    name: text('name').notNull(),
    type: text('type').notNull(),
    priority: integer('priority').notNull().default(0),
    payload: text('payload'),
    created_at: integer('created_at').notNull(),
    tag: text('tag'),
    status: text('status').notNull().default('pending'),
    next_run_time: integer('next_run_time').notNull(),
    last_active_time: integer('last_active_time'),
    last_event_time: integer('last_event_time'),
    last_event_type: text('last_event_type'),
    result: text('result'),
    error: text('error'),
    current_stage_name: text('current_stage_name'),
    progress_text: text('progress_text'),
    progress_percent: real('progress_percent'),
    stage: integer('stage').notNull().default(0),
    // seconds, fractions allowed: INTEGER affinity keeps a REAL value that is not a whole number
    timeout: integer('timeout').notNull().default(60),
    retry_count: integer('retry_count').notNull().default(0),
    max_retries: integer('max_retries').notNull().default(3),
    retry_interval: integer('retry_interval').notNull().default(0),
    cron_expr: text('cron_expr'),
    cron_tz: text('cron_tz'),
    root_id: integer('root_id'),
    parent_id: integer('parent_id'),
    total_children: integer('total_children').notNull().default(0),
    completed_children: integer('completed_children').notNull().default(0),
    worker_id: text('worker_id'),
    start_time: integer('start_time'),
    context: blob('context'),
    attempt: integer('attempt').notNull().default(0),
    suspend_reason: text('suspend_reason'),
    children_results: text('children_results'),
    parent_credited: integer('parent_credited').notNull().default(0),
    retry_backoff: text('retry_backoff').notNull().default('fixed'),
    retry_max_interval: real('retry_max_interval'),
    retry_jitter: real('retry_jitter').notNull().default(0),
    unique_key: text('unique_key'),
    unique_scope: text('unique_scope'),
    unique_until: integer('unique_until'),
    unique_slot: text('unique_slot'),
    trace_context: text('trace_context'),
    concurrency_key: text('concurrency_key'),
    dead_letter: text('dead_letter'),
    on_failure: text('on_failure'),
    keep_stage: integer('keep_stage').notNull().default(0),
    wake_at: integer('wake_at'),
    awaited_signal: text('awaited_signal'),
    received_signal: text('received_signal'),
  },
  (t) => [
    check('taskmill_tasks_type_check', sql`${t.type} IN ('async', 'cron')`),
    check(
      'taskmill_tasks_status_check',
      sql`${t.status} IN ('pending', 'running', 'completed', 'failed', 'timeout', 'permanently_failed', 'paused', 'suspended')`,
    ),
    // Claim order (docs/behaviour.md#claiming) over every claimable status: failed/timeout rows wait for their
    // retry in place (docs/behaviour.md#retries), so a claim walks one ordered partial index and stops at its LIMIT
    // instead of sorting every due row.
    index('idx_task_scheduling')
      .on(sql`${t.priority} DESC`, t.next_run_time, t.id)
      .where(sql`status IN ('pending', 'failed', 'timeout')`),
    // A keyed name's claims (docs/behaviour.md#flow-control): the claimable rows of one name, key by
    // key, each key's in claim order. The next key after a cursor is one probe of this index
    // (never a read of a key's rows), a key's due rows come out in order up to a LIMIT, and the
    // name's unkeyed rows (NULL key, first in the index) likewise. Same partial WHERE as above.
    index('idx_task_claim_key')
      .on(t.name, t.concurrency_key, sql`${t.priority} DESC`, t.next_run_time, t.id)
      .where(sql`status IN ('pending', 'failed', 'timeout')`),
    index('idx_task_timeout').on(t.status, t.last_active_time).where(sql`status = 'running'`),
    index('idx_task_workflow').on(t.parent_id, t.status, t.completed_children),
    index('idx_task_stats').on(t.tag, t.name, t.status),
    // no index on last_event_*: no query filters or sorts by them, and every event rewrote its entry
    index('idx_task_root_created').on(t.root_id, t.created_at),
    // worker recovery and fencing look up a worker's running tasks
    index('idx_task_worker_status').on(t.worker_id, t.status),
    // retention scans by status and age
    index('idx_task_status_active').on(t.status, t.last_active_time),
    // unique tasks: at most one task of a name holds a key while its scope lasts (a slot is
    // released by setting it NULL); partial, so tasks without a key cost no index entry
    uniqueIndex('idx_task_unique').on(t.name, t.unique_slot).where(sql`unique_slot IS NOT NULL`),
    // timed waits (docs/behaviour.md#durable-sleep): the wake sweep's due rows and the earliest
    // one; partial, so only a task in a timed wait has an entry
    index('idx_task_wake').on(t.wake_at).where(sql`wake_at IS NOT NULL`),
  ],
);

/** `taskmill_task_events`. */
export const taskEvents = sqliteTable(
  'taskmill_task_events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    task_id: integer('task_id').notNull(),
    root_id: integer('root_id'),
    parent_id: integer('parent_id'),
    event_type: text('event_type').notNull(),
    from_status: text('from_status'),
    to_status: text('to_status'),
    stage: integer('stage'),
    worker_id: text('worker_id'),
    attempt: integer('attempt'),
    event_time: integer('event_time').notNull(),
    message: text('message'),
    metadata: text('metadata'),
  },
  (t) => [
    // Every event read is scoped to one task or one workflow (queryTaskEvents, queryWorkflowEvents;
    // retention deletes by task_id), so these two are the only event indexes a query needs; an index
    // per filter column (parent, type, worker, stage, attempt; docs/behaviour.md#schema) cost five more index
    // entries per event on every write and served no query (migration "drop_unqueried_indexes").
    index('idx_task_events_task_time').on(t.task_id, t.event_time),
    index('idx_task_events_root_time').on(t.root_id, t.event_time),
  ],
);

/** `taskmill_task_attempts`. */
export const taskAttempts = sqliteTable(
  'taskmill_task_attempts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    task_id: integer('task_id').notNull(),
    // the task's name, copied at claim: a rate limit counts the name's starts in a window
    // (docs/behaviour.md#flow-control) without joining the tasks; NULL in rows written before it
    name: text('name'),
    attempt: integer('attempt').notNull(),
    worker_id: text('worker_id'),
    started_at: integer('started_at').notNull(),
    ended_at: integer('ended_at'),
    outcome: text('outcome'),
    error: text('error'),
    timeout_flag: integer('timeout_flag').notNull().default(0),
    // the task's next_run_time when claimed: the attempt's wait is started_at − due_at
    // (docs/behaviour.md#queue-health); null on rows from before the column existed
    due_at: integer('due_at'),
  },
  (t) => [
    // attempt reads are scoped to a task or a workflow's tasks too: no index per worker or outcome
    index('idx_task_attempts_task_attempt').on(t.task_id, t.attempt),
    index('idx_task_attempts_task_open').on(t.task_id, t.ended_at, t.attempt),
    // a name's starts since a time, newest first (countStarts)
    index('idx_task_attempts_name_started').on(t.name, t.started_at),
  ],
);

/**
 * `taskmill_paused_names`: names paused cluster-wide (docs/behaviour.md#flow-control), one row per
 * paused name; every claim reads it by primary key.
 */
export const pausedNames = sqliteTable('taskmill_paused_names', {
  name: text('name').primaryKey(),
  paused_at: integer('paused_at').notNull(),
  paused_by: text('paused_by'),
  reason: text('reason'),
});

/** `taskmill_workers`. */
export const workers = sqliteTable(
  'taskmill_workers',
  {
    worker_id: text('worker_id').primaryKey(),
    pod_id: text('pod_id'),
    status: text('status').notNull().default('active'),
    host: text('host'),
    pid: integer('pid'),
    registered_at: integer('registered_at').notNull(),
    last_seen_at: integer('last_seen_at').notNull(),
    expires_at: integer('expires_at').notNull(),
    superseded_at: integer('superseded_at'),
    dead_at: integer('dead_at'),
    meta: text('meta'),
  },
  (t) => [
    check('taskmill_workers_status_check', sql`${t.status} IN ('active', 'superseded', 'dead')`),
    index('idx_task_workers_pod_id').on(t.pod_id),
    index('idx_task_workers_status_expires').on(t.status, t.expires_at),
    index('idx_task_workers_pod_status').on(t.pod_id, t.status),
  ],
);

/** `taskmill_task_signals`: signals sent to tasks (docs/behaviour.md#signals), consumed by a wait of their name. */
export const taskSignals = sqliteTable(
  'taskmill_task_signals',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    task_id: integer('task_id').notNull(),
    name: text('name').notNull(),
    data: text('data'),
    sent_at: integer('sent_at').notNull(),
    consumed_at: integer('consumed_at'),
  },
  // a wait takes the task's oldest kept signal of a name; retention deletes by task
  (t) => [index('idx_task_signals_task_name').on(t.task_id, t.name, t.id)],
);

/**
 * `taskmill_health_minutes`: queue health's rollup of closed minutes (docs/behaviour.md#queue-health),
 * written by the reader of `getQueueHealth` only (never by a claim or a finish): per minute an
 * attempt started in (epoch minutes), name, kind and key, the counts of the kit's minute rows; a
 * `*` row (name '') marks a minute rolled up whole. Rows older than 8 days are deleted by the fill.
 */
export const healthMinutes = sqliteTable(
  'taskmill_health_minutes',
  {
    minute: integer('minute').notNull(),
    name: text('name').notNull(),
    kind: text('kind').notNull(),
    k: integer('k').notNull(),
    n: integer('n').notNull(),
    c: integer('c').notNull(),
    f: integer('f').notNull(),
  },
  (t) => [primaryKey({ columns: [t.minute, t.name, t.kind, t.k] })],
);
