import { runStoreConformance } from '@taskmill/store-testkit';
import { createSqliteHarness } from './harness.js';

runStoreConformance('sqlite', createSqliteHarness());
