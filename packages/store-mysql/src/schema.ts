import { primaryKey, bigint, boolean, customType, double, index, int, longtext, mysqlTable, text, uniqueIndex, varbinary, varchar } from 'drizzle-orm/mysql-core';
import { sql } from 'drizzle-orm';

/*
 * The drizzle schema of the MySQL/MariaDB store: same table and column names as every store
 * (the store kit's `tables.ts`, docs/behaviour.md#schema). drizzle-kit generates the migrations in
 * `../drizzle` from this file; the store's queries are hand-written SQL over the same names.
 *
 * MySQL-specific choices:
 * - every time is a BIGINT of epoch ms; ids are BIGINT AUTO_INCREMENT;
 * - statuses and types are VARCHAR, not ENUM: an ENUM sorts by declaration order, and
 *   `getTaskStatsByTag` must order by the status text like the other stores;
 * - columns that are indexed are VARCHAR (MySQL cannot index TEXT without a prefix);
 *   payload/result/children_results/error/metadata are LONGTEXT and `context` LONGBLOB, so
 *   none of them has the 64 KiB limit of TEXT/BLOB;
 * - no foreign keys: no store silently cascades deletes (docs/behaviour.md#schema);
 * - the tables are InnoDB, utf8mb4 with the binary collation, so that text compares and sorts
 *   byte-wise (case-sensitive) as in SQLite and PostgreSQL. drizzle-kit cannot express table
 *   options, so the generated `CREATE TABLE` statements got the `ENGINE=… COLLATE=…` suffix
 *   appended by hand (the snapshot does not track them).
 */

const longblob = customType<{ data: Buffer; driverData: Buffer }>({
  dataType() {
    return 'longblob';
  },
});

const ms = (name: string) => bigint(name, { mode: 'number' });

