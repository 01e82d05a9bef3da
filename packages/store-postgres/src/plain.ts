import type { Task, TaskId } from '@taskmill/contracts';
import {
  CLAIM_ORDER_SQL,
  decodeTask,
  retryTransaction,
  TRANSACTION_RETRY,
  insertColumnsFor,
  type ClaimPlan,
  type PlainCompletion,
  type PlainPaths,
  type TaskInsert,
} from '@taskmill/store-kit';
import { CLAIMABLE_SQL } from './claim.js';
import type { Connection, Fragment } from './connection.js';
import { isRetryableTransactionError, toStoreError } from './errors.js';

/*
 * The common path in one statement each (docs/behaviour.md#one-round-trip), graphile-worker
 * style: a claim and a group of completions are each one SQL statement with data-modifying CTEs,
 * atomic on its own, sent on the pool in autocommit: no BEGIN and no COMMIT round trip.
 *
 * What they write is the kit's, not this file's: `changes.claim` and `changes.complete` (the row
 * patch, the attempt opened or closed, the events with their texts and metadata, built by
 * event-drafts.ts) decide it, and these statements spell the same rows in SQL. The conformance
 * suite `plain-paths` (store-testkit) runs both paths on the same tasks and compares every column
 * of every task, attempt and event row, so a difference here fails it.
 *
 * The fences are in the statements' conditions: a completion locks the group's rows in id order
 * (the newest versions, waited for) and changes a row only while it is `running` under the same
 * worker and attempt (the UPDATE re-checks the newest version at READ COMMITTED), and nothing at
 * all when one of them is a child; the claim locks its candidates `FOR UPDATE SKIP
 * LOCKED` exactly as claimCandidates does, after the worker's registry row `FOR SHARE`.
 */

/** Run one statement on the pool: conflicts retried, errors mapped as a transaction's are. */
async function once<T>(operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await retryTransaction(TRANSACTION_RETRY, isRetryableTransactionError, run);
  } catch (error) {
    throw toStoreError(error, operation);
  }
}

