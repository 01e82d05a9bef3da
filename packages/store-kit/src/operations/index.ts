/*
 * Every write operation of the Store contract, once, over a StoreWriter (one transaction), by job.
 * The kit exports them as the `operations` namespace.
 */
export * from './apply.js';
export { CREATE_TASK_METHODS, createFlow, createFlowSteps, createTasks, createTaskSteps, WRITE_CHUNK } from './create.js';
export { cancelTaskTree } from './tree.js';
export * from './attempts.js';
export * from './manual-control.js';
export * from './maintenance.js';
export * from './retention.js';
export * from './names.js';
export * from './plain.js';
export * from './bulk.js';
export * from './queue-health.js';
export * from './schedules.js';
export * from './event-feed.js';
export * from './waits.js';
