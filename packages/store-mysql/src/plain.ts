import type { Task, TaskId } from '@taskmill/contracts';
import { CLAIM_ORDER_SQL, CLAIMABLE_STATUSES, decodeTask, TABLES, type ClaimPlan, type PlainCompletion, type PlainPaths, type RawRow } from '@taskmill/store-kit';
import type { MysqlConnection } from './connection.js';
import { inPacket, type Packet } from './transaction.js';

/*
 * The common path in one round trip each (docs/behaviour.md#one-round-trip): a claim and a group
 * of completions are each ONE multi-statement packet, `START TRANSACTION; …; COMMIT`, that the
 * server runs from start to end before it answers. MariaDB has no `UPDATE … RETURNING` and no
 * data-modifying CTE, so what one statement finds reaches the next through a session variable
 * (`@taskmill_*`, a JSON array of ids read back with JSON_TABLE), and the rows to return are read
 * back by the packet's last SELECT. transaction.ts `inPacket` sends it: every value is a `?`
 * placeholder escaped by mysql2 (never text built from values), a deadlock or lock wait timeout
 * rolls back and runs the packet again as `write` does, and a failed packet is rolled back before
 * its connection goes back to the pool.
 *
 * What they write is the kit's, not this file's: `changes.claim` and `changes.complete` (the row
 * patch, the attempt opened or closed, the events with their texts and metadata, built by
 * event-drafts.ts) decide it, and these statements spell the same rows in SQL. The conformance
 * suite `plain-paths` (store-testkit) runs both paths on the same tasks and compares every column
 * of every task, attempt and event row, so a difference here fails it.
 *
 * The claim keeps claim.ts's two steps and their index plan: a non-locking peek that reads each
 * claimable status along `idx_task_claim_order` (covering, no sort), then a lock by primary key
 * `FOR UPDATE SKIP LOCKED` of the first `limit` peeked ids, re-checking that they are still due
 * candidates, and a second lock of the next peeked ids for those another claimer held (claim.ts
 * runs such rounds from the client; one packet runs two). The worker's registry row is read
 * first `LOCK IN SHARE MODE`, as `workerMayClaim` does, and a paused name's tasks are left out of
 * the peek. The attempt and event rows are written from the locked rows before they change (the
 * retry of a failed or timed-out task needs its previous status and worker), then the one UPDATE.
 *
 * A completion locks the group's rows in id order, counts the children among them (with one, it
 * writes nothing: the kit then sends the whole group the general way), and returns the ids of the
 * rows that hold their fence (running, same worker and attempt): exactly these rows, under lock,
 * satisfy the same condition in the packet's later statements (no other row can come to hold a
 * fence whose attempt already ran), so the event, the attempt close and the task UPDATE each
 * repeat it instead of passing ids on.
 *
 * The packets use MariaDB's JSON_ARRAYAGG(… ORDER BY … LIMIT …); on MySQL the store takes the
 * general path (store.ts).
 */

const T = TABLES.tasks;
const A = TABLES.attempts;
const E = TABLES.events;
const CLAIMABLE = [...CLAIMABLE_STATUSES];

/** The `taskmill_task_events` columns the packets write, in the order of their SELECT lists. */
const EVENT_COLUMNS =
  'task_id, root_id, parent_id, event_type, from_status, to_status, stage, worker_id, attempt, event_time, message, metadata';

/** The ids of a JSON array in a session variable, with their 1-based position. */
function idsOf(variable: string): string {
  return `JSON_TABLE(${variable}, '$[*]' COLUMNS (n FOR ORDINALITY, id BIGINT PATH '$')) AS c`;
}

/**
 * `CASE <column> WHEN name THEN json END` over the plan's names: a name as JSON.stringify writes it
 * in event metadata, computed here so that the text matches the general path's byte for byte
 * (JSON_QUOTE escapes differently).
 */
