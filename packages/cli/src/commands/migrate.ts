import type { Store } from '@taskmill/contracts';
import { json } from '../output.js';

/** `taskmill migrate`: create or migrate the schema (idempotent, under the store's migration lock). */
export async function migrate(store: Store, options: { json?: boolean }): Promise<string> {
  await store.setup();
  const result = { migrated: true, dialect: store.dialect };
  return options.json ? json(result) : `Schema is up to date (${store.dialect}).\n`;
}
