export type { AppTransaction, BadHandle, ConformanceHarness, TableName } from './harness.js';
export { runStoreConformance } from './conformance.js';
export { T0, newTask, newChild } from './fixtures.js';
