import type { Store } from '@taskmill/contracts';
import { assembleStore, bindReader, bindWriter, operations, type PlainPaths, type StoreDriver } from '@taskmill/store-kit';
import * as claim from './claim.js';
import * as eventFeed from './event-feed.js';
import * as names from './names.js';
import * as notify from './notify.js';
import * as queries from './queries.js';
import * as retention from './retention.js';
import * as sweep from './sweep.js';
import * as taskRows from './task-rows.js';
import * as waits from './waits.js';
import * as workers from './workers.js';
import { openConnection, type MysqlStoreOptions } from './connection.js';
import { checkSchema, runMigrations } from './migrate.js';
import { plainPaths } from './plain.js';
import { inTransaction, withConnection } from './transaction.js';
import { mysqlWithin } from './within.js';

/** This store's SQL, one module per topic; the kit binds it to a connection or transaction. */
const SQL = { ...claim, ...eventFeed, ...names, ...notify, ...queries, ...retention, ...sweep, ...taskRows, ...waits, ...workers };

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
  const listeners = new Set<() => Promise<void>>();
  const write: StoreDriver['write'] = (operation, work) => inTransaction(connection, operation, (conn) => work(bindWriter(conn, SQL)));
  // where a packet cannot run (a server that is not MariaDB, seen at the first packet), what the kit would have done
  const general: PlainPaths = {
    claim: async (plan) =>
      (await write('claimTasks', (tx) => operations.claimBatch(tx, { worker_id: plan.worker_id, now: plan.now, limit: plan.limit, names: plan.names }, new Map())))
        .tasks,
    // the kit's general finish of the whole group in one transaction, its results as the packet
    // would give them (a child is credited there too: applied, as the kit's own fallback would)
    complete: async (items, now) => {
      const finished = await write('finishAttempts', (tx) =>
        operations.finishAttempts(
          tx,
          items.map((item) => ({ fence: { task_id: item.task_id, worker_id: item.worker_id, attempt: item.attempt }, outcome: { kind: 'completed' as const, result: item.result } })),
          now,
        ),
      );
      const applied = finished.flatMap((result) => (result.applied && result.task ? [result.task] : []));
      const found = finished.flatMap((result) => (!result.applied && result.task ? [result.task] : []));
      return { applied, found };
    },
  };
  const driver: StoreDriver = {
    dialect: 'mysql',
    capabilities: { notify: connection.wakeProbeInterval > 0, skipLocked: true, orderedEventIds: false },
    setup: () => runMigrations(connection),
    checkSchema: () => checkSchema(connection),
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...listeners].map((stop) => stop()));
      await connection.close();
    },
    async listen(onWake) {
      const stop = await notify.listen(connection, () => {
        try {
          onWake();
        } catch {
          // a throwing callback must not stop the bell or the probe
        }
      });
      const unsubscribe = async () => {
        listeners.delete(unsubscribe);
        await stop();
      };
      listeners.add(unsubscribe);
      return unsubscribe;
    },
    write,
    read: (operation, work) => withConnection(connection, operation, (conn) => work(bindReader(conn, SQL))),
    writeWithin: mysqlWithin(connection, SQL),
    plain: connection.multipleStatements ? plainPaths(connection, general) : undefined,
  };
  return assembleStore(driver);
}
