import { SchemaNotReadyError } from '@taskmill/contracts';

/**
 * Reader mode's verdict on a schema, the same for every store: `tables` says whether any taskmill
 * table exists, `applied` lists the `created_at` (folder timestamp) of the recorded migrations
 * (null when the bookkeeping table is absent), `expected` those of this version. Throws
 * SchemaNotReadyError when the schema is missing or lacks one of this version's migrations; a
 * schema migrated further by a newer version passes (its additions are not ours to judge).
 */
export function assertSchemaReady(where: string, tables: boolean, applied: readonly number[] | null, expected: readonly number[]): void {
  if (applied === null) {
    // tables without the bookkeeping table: an older layout that setup() would upgrade
    if (!tables) throw new SchemaNotReadyError(where, 'missing');
    throw new SchemaNotReadyError(where, 'behind', { applied: 0, expected: expected.length });
  }
  const have = new Set(applied.map(Number));
  const present = expected.filter((millis) => have.has(millis)).length;
  if (present < expected.length) throw new SchemaNotReadyError(where, 'behind', { applied: present, expected: expected.length });
}
