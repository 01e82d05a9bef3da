import type { Store } from '@taskmill/contracts';
import { assembleStore, type StoreDriver, type StoreWriter } from '@taskmill/contracts/store-kit';
import { claimCandidates, workerMayClaim } from './claim.js';
import { SqliteConnection, type SqliteStoreOptions } from './connection.js';
import { migrate } from './migrate.js';
import { wake } from './notify.js';
import { selectPage, selectTaskStats } from './queries.js';
import { deleteTasksWithAudit, selectExpiredTaskIds, selectTaskIds } from './retention.js';
import { runningTasksOf, timedOutCandidates } from './sweep.js';
import { addChildResult, applyChanges, insertTasks, lockTask, markCredited, selectTask, touchTasks } from './task-rows.js';
import { Transactions } from './transaction.js';
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

/** The SQL of every kit method over one connection (reads and writes share it: SQLite has one). */
function writerOn(sql: SqliteConnection): StoreWriter {
  return {
    selectTask: (id) => selectTask(sql, id),
    selectPage: (table, conditions, paging) => selectPage(sql, table, conditions, paging),
    selectTaskStats: (conditions) => selectTaskStats(sql, conditions),
    selectWorker: (workerId) => selectWorker(sql, workerId),
    selectWorkers: (conditions) => selectWorkers(sql, conditions),
    lockTask: (id) => lockTask(sql, id),
    insertTasks: (rows) => insertTasks(sql, rows),
    applyChanges: (changes) => applyChanges(sql, changes),
    markCredited: (childId) => markCredited(sql, childId),
    addChildResult: (parentId, line) => addChildResult(sql, parentId, line),
    workerMayClaim: (workerId) => workerMayClaim(sql, workerId),
    claimCandidates: (plan) => claimCandidates(sql, plan),
    timedOutCandidates: (now, cutoff, limit) => timedOutCandidates(sql, now, cutoff, limit),
    runningTasksOf: (workerIds, limit) => runningTasksOf(sql, workerIds, limit),
    touchTasks: (fences, now) => touchTasks(sql, fences, now),
    selectTaskIds: (conditions) => selectTaskIds(sql, conditions),
    selectExpiredTaskIds: (statuses, before, limit) => selectExpiredTaskIds(sql, statuses, before, limit),
    deleteTasksWithAudit: (ids) => deleteTasksWithAudit(sql, ids),
    replaceWorker: (input) => replaceWorker(sql, input),
    extendWorkerLease: (workerId, now, expiresAt, meta) => extendWorkerLease(sql, workerId, now, expiresAt, meta),
    selectPodWorkers: (podId, exceptWorkerId) => selectPodWorkers(sql, podId, exceptWorkerId),
    selectExpiredWorkers: (now, limit) => selectExpiredWorkers(sql, now, limit),
    retireWorkers: (ids, status, now) => retireWorkers(sql, ids, status, now),
    markWorkerDead: (workerId, now) => markWorkerDead(sql, workerId, now),
    wake: () => wake(),
  };
}

/**
 * Create a SQLite store. Accepts `sqlite:<path>`, `sqlite:///abs/path.db`, `sqlite::memory:` (a
 * private in-memory database per store), `{ path }`, or `{ database }` (an open better-sqlite3
 * database that `close()` leaves open). Nothing is opened until the first call (`setup()` or any
 * other); a bad connection string throws `ConfigurationError` at once. One connection per store:
 * every write is one `BEGIN IMMEDIATE` transaction, so SQLite's single-writer lock serialises
 * claims, sweeps and recoveries across every process sharing the file.
 */
export function createSqliteStore(options: SqliteStoreOptions): Store {
  const connection = new SqliteConnection(options);
  const transactions = new Transactions(connection);
  const writer = writerOn(connection);
  const driver: StoreDriver = {
    dialect: 'sqlite',
    capabilities: { notify: false, skipLocked: false },
    setup: () => transactions.setup(migrate),
    close: () => transactions.close(),
    write: (operation, work) => transactions.write(operation, () => work(writer)),
    read: (operation, work) => transactions.read(operation, () => work(writer)),
  };
  return assembleStore(driver);
}
