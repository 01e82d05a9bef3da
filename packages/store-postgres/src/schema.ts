import { sql } from 'drizzle-orm';
import { primaryKey,
  bigint,
  bigserial,
  boolean,
  customType,
  doublePrecision,
  index,
  uniqueIndex,
  integer,
  pgTable,
  text,
  varchar,
} from 'drizzle-orm/pg-core';

/*
 * The drizzle schema of the PostgreSQL store: the tables of docs/behaviour.md#schema with the column
 * names of the store kit's tables.ts. It exists to generate the versioned migrations in ../drizzle
 * (`pnpm db:generate`); queries are written as dialect-tuned SQL against schema-qualified names.
 *
 * Tables are declared without a schema: the migrator runs with `search_path` set to the store's
 * configured schema, so one migration serves every schema (tests give each run its own).
 * Times are BIGINT epoch milliseconds (docs/behaviour.md#time); the database clock is never used.
 */

const bytea = customType<{ data: Buffer; driverData: Buffer }>({
  dataType() {
    return 'bytea';
  },
});

const ms = (name: string) => bigint(name, { mode: 'number' });

/**
 * `varchar(255) COLLATE "C"`: a text compared and ordered byte-wise whatever the database's
 * collation. The kit keeps a cursor into the keys' order and compares keys in JavaScript (code
 * point order), so the order the index walks must be the same; with a linguistic collation
 * (`en_US.UTF-8`: `a` < `B`) a pass over the keys would skip some and visit others twice. Byte-wise
 * comparisons are also cheaper than the locale's.
 */
const bytewiseKey = customType<{ data: string; driverData: string }>({
  dataType() {
    return 'varchar(255) COLLATE "C"';
  },
});

