export * from './statuses.js';
export * from './events.js';
export * from './transitions.js';
export * from './errors.js';
export * from './rows.js';
export * from './store.js';
export * from './limits.js';
export * from './ids.js';
