export { createSqliteStore } from './store.js';
export { parseSqliteConnection } from './connection.js';
export type { SqliteDatabaseOptions, SqliteFileOptions, SqliteStoreOptions, SqliteTarget } from './connection.js';
