import type { Store } from '@taskmill/contracts';
import { assembleStore, type StoreDriver, type StoreReader, type StoreWriter } from '@taskmill/contracts/store-kit';
import { claimCandidates, workerMayClaim } from './claim.js';
import { openConnection, type MysqlStoreOptions } from './connection.js';
import { runMigrations } from './migrate.js';
import { wake } from './notify.js';
import { selectPage, selectTaskStats } from './queries.js';
import { deleteTasksWithAudit, selectExpiredTaskIds, selectTaskIds } from './retention.js';
import { runningTasksOf, timedOutCandidates } from './sweep.js';
import { addChildResult, applyChanges, insertTasks, lockTask, markCredited, selectTask, touchTasks } from './task-rows.js';
import { inTransaction, withConnection, type Conn } from './transaction.js';
import {
  extendWorkerLease,
  markWorkerDead,
  replaceWorker,
  retireWorkers,
  selectExpiredWorkers,
  selectPodWorkers,
  selectWorker,
  selectWorkers,
} from './workers.js';

/** The reads of the driver over one connection. */
function reader(conn: Conn): StoreReader {
  return {
    selectTask: (id) => selectTask(conn, id),
    selectPage: (table, conditions, paging) => selectPage(conn, table, conditions, paging),
    selectTaskStats: (conditions) => selectTaskStats(conn, conditions),
    selectWorker: (workerId) => selectWorker(conn, workerId),
    selectWorkers: (conditions) => selectWorkers(conn, conditions),
  };
}

/** The writes of the driver inside one transaction. */
function writer(conn: Conn): StoreWriter {
  return {
    ...reader(conn),
    lockTask: (id) => lockTask(conn, id),
    insertTasks: (rows) => insertTasks(conn, rows),
    applyChanges: (changes) => applyChanges(conn, changes),
    markCredited: (childId) => markCredited(conn, childId),
    addChildResult: (parentId, line) => addChildResult(conn, parentId, line),
    workerMayClaim: (workerId) => workerMayClaim(conn, workerId),
    claimCandidates: (plan) => claimCandidates(conn, plan),
    timedOutCandidates: (now, heartbeatCutoff, limit) => timedOutCandidates(conn, now, heartbeatCutoff, limit),
    runningTasksOf: (workerIds, limit) => runningTasksOf(conn, workerIds, limit),
    touchTasks: (fences, now) => touchTasks(conn, fences, now),
    selectTaskIds: (conditions) => selectTaskIds(conn, conditions),
    selectExpiredTaskIds: (statuses, before, limit) => selectExpiredTaskIds(conn, statuses, before, limit),
    deleteTasksWithAudit: (ids) => deleteTasksWithAudit(conn, ids),
    replaceWorker: (input) => replaceWorker(conn, input),
    extendWorkerLease: (workerId, now, expiresAt, meta) => extendWorkerLease(conn, workerId, now, expiresAt, meta),
    selectPodWorkers: (podId, exceptWorkerId) => selectPodWorkers(conn, podId, exceptWorkerId),
    selectExpiredWorkers: (now, limit) => selectExpiredWorkers(conn, now, limit),
    retireWorkers: (ids, status, now) => retireWorkers(conn, ids, status, now),
    markWorkerDead: (workerId, now) => markWorkerDead(conn, workerId, now),
    wake: () => wake(),
  };
}

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
  const connection = openConnection(options);
  let closed = false;
  const driver: StoreDriver = {
    dialect: 'mysql',
    capabilities: { notify: false, skipLocked: true },
    setup: () => runMigrations(connection),
    async close() {
      if (closed) return;
      closed = true;
      await connection.close();
    },
    write: (operation, work) => inTransaction(connection, operation, (conn) => work(writer(conn))),
    read: (operation, work) => withConnection(connection, operation, (conn) => work(reader(conn))),
  };
  return assembleStore(driver);
}