/** `taskmill_tasks`. */
export const tasks = mysqlTable(
  'taskmill_tasks',
  {
    id: ms('id').autoincrement().primaryKey(),
    name: varchar('name', { length: 255 }).notNull(),
    type: varchar('type', { length: 16 }).notNull(),
    priority: int('priority').notNull().default(0),
    payload: longtext('payload'),
    created_at: ms('created_at').notNull(),
    tag: varchar('tag', { length: 255 }),
    status: varchar('status', { length: 32 }).notNull().default('pending'),
    next_run_time: ms('next_run_time').notNull(),
    last_active_time: ms('last_active_time'),
    last_event_time: ms('last_event_time'),
    last_event_type: varchar('last_event_type', { length: 100 }),
    result: longtext('result'),
    error: longtext('error'),
    current_stage_name: varchar('current_stage_name', { length: 255 }),
    progress_text: text('progress_text'),
    progress_percent: double('progress_percent'),
    stage: int('stage').notNull().default(0),
    timeout: double('timeout').notNull().default(60),
    retry_count: int('retry_count').notNull().default(0),
    max_retries: int('max_retries').notNull().default(3),
    retry_interval: double('retry_interval').notNull().default(0),
    cron_expr: varchar('cron_expr', { length: 100 }),
    cron_tz: varchar('cron_tz', { length: 100 }),
    root_id: ms('root_id'),
    parent_id: ms('parent_id'),
    total_children: int('total_children').notNull().default(0),
    completed_children: int('completed_children').notNull().default(0),
    worker_id: varchar('worker_id', { length: 255 }),
    start_time: ms('start_time'),
    context: longblob('context'),
    attempt: int('attempt').notNull().default(0),
    suspend_reason: text('suspend_reason'),
    children_results: longtext('children_results'),
    parent_credited: boolean('parent_credited').notNull().default(false),
    retry_backoff: varchar('retry_backoff', { length: 16 }).notNull().default('fixed'),
    retry_max_interval: double('retry_max_interval'),
    retry_jitter: double('retry_jitter').notNull().default(0),
    unique_key: varchar('unique_key', { length: 255 }),
    unique_scope: varchar('unique_scope', { length: 16 }),
    unique_until: ms('unique_until'),
    // VARBINARY, not VARCHAR: the binary collation of a VARCHAR still pads with spaces, so `abc` and
    // `abc ` would be one key here and two on PostgreSQL and SQLite; bytes compare exactly
    unique_slot: varbinary('unique_slot', { length: 1020 }),
    trace_context: varchar('trace_context', { length: 1024 }),
    concurrency_key: varchar('concurrency_key', { length: 255 }),
    dead_letter: varchar('dead_letter', { length: 255 }),
    on_failure: varchar('on_failure', { length: 16 }),
    keep_stage: int('keep_stage').notNull().default(0),
    // Where a claimable task sits in the keyed claim's index (claim.ts `keyedCandidates`,
    // docs/behaviour.md#flow-control): NULL unless the task is claimable, '' for a claimable task
    // without a key, and 'k' followed by the key's bytes for a keyed one. MariaDB and MySQL have
    // no partial index, so this column is one: the rows it is NULL for (running, completed…) sit
    // apart at the start of their name's range and no probe reads them, and one range holds the
    // three claimable statuses, so the distinct keys are a single ordered run. Bytes, not text: a
    // VARCHAR's binary collation still pads with spaces (see unique_slot), so `a` and `a ` would
    // compare equal and a probe for the key after `a` would skip `a ` for good; the prefix keeps
    // the unkeyed tasks apart from a key that is the empty string. STORED, not VIRTUAL: an index
    // on a stored column is a plain index, while InnoDB must recompute an indexed virtual column
    // in purge and rollback, which has had a long run of bugs on MariaDB; the price is that adding
    // it rebuilds the table once (migration "flow_control"; about 25 s per million tasks on a
    // small server, with writes waiting).
    claim_key: varbinary('claim_key', { length: 1021 }).generatedAlwaysAs(
      sql`CASE WHEN \`status\` IN ('pending', 'failed', 'timeout') THEN CAST(IF(\`concurrency_key\` IS NULL, '', CONCAT('k', \`concurrency_key\`)) AS BINARY) END`,
      { mode: 'stored' },
    ),
    wake_at: ms('wake_at'),
    awaited_signal: varchar('awaited_signal', { length: 255 }),
    received_signal: longtext('received_signal'),
  },
  (t) => [
    index('idx_task_scheduling').on(t.status, t.next_run_time, t.priority),
    // the claim's order within one status (claim.ts reads each claimable status along it, so a
    // claim stops after LIMIT rows instead of sorting every due row); name makes the peek covering
    index('idx_task_claim_order').on(t.status, sql`\`priority\` DESC`, t.next_run_time, t.id, t.name),
    index('idx_task_timeout').on(t.status, t.last_active_time),
    index('idx_task_workflow').on(t.parent_id, t.status, t.completed_children),
    index('idx_task_stats').on(t.tag, t.name, t.status),
    // no index on last_event_*: no query filters or sorts by them, and every event rewrote its entry
    index('idx_task_root_created').on(t.root_id, t.created_at),
    // beyond fib-flow's (docs/behaviour.md#schema): the claim's name filter, recovery by owner, the total-timeout sweep, the
    // created_at order of queryTasks and retention's oldest-first scan
    index('idx_task_claim_name').on(t.name, t.status, t.next_run_time),
    index('idx_task_worker_status').on(t.worker_id, t.status),
    index('idx_task_running_start').on(t.status, t.start_time),
    index('idx_task_created').on(t.created_at),
    index('idx_task_retention').on(t.status, t.last_active_time, t.created_at),
    // unique tasks: at most one task of a name holds a key while its scope lasts (released by
    // setting the slot NULL; NULLs never collide in a UNIQUE index)
    uniqueIndex('idx_task_unique').on(t.name, t.unique_slot),
    // the keyed claim (claim.ts): one probe per distinct key of a name's claimable tasks, each
    // key's due tasks in claim order, and the unkeyed ones (claim_key '') the same way
    index('idx_task_claim_key').on(t.name, t.claim_key, sql`\`priority\` DESC`, t.next_run_time, t.id),
    // timed waits (docs/behaviour.md#durable-sleep): the wake sweep's due rows and the earliest one
    // (NULL for every task not in a timed wait; a range `wake_at <= ?` never reads those)
    index('idx_task_wake').on(t.wake_at),
  ],
);

