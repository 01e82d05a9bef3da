export { createMysqlStore } from './store.js';
export type { MysqlStoreOptions } from './connection.js';
