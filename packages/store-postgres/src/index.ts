export { createPostgresStore } from './store.js';
export type { PostgresStoreOptions } from './connection.js';
