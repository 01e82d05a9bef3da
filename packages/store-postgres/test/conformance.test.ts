import { runStoreConformance } from '@taskmill/store-testkit';
import { describe, it } from 'vitest';
import { createPgHarness, probeServer } from './pg-harness.js';

// Decided before the suite is declared: skip with a reason locally, fail under CI.
const unreachable = await probeServer();

if (unreachable) {
  describe.skip(`store conformance: postgres [skipped: ${unreachable}]`, () => {
    it('needs a PostgreSQL server', () => {});
  });
} else {
  runStoreConformance('postgres', createPgHarness());
}
