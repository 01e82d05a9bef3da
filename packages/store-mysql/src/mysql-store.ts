import type { Store } from '@taskmill/contracts';
import { decodeTask } from '@taskmill/contracts';
import { queryTaskAttempts, queryTaskEvents, queryTasks, queryWorkflowAttempts, queryWorkflowEvents, getTaskStatsByTag } from './audit.js';
import { claimTasks } from './claim.js';
import { connectionSource, type MysqlStoreOptions } from './connection.js';
import { cancelTask, pauseTask, resumeTask } from './control.js';
import { createTasks } from './create.js';
import { finishAttempt } from './finish.js';
import { heartbeatTasks } from './heartbeat.js';
import { runMigrations } from './migrate.js';
import { recordTaskNote } from './notes.js';
import { selectTaskRow, toId } from './queries.js';
import { deleteTasks, purgeExpiredTasks } from './retention.js';
import { sweepTimedOutTasks } from './sweep.js';
import { inTransaction, withConnection } from './transaction.js';
import * as registry from './workers.js';

/**
 * Create a taskmill store on MySQL 8 or MariaDB 10.6+ (needs `FOR UPDATE SKIP LOCKED`).
 *
 * `options` is a `mysql://user:password@host:3306/database` URL (`mariadb://` works too), or an
 * object with such a `url` or an existing mysql2 promise `pool` (which `close()` leaves open).
 * Constructing never connects: the pool is created on first use. Call `setup()` once to create
 * or migrate the schema. Task ids are BIGINT AUTO_INCREMENT values handed out as numbers.
 *
 * @throws ConfigurationError for a malformed URL or options.
 */
export function createMysqlStore(options: string | MysqlStoreOptions): Store {
  const source = connectionSource(options);
  const tx = <T>(work: Parameters<typeof inTransaction<T>>[1]) => inTransaction(source, work);
  const read = <T>(work: Parameters<typeof withConnection<T>>[1]) => withConnection(source, work);
  let closed = false;

  return {
    dialect: 'mysql',
    capabilities: { notify: false, skipLocked: true },

    setup: () => runMigrations(source),

    async close() {
      if (closed) return;
      closed = true;
      await source.close();
    },

    createTasks: (tasks, now) => (tasks.length === 0 ? Promise.resolve([]) : tx((c) => createTasks(c, tasks, now))),

    claimTasks(request) {
      if (!(request.limit > 0) || request.names.length === 0) return Promise.resolve([]);
      return tx((c) => claimTasks(c, { ...request, limit: Math.floor(request.limit) }));
    },

    heartbeatTasks: (fences, now) => (fences.length === 0 ? Promise.resolve([]) : read((c) => heartbeatTasks(c, fences, now))),

    finishAttempt: (fence, outcome, now) => tx((c) => finishAttempt(c, fence, outcome, now)),

    recordTaskNote: (taskId, fence, note, now) => tx((c) => recordTaskNote(c, taskId, fence, note, now)),

    pauseTask: (taskId, now) => tx((c) => pauseTask(c, taskId, now)),
    resumeTask: (taskId, opts, now) => tx((c) => resumeTask(c, taskId, opts ?? {}, now)),
    cancelTask: (taskId, opts, now) => tx((c) => cancelTask(c, taskId, opts ?? {}, now)),

    sweepTimedOutTasks: (input) => tx((c) => sweepTimedOutTasks(c, input)),

    async getTask(taskId) {
      const id = toId(taskId);
      if (id === null) return null;
      const row = await read((c) => selectTaskRow(c, id));
      return row ? decodeTask(row) : null;
    },

    queryTasks: (query) => read((c) => queryTasks(c, query ?? {})),
    getTaskStatsByTag: (tag, status) => read((c) => getTaskStatsByTag(c, tag, status)),
    deleteTasks: (filter) => tx((c) => deleteTasks(c, filter ?? {})),

    registerWorker: (input) => tx((c) => registry.registerWorker(c, input)),
    heartbeatWorker: (workerId, now, ttlMs) => read((c) => registry.heartbeatWorker(c, workerId, now, ttlMs)),
    supersedeWorkers: (podId, exceptWorkerId, now) => tx((c) => registry.supersedeWorkers(c, podId, exceptWorkerId, now)),
    reapExpiredWorkers: (now, limit) => tx((c) => registry.reapExpiredWorkers(c, now, limit)),
    markWorkerDead: (workerId, now) => tx((c) => registry.markWorkerDead(c, workerId, now)),
    recoverWorkerTasks: (input) => tx((c) => registry.recoverWorkerTasks(c, input)),
    getWorker: (workerId) => read((c) => registry.getWorker(c, workerId)),
    listWorkers: (filter) => read((c) => registry.listWorkers(c, filter ?? {})),

    queryTaskEvents: (taskId, query) => read((c) => queryTaskEvents(c, taskId, query ?? {})),
    queryWorkflowEvents: (rootId, query) => read((c) => queryWorkflowEvents(c, rootId, query ?? {})),
    queryTaskAttempts: (taskId, query) => read((c) => queryTaskAttempts(c, taskId, query ?? {})),
    queryWorkflowAttempts: (rootId, query) => read((c) => queryWorkflowAttempts(c, rootId, query ?? {})),

    purgeExpiredTasks: (input) => tx((c) => purgeExpiredTasks(c, input)),
  };
}
