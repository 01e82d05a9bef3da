import {
  parseTaskId,
  type FinishItem,
  type Page,
  type Store,
  type Task,
  type TaskAttempt,
  type TaskEvent,
  type TaskId,
} from '@taskmill/contracts';
import { decodeAttempt, decodeEvent, decodeTask, decodeWorker, type RawRow } from './codec.js';
import type { StoreDriver } from './driver.js';
import type { StoreReader } from './statements.js';
import {
  attemptConditions,
  bulkSelection,
  checkBulkBatch,
  eventConditions,
  scheduleConditions,
  taskConditions,
  taskStatConditions,
  workerConditions,
  type Condition,
} from './filters.js';
import * as operations from './operations/index.js';
import { makePage, normalizePaging, readPaging, type PagedTable } from './paging.js';

/*
 * One construction pattern for every store: a store package writes a {@link StoreDriver} (its
 * SQL and its connection handling) and exports `createXStore(options) = assembleStore(driver)`.
 * Validation, fencing, transitions and paging are this file's and operations.ts's, once.
 */

async function paged<T>(
  reader: StoreReader,
  table: PagedTable,
  conditions: Condition[],
  options: unknown,
  decode: (row: RawRow) => T,
): Promise<Page<T>> {
  const paging = normalizePaging(options as never, table);
  if (conditions.some((c) => c.kind === 'none')) return makePage<T>([], 0, paging, table);
  const { rows, total } = await reader.selectPage(table, conditions, readPaging(paging));
  return makePage(rows.map(decode), total, paging, table);
}

/** Paged events or attempts of one task or one workflow; an invalid id finds nothing. */
function scoped(id: unknown, make: (id: TaskId) => Condition): Condition {
  const parsed = parseTaskId(id);
  return parsed === null ? { kind: 'none' } : make(parsed);
}