/** `taskmill_tasks`. */
export const tasks = pgTable(
  'taskmill_tasks',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    name: varchar('name', { length: 255 }).notNull(),
    type: varchar('type', { length: 10 }).notNull(),
    priority: integer('priority').notNull().default(0),
    payload: text('payload'),
    created_at: ms('created_at').notNull(),
    tag: varchar('tag', { length: 255 }),
    status: varchar('status', { length: 20 }).notNull().default('pending'),
    next_run_time: ms('next_run_time').notNull(),
    last_active_time: ms('last_active_time'),
    last_event_time: ms('last_event_time'),
    last_event_type: varchar('last_event_type', { length: 100 }),
    result: text('result'),
    error: text('error'),
    current_stage_name: varchar('current_stage_name', { length: 255 }),
    progress_text: text('progress_text'),
    progress_percent: doublePrecision('progress_percent'),
    stage: integer('stage').notNull().default(0),
    timeout: doublePrecision('timeout').notNull().default(60),
    retry_count: integer('retry_count').notNull().default(0),
    max_retries: integer('max_retries').notNull().default(3),
    retry_interval: doublePrecision('retry_interval').notNull().default(0),
    cron_expr: varchar('cron_expr', { length: 100 }),
    cron_tz: varchar('cron_tz', { length: 100 }),
    root_id: bigint('root_id', { mode: 'number' }),
    parent_id: bigint('parent_id', { mode: 'number' }),
    total_children: integer('total_children').notNull().default(0),
    completed_children: integer('completed_children').notNull().default(0),
    worker_id: varchar('worker_id', { length: 255 }),
    start_time: ms('start_time'),
    context: bytea('context'),
    attempt: integer('attempt').notNull().default(0),
    suspend_reason: varchar('suspend_reason', { length: 255 }),
    children_results: text('children_results'),
    parent_credited: boolean('parent_credited').notNull().default(false),
    retry_backoff: varchar('retry_backoff', { length: 16 }).notNull().default('fixed'),
    retry_max_interval: doublePrecision('retry_max_interval'),
    retry_jitter: doublePrecision('retry_jitter').notNull().default(0),
    unique_key: varchar('unique_key', { length: 255 }),
    unique_scope: varchar('unique_scope', { length: 16 }),
    unique_until: ms('unique_until'),
    unique_slot: varchar('unique_slot', { length: 255 }),
    trace_context: varchar('trace_context', { length: 1024 }),
    concurrency_key: bytewiseKey('concurrency_key'),
    dead_letter: varchar('dead_letter', { length: 255 }),
    on_failure: varchar('on_failure', { length: 16 }),
    keep_stage: integer('keep_stage').notNull().default(0),
    wake_at: ms('wake_at'),
    awaited_signal: varchar('awaited_signal', { length: 255 }),
    received_signal: text('received_signal'),
  },
  (t) => [
    // Claim order (docs/behaviour.md#claiming) over every claimable status: failed/timeout rows wait for their
    // retry in place (docs/behaviour.md#retries), so the claim scans one ordered partial index instead of sorting.
    // The index order must be exactly the kit's CLAIM_ORDER_SQL (`priority DESC` sorts NULLs
    // first): with `DESC NULLS LAST` the planner cannot use it for that ORDER BY and sorts every
    // due row, although the column is NOT NULL.
    index('idx_task_scheduling')
      .on(t.priority.desc().nullsFirst(), t.next_run_time, t.id)
      .where(sql`status IN ('pending', 'failed', 'timeout')`),
    // One capped name's candidates (a claim with `name_limits` runs one LIMIT query per capped
    // name): by the claim-order index alone a rare name among many due tasks would be found
    // only by walking the whole queue.
    index('idx_task_claim_name')
      .on(t.name, t.priority.desc().nullsFirst(), t.next_run_time, t.id)
      .where(sql`status IN ('pending', 'failed', 'timeout')`),
    // A keyed name's claims (docs/behaviour.md#flow-control): the next key after a cursor is one
    // probe of this index (a loose index scan, never a read of a key's rows), and each key's due
    // tasks are its first entries in claim order. NULL keys are indexed too: the name's unkeyed
    // tasks are read in claim order through `concurrency_key IS NULL`. Same predicate and
    // `NULLS FIRST` as idx_task_claim_name, for the same reason.
    index('idx_task_claim_key')
      .on(t.name, t.concurrency_key, t.priority.desc().nullsFirst(), t.next_run_time, t.id)
      .where(sql`status IN ('pending', 'failed', 'timeout')`),
    index('idx_task_timeout').on(t.last_active_time).where(sql`status = 'running'`),
    // retention's oldest-first batches, one ordered range per status (retention.ts); partial, so
    // live tasks cost no entry and a task gets one when it reaches a status retention may delete
    index('idx_task_retention')
      .on(t.status, t.last_active_time, t.created_at)
      .where(sql`status IN ('completed', 'permanently_failed', 'paused')`),
    index('idx_task_workflow').on(t.parent_id, t.status).where(sql`parent_id IS NOT NULL`),
    index('idx_task_stats').on(t.tag, t.name, t.status),
    // no index on last_event_*: no query filters or sorts by them, and every event rewrote its entry
    index('idx_task_root_created').on(t.root_id, t.created_at).where(sql`root_id IS NOT NULL`),
    // (no index of the running tasks by worker: recovery finds a worker's running tasks through
    // idx_task_timeout, which holds every running task and no other, and they are few; each claim
    // paid an entry for a lookup made when a worker dies; migration "lean_writes")
    // Unique tasks: at most one task of a name holds a key while its scope lasts (released by
    // setting the slot NULL); partial, so tasks without a key cost no index entry.
    uniqueIndex('idx_task_unique').on(t.name, t.unique_slot).where(sql`unique_slot IS NOT NULL`),
    // timed waits (docs/behaviour.md#durable-sleep): the wake sweep reads the due ones and the
    // earliest one through this; partial, so only a task in a timed wait has an entry
    index('idx_task_wake').on(t.wake_at).where(sql`wake_at IS NOT NULL`),
  ],
);

/** `taskmill_task_events`: the audit log (no foreign key: cleanup deletes by id lists). */
export const taskEvents = pgTable(
  'taskmill_task_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    task_id: bigint('task_id', { mode: 'number' }).notNull(),
    root_id: bigint('root_id', { mode: 'number' }),
    parent_id: bigint('parent_id', { mode: 'number' }),
    event_type: varchar('event_type', { length: 100 }).notNull(),
    from_status: varchar('from_status', { length: 32 }),
    to_status: varchar('to_status', { length: 32 }),
    stage: integer('stage'),
    worker_id: varchar('worker_id', { length: 255 }),
    attempt: integer('attempt'),
    event_time: ms('event_time').notNull(),
    message: text('message'),
    metadata: text('metadata'),
  },
  (t) => [
    // Every event read is scoped to one task or one workflow (queryTaskEvents, queryWorkflowEvents;
    // retention deletes by task_id), so these two are the only event indexes a query needs; an index
    // per filter column (parent, type, worker, stage, attempt; docs/behaviour.md#schema) cost five more index
    // entries per event on every write and served no query (migration "drop_unqueried_indexes").
    index('idx_task_events_task_time').on(t.task_id, t.event_time),
    // A workflow's events are those whose root_id is the root (a top-level task's events carry
    // its own id). Only a child's events need this index: the root's own are its task_id's, read
    // through idx_task_events_task_time (queries.ts reads a workflow as those two ordered ranges),
    // so a task that is not in a workflow writes no entry here: four fewer index entries per
    // plain task (migration "lean_writes_2"). The predicate must stay `task_id <> root_id`,
    // spelled so, for the planner to match the reads' clause to it.
    index('idx_task_events_root_time').on(t.root_id, t.event_time).where(sql`task_id <> root_id`),
  ],
);

