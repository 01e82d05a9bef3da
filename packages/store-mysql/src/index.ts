export { createMysqlStore } from './mysql-store.js';
export type { MysqlStoreOptions } from './connection.js';