function nameJson(column: string, names: readonly string[], params: unknown[]): string {
  for (const name of names) params.push(name, JSON.stringify(name));
  return `CASE ${column} ${names.map(() => 'WHEN ? THEN ?').join(' ')} END`;
}

/**
 * The claim's peek (claim.ts step 1) into `@taskmill_peek`: the first `peekSize` due candidates in
 * claim order as a JSON array of ids, nothing when the worker may not claim. Exported for the plan test.
 */
export function peekStatement(plan: ClaimPlan, peekSize: number): Packet[number] {
  const branch = `(SELECT id, priority, next_run_time FROM ${T} FORCE INDEX (idx_task_claim_order)
      WHERE status = ? AND next_run_time <= ? AND name IN (?) AND @taskmill_blocked = 0
        AND name NOT IN (SELECT name FROM ${TABLES.pausedNames})
      ORDER BY ${CLAIM_ORDER_SQL} LIMIT ?)`;
  return {
    sql: `SELECT JSON_ARRAYAGG(id ORDER BY ${CLAIM_ORDER_SQL}) INTO @taskmill_peek FROM (
      ${CLAIMABLE.map(() => branch).join(' UNION ALL ')}
      ORDER BY ${CLAIM_ORDER_SQL} LIMIT ?) AS peek`,
    params: [...CLAIMABLE.flatMap((status) => [status, plan.now, plan.names, peekSize]), peekSize],
  };
}

