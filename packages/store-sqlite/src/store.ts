import type { Store } from '@taskmill/contracts';
import { assembleStore, bindWriter, type StoreDriver } from '@taskmill/store-kit';
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
import { SqliteConnection, type SqliteStoreOptions } from './connection.js';
import { checkSchema, migrate } from './migrate.js';
import { Transactions } from './transaction.js';
import { sqliteWithin } from './within.js';

/** This store's SQL, one module per topic; the kit binds it to a connection or transaction. */
const SQL = { ...claim, ...eventFeed, ...names, ...notify, ...queries, ...retention, ...sweep, ...taskRows, ...waits, ...workers };

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
  // one connection serves reads and writes alike: SQLite has one writer per file anyway
  const writer = bindWriter(connection, SQL);
  const driver: StoreDriver = {
    dialect: 'sqlite',
    capabilities: { notify: connection.filePath !== null, skipLocked: false, orderedEventIds: true },
    listen: (onWake) => notify.listen(connection, onWake),
    setup: () => transactions.setup(migrate),
    checkSchema: () => transactions.read('schema check', async () => checkSchema(connection)),
    close: () => transactions.close(),
    write: (operation, work) => transactions.write(operation, () => work(writer)),
    read: (operation, work) => transactions.read(operation, () => work(writer)),
    writeWithin: sqliteWithin(connection, transactions),
  };
  return assembleStore(driver);
}
