/*
 * @taskmill/store-kit — for store authors only. The rules every store shares, once: row codecs,
 * event and attempt row builders, transitions as data, fence checks, paging and filter validation,
 * timeout classification, claim order, and the operations of the Store contract over a driver's
 * SQL. Application code never needs this package; what core needs of these rules (failure
 * planning, sweep error texts) lives in @taskmill/contracts.
 */
export * from './codec.js';
export * from './event-drafts.js';
export * from './tables.js';
export * from './fence.js';
export * from './timeouts.js';
export * from './paging.js';
export * from './filters.js';
export * from './claim-order.js';
export * from './health-figures.js';
export * from './rows-to-write.js';
export * as changes from './changes.js';
export type { TaskChange } from './changes.js';
export * from './driver.js';
export * from './statements.js';
export * from './step-programs.js';
export { groupBy } from './group.js';
export { drizzleClient } from './app-transactions.js';
export * as operations from './operations/index.js';
export { assembleStore } from './assemble.js';
export * from './migrations.js';
export * from './transaction-retry.js';
