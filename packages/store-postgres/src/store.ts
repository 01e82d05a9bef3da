import type { Store } from '@taskmill/contracts';
import { assembleStore, bindReader, bindWriter, type StoreDriver } from '@taskmill/store-kit';
import * as claim from './claim.js';
import * as eventFeed from './event-feed.js';
import * as notify from './notify.js';
import * as pausedNames from './paused-names.js';
import * as queries from './queries.js';
import * as retention from './retention.js';
import * as sweep from './sweep.js';
import * as taskRows from './task-rows.js';
import * as waits from './waits.js';
import * as workers from './workers.js';
import { closeConnection, openConnection, type PostgresStoreOptions } from './connection.js';
import { checkSchema, migrate } from './migrate.js';
import { plainPaths } from './plain.js';
import { read, write } from './transaction.js';
import { postgresWithin } from './within.js';

/** This store's SQL, one module per topic; the kit binds it to a connection or transaction. */
const SQL = { ...claim, ...eventFeed, ...notify, ...pausedNames, ...queries, ...retention, ...sweep, ...taskRows, ...waits, ...workers };

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
    capabilities: { notify: true, skipLocked: true, orderedEventIds: false },
    setup: () => migrate(connection),
    checkSchema: () => checkSchema(connection),
    close: () => closeConnection(connection),
    listen: (onWake) => notify.listen(connection, onWake),
    write: (operation, work) => write(connection, operation, (db) => work(bindWriter(db, SQL))),
    read: (operation, work) => read(connection, operation, (db) => work(bindReader(db, SQL))),
    writeWithin: postgresWithin(connection, SQL),
    plain: plainPaths(connection),
  };
  return assembleStore(driver);
}