/** Build the complete {@link Store} of a driver. */
export function assembleStore(driver: StoreDriver): Store {
  const write = driver.write.bind(driver);
  const read = driver.read.bind(driver);
  const cursors: operations.KeyCursors = new Map();
  const plain = driver.plain;
  const generalFinish = (now: number) => (items: FinishItem[]) => write('finishAttempts', (tx) => operations.finishAttempts(tx, items, now));
  const store: Store = {
    dialect: driver.dialect,
    capabilities: driver.capabilities,
    setup: () => driver.setup(),
    checkSchema: () => driver.checkSchema(),
    close: () => driver.close(),
    serverTime: () => read('serverTime', (reader) => reader.selectServerTime()),

    // ── tasks ──
    createTasks: async (tasks, now) => {
      if (tasks.length === 0) return [];
      const lean = plain?.create ? operations.plainCreateRows(tasks, now) : null;
      if (lean) return plain!.create!(lean.rows, now, lean.wake);
      return write('createTasks', (tx) => operations.createTasks(tx, tasks, now));
    },
    upsertSchedule: (task, now) => write('upsertSchedule', (tx) => operations.upsertSchedule(tx, task, now)),
    removeSchedule: (name, key, now) => write('removeSchedule', (tx) => operations.removeSchedule(tx, String(name), String(key), now)),
    listSchedules: async (query) => {
      const conditions = scheduleConditions(query);
      return read('listSchedules', (reader) => paged(reader, 'tasks', conditions, query, decodeTask));
    },
    createFlow: (flow, now) => write('createFlow', (tx) => operations.createFlow(tx, flow, now)),
    claimTasks: async (request) => (await store.claimBatch(request)).tasks,
    claimBatch: async (request) => {
      const calledAt = performance.now();
      if (plain) {
        const plan = operations.plainClaimPlan(request);
        if (plan === false) return { tasks: [], retry_at: null };
        if (plan) return { tasks: await plain.claim(plan), retry_at: null };
      }
      return write('claimTasks', (tx) => operations.claimBatch(tx, request, cursors, calledAt));
    },
    pauseName: async (name, options, now) => {
      const input = operations.pauseInput(name, options);
      return write('pauseName', (tx) => operations.pauseTaskName(tx, input, now));
    },
    resumeName: async (name, options, now) => {
      const { name: checked, by } = operations.pauseInput(name, options);
      return write('resumeName', (tx) => operations.resumeTaskName(tx, { name: checked, by }, now));
    },
    listPausedNames: () => read('listPausedNames', (reader) => operations.listPausedNames(reader)),
    heartbeatTasks: (fences, now) =>
      fences.length === 0 ? Promise.resolve([]) : write('heartbeatTasks', (tx) => operations.heartbeatTasks(tx, fences, now)),
    finishAttempt: async (fence, outcome, now) => {
      if (plain && outcome.kind === 'completed') return (await operations.finishGroup(plain, [{ fence, outcome }], now, generalFinish(now)))[0];
      return write('finishAttempt', (tx) => operations.finishAttempt(tx, fence, outcome, now));
    },
    finishAttempts: (items, now) => {
      if (items.length === 0) return Promise.resolve([]);
      if (plain) return operations.finishGroup(plain, items, now, generalFinish(now));
      return write('finishAttempts', (tx) => operations.finishAttempts(tx, items, now));
    },
    recordTaskNote: (taskId, fence, note, now) => write('recordTaskNote', (tx) => operations.recordTaskNote(tx, taskId, fence, note, now)),
    pauseTask: (taskId, now) => write('pauseTask', (tx) => operations.pauseTask(tx, taskId, now)),
    resumeTask: (taskId, options, now) =>
      write('resumeTask', (tx) => operations.resumeTask(tx, taskId, options?.resume_reason, now)),
    retryTask: (taskId, now) => write('retryTask', (tx) => operations.retryTask(tx, taskId, now)),
    cancelTask: (taskId, options, now) => write('cancelTask', (tx) => operations.cancelTask(tx, taskId, options?.reason, now)),
    cancelTaskTree: (taskId, options, now) => write('cancelTaskTree', (tx) => operations.cancelTaskTree(tx, taskId, options?.reason, now)),
    sweepTimedOutTasks: (input) => write('sweepTimedOutTasks', (tx) => operations.sweepTimedOutTasks(tx, input)),
    sendSignal: (taskId, name, data, now) => write('sendSignal', (tx) => operations.sendSignal(tx, taskId, name, data, now)),
    wakeDueTasks: async (input) => {
      // every worker sweeps at each maintenance tick: while no wait is due, that stays one read
      // (the earliest wake_at) instead of a write transaction
      const next = await read('wakeDueTasks', (reader) => reader.selectNextWake());
      if (next === null || next > input.now) return { woken: [], next_wake_at: next };
      return write('wakeDueTasks', (tx) => operations.wakeDueTasks(tx, input));
    },
    async getTask(taskId): Promise<Task | null> {
      const id = parseTaskId(taskId);
      if (id === null) return null;
      const row = await read('getTask', (reader) => reader.selectTask(id));
      return row ? decodeTask(row) : null;
    },
    queryTasks: async (query) => {
      const conditions = taskConditions(query);
      return read('queryTasks', (reader) => paged(reader, 'tasks', conditions, query, decodeTask));
    },
    getTaskStatsByTag: async (tag, status) => {
      const conditions = taskStatConditions({ tag, status });
      return read('getTaskStatsByTag', (reader) => reader.selectTaskStats(conditions));
    },
    deleteTasks: async (filter) => {
      const conditions = taskStatConditions(filter);
      return write('deleteTasks', async (tx) => {
        const ids = await tx.selectTaskIds(conditions);
        return ids.length === 0 ? 0 : (await tx.deleteTasksWithAudit(ids)).tasks;
      });
    },
    countBulkTasks: async (action, filter) => {
      const selection = bulkSelection(action, filter);
      return read('countBulkTasks', (reader) => operations.countBulkTasks(reader, selection));
    },
    bulkActionBatch: async (action, filter, batch, now) => {
      const selection = bulkSelection(action, filter);
      const checked = checkBulkBatch(batch);
      return write('bulkActionBatch', (tx) => operations.bulkActionBatch(tx, selection, checked, now));
    },

    // ── worker registry ──
    registerWorker: (input) =>
      write('registerWorker', async (tx) => {
        await tx.replaceWorker(input);
        return decodeWorker((await tx.selectWorker(input.worker_id))!);
      }),
    heartbeatWorker: (workerId, now, ttlMs, meta) =>
      write('heartbeatWorker', async (tx) => {
        const metaText = meta === undefined ? undefined : meta === null ? null : JSON.stringify(meta);
        await tx.extendWorkerLease(workerId, now, now + ttlMs, metaText);
        const row = await tx.selectWorker(workerId);
        return row ? decodeWorker(row) : null;
      }),
    supersedeWorkers: (podId, exceptWorkerId, now) =>
      write('supersedeWorkers', async (tx) => {
        const ids = await tx.selectPodWorkers(podId, exceptWorkerId);
        if (ids.length > 0) await tx.retireWorkers(ids, 'superseded', now);
        return ids;
      }),
    reapExpiredWorkers: (now, limit) =>
      write('reapExpiredWorkers', async (tx) => {
        const ids = limit > 0 ? await tx.selectExpiredWorkers(now, Math.floor(limit)) : [];
        if (ids.length > 0) await tx.retireWorkers(ids, 'dead', now);
        return ids;
      }),
    markWorkerDead: (workerId, now) => write('markWorkerDead', (tx) => tx.markWorkerDead(String(workerId), now)),
    recoverWorkerTasks: (input) => write('recoverWorkerTasks', (tx) => operations.recoverWorkerTasks(tx, input)),
    getWorker: async (workerId) => {
      const row = await read('getWorker', (reader) => reader.selectWorker(String(workerId)));
      return row ? decodeWorker(row) : null;
    },
    listWorkers: async (filter) => {
      const conditions = workerConditions(filter);
      return (await read('listWorkers', (reader) => reader.selectWorkers(conditions))).map(decodeWorker);
    },

    // ── audit reads ──
    queryTaskEvents: async (taskId, query): Promise<Page<TaskEvent>> => {
      const conditions = [...eventConditions(query), scoped(taskId, (id) => ({ kind: 'eq', column: 'task_id', value: id }))];
      return read('queryTaskEvents', (reader) => paged(reader, 'events', conditions, query, decodeEvent));
    },
    queryWorkflowEvents: async (rootId, query): Promise<Page<TaskEvent>> => {
      const conditions = [...eventConditions(query), scoped(rootId, (id) => ({ kind: 'eq', column: 'root_id', value: id }))];
      return read('queryWorkflowEvents', (reader) => paged(reader, 'events', conditions, query, decodeEvent));
    },
    queryNameEvents: async (query): Promise<Page<TaskEvent>> => {
      const conditions: Condition[] = [...eventConditions(query), { kind: 'eq', column: 'task_id', value: 0 }];
      return read('queryNameEvents', (reader) => paged(reader, 'events', conditions, query, decodeEvent));
    },
    queryTaskAttempts: async (taskId, query): Promise<Page<TaskAttempt>> => {
      const conditions = [...attemptConditions(query), scoped(taskId, (id) => ({ kind: 'eq', column: 'task_id', value: id }))];
      return read('queryTaskAttempts', (reader) => paged(reader, 'attempts', conditions, query, decodeAttempt));
    },
    queryWorkflowAttempts: async (rootId, query): Promise<Page<TaskAttempt>> => {
      const conditions = [...attemptConditions(query), scoped(rootId, (root) => ({ kind: 'task_in_workflow', root }))];
      return read('queryWorkflowAttempts', (reader) => paged(reader, 'attempts', conditions, query, decodeAttempt));
    },

    readEventFeed: async (feedRead) => {
      const input = operations.eventFeedInput(feedRead);
      return read('readEventFeed', (reader) => operations.readEventFeed(reader, input, driver.capabilities.orderedEventIds));
    },
    latestEventId: () => read('latestEventId', (reader) => reader.selectMaxEventId()),
    getTaskOutcomes: async (ids) => {
      const checked = operations.outcomeIds(ids);
      if (checked.length === 0) return [];
      return read('getTaskOutcomes', (reader) => operations.taskOutcomes(reader, checked));
    },

    getQueueHealth: async (query) => {
      const input = operations.queueHealthInput(query);
      const { health, fill, before } = await read('getQueueHealth', (reader) => operations.queueHealth(reader, input));
      // the minutes that became final since the last read go into the rollup (docs/behaviour.md#queue-health)
      if (fill.length > 0) await write('fillHealthMinutes', (tx) => tx.insertHealthMinutes(fill, before));
      return health;
    },

    // ── retention ──
    purgeExpiredTasks: (input) => write('purgeExpiredTasks', (tx) => operations.purgeExpiredTasks(tx, input)),
  };
  if (driver.writeWithin) {
    const writeWithin = driver.writeWithin.bind(driver);
    store.createTasksWithin = (handle, tasks, now) => writeWithin(handle, 'createTasksWithin', operations.createTaskSteps(tasks, now));
    store.createFlowWithin = (handle, flow, now) => writeWithin(handle, 'createFlowWithin', operations.createFlowSteps(flow, now));
  }
  if (driver.listen) {
    const listen = driver.listen.bind(driver);
    store.listen = (onWake) => listen(onWake);
  }
  return store;
}
