export { createSqliteStore } from './sqlite-store.js';
export type { SqliteDatabaseOptions, SqliteFileOptions, SqliteStoreOptions } from './sqlite-store.js';
export { parseSqliteConnection } from './connection.js';
export type { SqliteTarget } from './connection.js';
