import { runStoreConformance } from '@taskmill/store-testkit';
import { describe, it } from 'vitest';
import { probe, TestDatabases } from './mysql-harness.js';

// Without a server the suite is skipped with the reason, except under CI where it must fail.
const unreachable = await probe();

if (unreachable && process.env.CI) {
  describe('store conformance: mysql', () => {
    it('needs a reachable MySQL/MariaDB server under CI', () => {
      throw new Error(unreachable);
    });
  });
} else if (unreachable) {
  describe.skip(`store conformance: mysql [skipped: ${unreachable}]`, () => {
    it('needs a server', () => {});
  });
} else {
  runStoreConformance('mysql', new TestDatabases().harness());
}
