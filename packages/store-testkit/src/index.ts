export type { ConformanceHarness, TableName } from './harness.js';
export { runStoreConformance } from './conformance.js';
