import type { Store } from '@taskmill/contracts';
import { it } from 'vitest';
import { BackDoor } from './back-door.js';
import type { ConformanceHarness } from './harness.js';

/** What every group of conformance tests receives. */
export interface SuiteContext {
  /**
   * Declare a test named after the behaviour it checks. The name is the key of
   * `harness.skip`; a skipped test keeps its name with the reason appended.
   */
  test(name: string, fn: () => Promise<void>): void;
  /** A fresh store on its own database; closed after the test. */
  open(): Promise<Store>;
  /** A peer store on the same database as `store`; closed after the test. */
  peer(store: Store): Promise<Store>;
  /** Raw reads of what was persisted. */
  db: BackDoor;
  /** The store's harness (for its application transactions and bad handles). */
  harness: ConformanceHarness;
}

/** Build the context and the list of stores to close after each test. */
export function createSuiteContext(harness: ConformanceHarness): { ctx: SuiteContext; closeAll(): Promise<void> } {
  const names = new Set<string>();
  let openStores: Store[] = [];
  const ctx: SuiteContext = {
    test(name, fn) {
      if (names.has(name)) throw new Error(`duplicate conformance test name: ${name}`);
      names.add(name);
      const reason = harness.skip?.[name];
      if (reason !== undefined) it.skip(`${name} [skipped: ${reason}]`, fn);
      else it(name, fn);
    },
    async open() {
      const store = await harness.createStore();
      openStores.push(store);
      return store;
    },
    async peer(store) {
      const peer = await harness.createPeer(store);
      openStores.push(peer);
      return peer;
    },
    db: new BackDoor(harness),
    harness,
  };
  return {
    ctx,
    async closeAll() {
      // peers first (reverse order), so a store that owns the database closes last
      const stores = openStores.reverse();
      openStores = [];
      const errors: unknown[] = [];
      for (const store of stores) {
        try {
          await store.close();
        } catch (error) {
          errors.push(error);
        }
      }
      if (errors.length) throw errors[0];
    },
  };
}