/** The claim's packet, and where its claimed rows are among the results. Exported for the plan test. */
export function claimPacket(plan: ClaimPlan): { packet: Packet; rowsAt: number } {
  const w = plan.worker_id;
  const now = plan.now;
  const want = plan.limit;
  const peekSize = want * 2 + 8;
  const claimed = idsOf('@taskmill_claimed');
  // a peeked id still a due candidate of these names, locked by primary key or skipped
  const lock = (range: string) =>
    `FROM ${idsOf('@taskmill_peek')} STRAIGHT_JOIN ${T} AS t ON t.id = c.id
      WHERE ${range} AND t.name IN (?) AND t.status IN (?) AND t.next_run_time <= ?
      FOR UPDATE SKIP LOCKED`;
  const eventParams: unknown[] = [];
  const json = nameJson('t.name', plan.names, eventParams);
  // per claimed row, before it changes: the retry count and stage it will have (changes.claim)
  const retryCount = `t.retry_count + (t.status <> 'pending')`;
  const stage = `IF(t.status = 'pending', t.stage, 0)`;
  const packet: Packet = [
    { sql: 'SET TRANSACTION ISOLATION LEVEL READ COMMITTED' },
    { sql: 'START TRANSACTION' },
    // workerMayClaim: the registry row share-locked whatever its status (no row: may claim)
    {
      sql: `SELECT COALESCE(MAX(status <> 'active'), 0) INTO @taskmill_blocked FROM ${TABLES.workers} WHERE worker_id = ? LOCK IN SHARE MODE`,
      params: [w],
    },
    peekStatement(plan, peekSize),
    {
      sql: `SELECT JSON_ARRAYAGG(t.id) INTO @taskmill_claimed ${lock('c.n <= ?')}`,
      params: [want, plan.names, CLAIMABLE, now],
    },
    // the next peeked ids for those another claimer held
    {
      sql: `SELECT JSON_MERGE_PRESERVE(COALESCE(@taskmill_claimed, '[]'), COALESCE(JSON_ARRAYAGG(t.id), '[]')) INTO @taskmill_claimed
        ${lock('c.n > ? AND c.n <= ? - COALESCE(JSON_LENGTH(@taskmill_claimed), 0)')}`,
      params: [want, 2 * want, plan.names, CLAIMABLE, now],
    },
    {
      sql: `INSERT INTO ${A} (task_id, name, attempt, worker_id, started_at, due_at)
        SELECT t.id, t.name, t.attempt + 1, ?, ?, t.next_run_time FROM ${claimed} STRAIGHT_JOIN ${T} AS t ON t.id = c.id ORDER BY t.id`,
      params: [w, now],
    },
    {
      sql: `INSERT INTO ${E} (${EVENT_COLUMNS})
        SELECT t.id, COALESCE(t.root_id, t.id), t.parent_id,
          CASE e.n WHEN 1 THEN 'task_retry_scheduled' WHEN 2 THEN 'task_claimed' WHEN 3 THEN 'task_started' ELSE 'task_retry_started' END,
          IF(e.n = 1, t.status, 'pending'), IF(e.n = 1, 'pending', 'running'),
          IF(e.n = 1, 0, ${stage}),
          IF(e.n = 1, t.worker_id, ?),
          IF(e.n >= 3, t.attempt + 1, NULL),
          ?,
          CASE e.n
            WHEN 1 THEN CONCAT('Task ', t.id, ' retry ', ${retryCount}, ' scheduled')
            WHEN 2 THEN CONCAT('Task ', t.id, ' claimed by ', ?)
            WHEN 3 THEN CONCAT('Task ', t.id, ' started by ', ?)
            ELSE CONCAT('Task ', t.id, ' retry attempt ', t.attempt + 1) END,
          CASE e.n
            WHEN 1 THEN CONCAT('{"retry_count":', ${retryCount}, ',"previous_status":"', t.status, '"}')
            WHEN 2 THEN CONCAT('{"name":', ${json}, '}')
            ELSE CONCAT('{"name":', ${json}, ',"retry_count":', ${retryCount}, '}') END
        FROM ${claimed} STRAIGHT_JOIN ${T} AS t ON t.id = c.id
          JOIN (SELECT 1 AS n UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4) AS e
            ON e.n IN (2, 3) OR (e.n = 1 AND t.status <> 'pending') OR (e.n = 4 AND ${retryCount} > 0)
        ORDER BY t.id, e.n`,
      params: [w, now, w, w, ...eventParams, ...eventParams],
    },
    // each assignment reads only columns no earlier one has set (MySQL assigns left to right),
    // status last: the row patch of changes.claim
    {
      sql: `UPDATE ${claimed} STRAIGHT_JOIN ${T} AS t ON t.id = c.id SET
          t.last_event_type = IF(${retryCount} > 0, 'task_retry_started', 'task_started'),
          t.unique_slot = IF(t.unique_key IS NOT NULL AND t.unique_scope = 'pending', NULL, t.unique_slot),
          t.stage = ${stage},
          t.result = IF(t.status = 'pending', t.result, NULL),
          t.context = IF(t.status = 'pending', t.context, NULL),
          t.children_results = IF(t.status = 'pending', t.children_results, NULL),
          t.retry_count = ${retryCount},
          t.attempt = t.attempt + 1,
          t.worker_id = ?, t.start_time = ?, t.last_active_time = ?, t.last_event_time = ?, t.suspend_reason = NULL,
          t.status = 'running'`,
      params: [w, now, now, now],
    },
    { sql: `SELECT t.* FROM ${claimed} STRAIGHT_JOIN ${T} AS t ON t.id = c.id ORDER BY ${CLAIM_ORDER_SQL.replace(/(\w+) (ASC|DESC)/g, 't.$1 $2')}` },
    { sql: 'COMMIT' },
  ];
  return { packet, rowsAt: packet.length - 2 };
}