/** `taskmill_task_events`. */
export const taskEvents = mysqlTable(
  'taskmill_task_events',
  {
    id: ms('id').autoincrement().primaryKey(),
    task_id: ms('task_id').notNull(),
    root_id: ms('root_id'),
    parent_id: ms('parent_id'),
    event_type: varchar('event_type', { length: 100 }).notNull(),
    from_status: varchar('from_status', { length: 32 }),
    to_status: varchar('to_status', { length: 32 }),
    stage: int('stage'),
    worker_id: varchar('worker_id', { length: 255 }),
    attempt: int('attempt'),
    event_time: ms('event_time').notNull(),
    message: longtext('message'),
    metadata: longtext('metadata'),
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
export const taskAttempts = mysqlTable(
  'taskmill_task_attempts',
  {
    id: ms('id').autoincrement().primaryKey(),
    task_id: ms('task_id').notNull(),
    // the task's name, so that a rate limit counts the starts of a name in a window by index
    // (docs/behaviour.md#flow-control); NULL on attempts recorded before the column existed
    name: varchar('name', { length: 255 }),
    attempt: int('attempt').notNull(),
    worker_id: varchar('worker_id', { length: 255 }),
    started_at: ms('started_at').notNull(),
    ended_at: ms('ended_at'),
    outcome: varchar('outcome', { length: 32 }),
    error: longtext('error'),
    timeout_flag: boolean('timeout_flag').notNull().default(false),
    // the task's next_run_time when claimed: the attempt's wait is started_at − due_at
    // (docs/behaviour.md#queue-health); null on rows from before the column existed
    due_at: ms('due_at'),
  },
  (t) => [
    // attempt reads are scoped to a task or a workflow's tasks too: no index per worker or outcome
    index('idx_task_attempts_task_attempt').on(t.task_id, t.attempt),
    index('idx_task_attempts_task_open').on(t.task_id, t.ended_at, t.attempt),
    // rate limits: the starts of a name since a time (claim.ts `countStarts`)
    index('idx_task_attempts_name_started').on(t.name, t.started_at),
  ],
);

/** `taskmill_workers`. */
export const workers = mysqlTable(
  'taskmill_workers',
  {
    worker_id: varchar('worker_id', { length: 255 }).primaryKey(),
    pod_id: varchar('pod_id', { length: 255 }),
    status: varchar('status', { length: 32 }).notNull(),
    host: varchar('host', { length: 255 }),
    pid: int('pid'),
    registered_at: ms('registered_at').notNull(),
    last_seen_at: ms('last_seen_at').notNull(),
    expires_at: ms('expires_at').notNull(),
    superseded_at: ms('superseded_at'),
    dead_at: ms('dead_at'),
    meta: longtext('meta'),
  },
  (t) => [
    index('idx_task_workers_pod_id').on(t.pod_id),
    index('idx_task_workers_status_expires').on(t.status, t.expires_at),
    index('idx_task_workers_pod_status').on(t.pod_id, t.status),
  ],
);

/**
 * `taskmill_claim_locks`: one row per task name with a cluster-wide concurrency limit, a rate
 * limit or a per-key limit, whose row lock serialises the claimers of that name (MySQL has no transaction-scoped advisory lock; see
 * claim.ts `lockClaimNames`). Holds nothing else.
 */
export const claimLocks = mysqlTable('taskmill_claim_locks', {
  name: varchar('name', { length: 255 }).primaryKey(),
});

/** `taskmill_paused_names`: one row per task name paused cluster-wide (docs/behaviour.md#flow-control). */
export const pausedNames = mysqlTable('taskmill_paused_names', {
  name: varchar('name', { length: 255 }).primaryKey(),
  paused_at: ms('paused_at').notNull(),
  paused_by: varchar('paused_by', { length: 255 }),
  reason: text('reason'),
});

/** `taskmill_task_signals`: signals sent to tasks (docs/behaviour.md#signals), consumed by a wait of their name. */
export const taskSignals = mysqlTable(
  'taskmill_task_signals',
  {
    id: ms('id').autoincrement().primaryKey(),
    task_id: ms('task_id').notNull(),
    name: varchar('name', { length: 255 }).notNull(),
    data: longtext('data'),
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
 * The name is VARBINARY, as `unique_slot`: a VARCHAR key would hold `a` and `a ` as one.
 */
export const healthMinutes = mysqlTable(
  'taskmill_health_minutes',
  {
    minute: bigint('minute', { mode: 'number' }).notNull(),
    name: varbinary('name', { length: 1020 }).notNull(),
    kind: varchar('kind', { length: 1 }).notNull(),
    k: bigint('k', { mode: 'number' }).notNull(),
    n: int('n').notNull(),
    c: int('c').notNull(),
    f: int('f').notNull(),
  },
  (t) => [primaryKey({ columns: [t.minute, t.name, t.kind, t.k] })],
);
