import type { Store } from '@taskmill/contracts';
import { assembleStore, type StoreDriver, type StoreReader, type StoreWriter } from '@taskmill/contracts/store-kit';
import { claimCandidates, workerMayClaim } from './claim.js';
import { closeConnection, openConnection, type PostgresStoreOptions } from './connection.js';
import { migrate } from './migrate.js';
import { listen, wake } from './notify.js';
import { selectPage, selectTaskStats } from './queries.js';
import { deleteTasksWithAudit, selectExpiredTaskIds, selectTaskIds } from './retention.js';
import { timedOutCandidates, runningTasksOf } from './sweep.js';
import { addChildResult, applyChanges, insertTasks, lockTask, markCredited, selectTask, touchTasks } from './task-rows.js';
import { type Db, read, write } from './transaction.js';
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

/** A function of this store's SQL: it runs on the {@link Db} it is handed first. */
type OnDb = (db: Db, ...args: never[]) => unknown;

/** The same functions with the {@link Db} bound. */
type Bound<F extends Record<string, OnDb>> = {
  [K in keyof F]: F[K] extends (db: Db, ...args: infer A) => infer R ? (...args: A) => R : never;
};

function bind<F extends Record<string, OnDb>>(db: Db, functions: F): Bound<F> {
  const bound: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(functions)) bound[name] = (...args: never[]) => fn(db, ...args);
  return bound as Bound<F>;
}

const READS = { selectTask, selectPage, selectTaskStats, selectWorker, selectWorkers };

const WRITES = {
  ...READS,
  lockTask,
  insertTasks,
  applyChanges,
  markCredited,
  addChildResult,
  workerMayClaim,
  claimCandidates,
  timedOutCandidates,
  runningTasksOf,
  touchTasks,
  selectTaskIds,
  selectExpiredTaskIds,
  deleteTasksWithAudit,
  replaceWorker,
  extendWorkerLease,
  selectPodWorkers,
  selectExpiredWorkers,
  retireWorkers,
  markWorkerDead,
  wake,
};

/**
 * Create a PostgreSQL store from a `postgres://` / `postgresql://` / `psql://` URL or options.
 * Never connects: the first query (usually `setup()`) opens the pool. Claims use
 * `FOR UPDATE SKIP LOCKED`; wake-ups travel by LISTEN/NOTIFY.
 *
 * @throws ConfigurationError for a missing or malformed URL, an unknown scheme or a bad option.
 */
export function createPostgresStore(options: string | PostgresStoreOptions): Store {
  const connection = openConnection(options);
  const driver: StoreDriver = {
    dialect: 'postgres',
    capabilities: { notify: true, skipLocked: true },
    setup: () => migrate(connection),
    close: () => closeConnection(connection),
    listen: (onWake) => listen(connection, onWake),
    write: (operation, work) => write(connection, operation, (db) => work(bind(db, WRITES) satisfies StoreWriter)),
    read: (operation, work) => read(connection, operation, (db) => work(bind(db, READS) satisfies StoreReader)),
  };
  return assembleStore(driver);
}