export function plainPaths(connection: Connection): PlainPaths {
  const { sql, t } = connection;
  const claimable = sql.unsafe(CLAIMABLE_SQL);
  const order = sql.unsafe(CLAIM_ORDER_SQL);

  /** The plan's names that are not paused: `name = $1` for one name keeps idx_task_claim_name's ordered scan (see claim.ts). */
  function unpausedNames(names: string[]): Fragment {
    if (names.length === 1) return sql`name = ${names[0]} AND NOT EXISTS (SELECT 1 FROM ${t.pausedNames} WHERE name = ${names[0]})`;
    return sql`name = ANY(${names}::text[])
      AND name <> ALL (ARRAY(SELECT name FROM ${t.pausedNames} WHERE name = ANY(${names}::text[])))`;
  }

  return {
    claim: (plan: ClaimPlan): Promise<Task[]> =>
      once('claimTasks', async () => {
        const w = plan.worker_id;
        const now = plan.now;
        // the retry of a failed or timed-out task (changes.claim): its retry count moves on and
        // its stage, result, context and children's results start again
        const rows = await sql`
          WITH worker AS (
            SELECT status FROM ${t.workers} WHERE worker_id = ${w} FOR SHARE
          ), candidate AS (
            SELECT id, status, worker_id FROM ${t.tasks}
            WHERE ${unpausedNames(plan.names)} AND ${claimable} AND next_run_time <= ${now}
              AND NOT EXISTS (SELECT 1 FROM worker WHERE status <> 'active')
            ORDER BY ${order}
            LIMIT ${plan.limit}
            FOR UPDATE SKIP LOCKED
          ), claimed AS (
            UPDATE ${t.tasks} AS t SET
              status = 'running', worker_id = ${w}, start_time = ${now}, last_active_time = ${now},
              attempt = t.attempt + 1, suspend_reason = NULL,
              retry_count = t.retry_count + (c.status <> 'pending')::int,
              stage = CASE WHEN c.status = 'pending' THEN t.stage ELSE 0 END,
              result = CASE WHEN c.status = 'pending' THEN t.result END,
              context = CASE WHEN c.status = 'pending' THEN t.context END,
              children_results = CASE WHEN c.status = 'pending' THEN t.children_results END,
              unique_slot = CASE WHEN t.unique_key IS NOT NULL AND t.unique_scope = 'pending' THEN NULL ELSE t.unique_slot END,
              last_event_time = ${now},
              last_event_type = CASE WHEN t.retry_count + (c.status <> 'pending')::int > 0 THEN 'task_retry_started' ELSE 'task_started' END
            FROM candidate AS c
            WHERE t.id = c.id AND t.status = c.status
            RETURNING t.*, c.status AS claimed_from, c.worker_id AS previous_worker_id
          ), opened AS (
            INSERT INTO ${t.attempts} (task_id, name, attempt, worker_id, started_at, due_at)
            SELECT id, name, attempt, ${w}, ${now}::int8, next_run_time FROM claimed ORDER BY id
          ), logged AS (
            INSERT INTO ${t.events} (task_id, root_id, parent_id, event_type, from_status, to_status, stage, worker_id, attempt, event_time, message, metadata)
            SELECT u.id, COALESCE(u.root_id, u.id), u.parent_id, e.event_type, e.from_status, e.to_status, e.stage, e.worker_id, e.attempt,
              ${now}::int8, e.message, e.metadata
            FROM claimed AS u CROSS JOIN LATERAL (VALUES
              (1, 'task_retry_scheduled'::text, u.claimed_from::text, 'pending'::text, 0, u.previous_worker_id::text, NULL::int,
                'Task ' || u.id || ' retry ' || u.retry_count || ' scheduled',
                '{"retry_count":' || u.retry_count || ',"previous_status":' || to_json(u.claimed_from)::text || '}'),
              (2, 'task_claimed', 'pending', 'running', u.stage, ${w}::text, NULL,
                'Task ' || u.id || ' claimed by ' || ${w}::text,
                '{"name":' || to_json(u.name)::text || '}'),
              (3, 'task_started', 'pending', 'running', u.stage, ${w}::text, u.attempt,
                'Task ' || u.id || ' started by ' || ${w}::text,
                '{"name":' || to_json(u.name)::text || ',"retry_count":' || u.retry_count || '}'),
              (4, 'task_retry_started', 'pending', 'running', u.stage, ${w}::text, u.attempt,
                'Task ' || u.id || ' retry attempt ' || u.attempt,
                '{"name":' || to_json(u.name)::text || ',"retry_count":' || u.retry_count || '}')
            ) AS e(n, event_type, from_status, to_status, stage, worker_id, attempt, message, metadata)
            WHERE CASE e.n WHEN 1 THEN u.claimed_from <> 'pending' WHEN 4 THEN u.retry_count > 0 ELSE true END
            ORDER BY u.id, e.n
          )
          SELECT * FROM claimed ORDER BY ${order}`;
        return rows.map(decodeTask);
      }),

    complete: (items: readonly PlainCompletion[], now: number) =>
      once('finishAttempts', async () => {
        const ids = items.map((item) => item.task_id);
        // the group's rows locked in id order (their newest versions, waited for), then completed
        // where the fence holds, and only if none of them is a child (those go the general way)
        const rows = await sql`
          WITH item AS (
            SELECT * FROM unnest(${ids as TaskId[]}::int8[], ${items.map((item) => item.worker_id)}::text[],
              ${items.map((item) => item.attempt)}::int4[], ${items.map((item) => item.result)}::text[]) AS v(id, worker_id, attempt, result)
          ), locked AS (
            SELECT * FROM ${t.tasks} WHERE id = ANY(${ids as TaskId[]}::int8[]) ORDER BY id FOR UPDATE
          ), completed AS (
            UPDATE ${t.tasks} AS t SET
              status = 'completed', result = v.result, last_active_time = ${now}, suspend_reason = NULL,
              unique_slot = CASE WHEN t.unique_key IS NOT NULL AND t.unique_scope IN ('pending', 'unfinished') THEN NULL ELSE t.unique_slot END,
              last_event_time = ${now}, last_event_type = 'task_completed'
            FROM item AS v
            WHERE t.id = v.id AND t.status = 'running' AND t.worker_id = v.worker_id AND t.attempt = v.attempt
              AND NOT EXISTS (SELECT 1 FROM locked WHERE parent_id IS NOT NULL)
            RETURNING t.*
          ), closed AS (
            UPDATE ${t.attempts} AS a SET ended_at = ${now}, outcome = 'completed', error = NULL, timeout_flag = FALSE
            FROM completed AS c
            WHERE a.task_id = c.id AND a.attempt = c.attempt AND a.ended_at IS NULL
          ), logged AS (
            INSERT INTO ${t.events} (task_id, root_id, parent_id, event_type, from_status, to_status, stage, worker_id, attempt, event_time, message, metadata)
            SELECT id, COALESCE(root_id, id), parent_id, 'task_completed', 'running', 'completed', stage, worker_id, NULL, ${now}::int8,
              'Task ' || id || ' status changed from running to completed', '{"error":null,"retry_count":null,"next_run_time":null}'
            FROM completed ORDER BY id
          )
          SELECT completed.*, TRUE AS plain_applied FROM completed
          UNION ALL
          SELECT locked.*, FALSE FROM locked WHERE id NOT IN (SELECT id FROM completed)`;
        const applied: Task[] = [];
        const found: Task[] = [];
        for (const row of rows) (row.plain_applied ? applied : found).push(decodeTask(row));
        return { applied, found };
      }),

    create: (rows: readonly TaskInsert[], now: number, wake: boolean) =>
      once('createTasks', async () => {
        // the wake-up (changes nothing but the commit's notification) is an InitPlan, run once;
        // PostgreSQL delivers it when the statement commits, as a transaction's NOTIFY
        const woke = wake ? sql`, (SELECT pg_notify(${connection.channel}, '')) AS woke` : sql``;
        const inserted = await sql`
          WITH created AS (
            INSERT INTO ${t.tasks} ${sql(rows as TaskInsert[], ...insertColumnsFor(rows))}
            RETURNING id, name, type, tag
          ), logged AS (
            INSERT INTO ${t.events} (task_id, root_id, parent_id, event_type, from_status, to_status, stage, worker_id, attempt, event_time, message, metadata)
            SELECT id, id, NULL, 'task_created', NULL, 'pending', 0, NULL, NULL, ${now}::int8, 'Task ' || id || ' created',
              '{"name":' || to_json(name)::text || ',"type":' || to_json(type)::text || ',"tag":' || COALESCE(to_json(tag)::text, 'null') || '}'
            FROM created ORDER BY id
          )
          SELECT id${woke} FROM created ORDER BY id`;
        // sequence values are drawn in VALUES order: ascending ids are the input order
        return inserted.map((row) => Number(row.id));
      }),
  };
}