/** `taskmill_task_attempts`: one row per execution round. */
export const taskAttempts = pgTable(
  'taskmill_task_attempts',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    task_id: bigint('task_id', { mode: 'number' }).notNull(),
    // the task's name, written at claim: a rate limit counts the attempts of a name started in
    // its window (docs/behaviour.md#flow-control); null on rows from before the column existed
    name: varchar('name', { length: 255 }),
    attempt: integer('attempt').notNull(),
    worker_id: varchar('worker_id', { length: 255 }),
    started_at: ms('started_at').notNull(),
    ended_at: ms('ended_at'),
    outcome: varchar('outcome', { length: 32 }),
    error: text('error'),
    timeout_flag: boolean('timeout_flag').notNull().default(false),
    // the task's next_run_time when claimed: the attempt's wait is started_at − due_at
    // (docs/behaviour.md#queue-health); null on rows from before the column existed
    due_at: ms('due_at'),
  },
  (t) => [
    // attempt reads are scoped to a task or a workflow's tasks too: no index per worker or outcome
    // also how an attempt is closed (task_id, attempt, ended_at IS NULL). No other index names a
    // column an attempt's close changes, so the close is a HOT update (no new index entries) where
    // the page has room, which the table's fillfactor 90 keeps (migration "lean_writes")
    index('idx_task_attempts_task_attempt').on(t.task_id, t.attempt),
    // a rate limit's starts in the window, newest first, as one range of the name's entries
    index('idx_task_attempts_name_started').on(t.name, t.started_at),
  ],
);

/** `taskmill_workers`: the worker registry (docs/behaviour.md#worker-registry). */
export const workers = pgTable(
  'taskmill_workers',
  {
    worker_id: varchar('worker_id', { length: 255 }).primaryKey(),
    pod_id: varchar('pod_id', { length: 255 }),
    status: varchar('status', { length: 32 }).notNull().default('active'),
    host: varchar('host', { length: 255 }),
    pid: integer('pid'),
    registered_at: ms('registered_at').notNull(),
    last_seen_at: ms('last_seen_at').notNull(),
    expires_at: ms('expires_at').notNull(),
    superseded_at: ms('superseded_at'),
    dead_at: ms('dead_at'),
    meta: text('meta'),
  },
  (t) => [
    index('idx_task_workers_pod_id').on(t.pod_id),
    index('idx_task_workers_status_expires').on(t.status, t.expires_at),
    index('idx_task_workers_pod_status').on(t.pod_id, t.status),
  ],
);

/** `taskmill_paused_names`: names paused cluster-wide (docs/behaviour.md#flow-control), read by every claim. */
export const pausedNames = pgTable('taskmill_paused_names', {
  name: varchar('name', { length: 255 }).primaryKey(),
  paused_at: ms('paused_at').notNull(),
  paused_by: varchar('paused_by', { length: 255 }),
  reason: text('reason'),
});

/** `taskmill_task_signals`: signals sent to tasks (docs/behaviour.md#signals), consumed by a wait of their name. */
export const taskSignals = pgTable(
  'taskmill_task_signals',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    task_id: bigint('task_id', { mode: 'number' }).notNull(),
    name: varchar('name', { length: 255 }).notNull(),
    data: text('data'),
    sent_at: ms('sent_at').notNull(),
    consumed_at: ms('consumed_at'),
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
export const healthMinutes = pgTable(
  'taskmill_health_minutes',
  {
    minute: bigint('minute', { mode: 'number' }).notNull(),
    name: varchar('name', { length: 255 }).notNull(),
    kind: varchar('kind', { length: 1 }).notNull(),
    k: bigint('k', { mode: 'number' }).notNull(),
    n: integer('n').notNull(),
    c: integer('c').notNull(),
    f: integer('f').notNull(),
  },
  (t) => [primaryKey({ columns: [t.minute, t.name, t.kind, t.k] })],
);