function completePacket(items: readonly PlainCompletion[], now: number): { packet: Packet; heldAt: number; rowsAt: number } {
  const ids = items.map((item) => item.task_id);
  const fences = items.map((item) => [item.task_id, item.worker_id, item.attempt]);
  // the fence of changes.complete's guard, and no child in the group (a child credits its parent,
  // which only the general path does: then nothing is written here and the kit sends the whole
  // group that way, all or nothing)
  const held = (t: string) => `${t}.id IN (?) AND ${t}.status = 'running' AND @taskmill_children = 0 AND (${t}.id, ${t}.worker_id, ${t}.attempt) IN (?)`;
  const resultParams: unknown[] = [];
  for (const item of items) resultParams.push(item.task_id, item.result);
  const packet: Packet = [
    { sql: 'SET TRANSACTION ISOLATION LEVEL READ COMMITTED' },
    { sql: 'START TRANSACTION' },
    // the group's rows locked in id order, as the general path's lockTasks does
    { sql: `SELECT id FROM ${T} WHERE id IN (?) ORDER BY id FOR UPDATE`, params: [ids] },
    { sql: `SET @taskmill_children = (SELECT COUNT(*) FROM ${T} WHERE id IN (?) AND parent_id IS NOT NULL)`, params: [ids] },
    { sql: `SELECT t.id FROM ${T} AS t WHERE ${held('t')}`, params: [ids, fences] },
    {
      sql: `INSERT INTO ${E} (${EVENT_COLUMNS})
        SELECT t.id, COALESCE(t.root_id, t.id), t.parent_id, 'task_completed', 'running', 'completed', t.stage, t.worker_id, NULL, ?,
          CONCAT('Task ', t.id, ' status changed from running to completed'), '{"error":null,"retry_count":null,"next_run_time":null}'
        FROM ${T} AS t WHERE ${held('t')} ORDER BY t.id`,
      params: [now, ids, fences],
    },
    {
      sql: `UPDATE ${T} AS t STRAIGHT_JOIN ${A} AS a ON a.task_id = t.id AND a.attempt = t.attempt
        SET a.ended_at = ?, a.outcome = 'completed', a.error = NULL, a.timeout_flag = FALSE
        WHERE ${held('t')} AND a.ended_at IS NULL`,
      params: [now, ids, fences],
    },
    {
      sql: `UPDATE ${T} AS t SET
          t.result = CASE t.id ${items.map(() => 'WHEN ? THEN ?').join(' ')} END,
          t.unique_slot = IF(t.unique_key IS NOT NULL AND t.unique_scope IN ('pending', 'unfinished'), NULL, t.unique_slot),
          t.last_active_time = ?, t.last_event_time = ?, t.last_event_type = 'task_completed', t.suspend_reason = NULL,
          t.status = 'completed'
        WHERE ${held('t')}`,
      params: [...resultParams, now, now, ids, fences],
    },
    { sql: `SELECT * FROM ${T} WHERE id IN (?)`, params: [ids] },
    { sql: 'COMMIT' },
  ];
  return { packet, heldAt: 4, rowsAt: packet.length - 2 };
}

/**
 * The one-round-trip paths on MariaDB, or `general` where a packet cannot run: on MySQL (no
 * ordered JSON_ARRAYAGG), detected from the server's handshake at the first call.
 */
export function plainPaths(connection: MysqlConnection, general: PlainPaths): PlainPaths {
  return {
    async claim(plan: ClaimPlan): Promise<Task[]> {
      const { packet, rowsAt } = claimPacket(plan);
      const results = await inPacket(connection, 'claimTasks', packet);
      if (results === null) return general.claim(plan);
      return (results[rowsAt] as RawRow[]).map(decodeTask);
    },

    async complete(items: readonly PlainCompletion[], now: number) {
      const { packet, heldAt, rowsAt } = completePacket(items, now);
      const results = await inPacket(connection, 'finishAttempts', packet);
      if (results === null) return general.complete(items, now);
      const done = new Set<TaskId>((results[heldAt] as RawRow[]).map((row) => Number(row.id)));
      const applied: Task[] = [];
      const found: Task[] = [];
      for (const row of results[rowsAt] as RawRow[]) {
        const task = decodeTask(row);
        (done.has(task.id) ? applied : found).push(task);
      }
      return { applied, found };
    },
  };
}
