import type Database from 'better-sqlite3';
import type { RawRow } from '@taskmill/contracts';

/** A value better-sqlite3 can bind. */
export type Param = string | number | bigint | Buffer | null;

/**
 * A thin layer over one better-sqlite3 connection: cached prepared statements with bound
 * parameters only, and write transactions that always start with `BEGIN IMMEDIATE`.
 */
export class Sql {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(readonly db: Database.Database) {}

  private prepare(text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }

  /** First row of a query, or undefined. */
  get(text: string, ...params: Param[]): RawRow | undefined {
    return this.prepare(text).get(...params) as RawRow | undefined;
  }

  /** Every row of a query. */
  all(text: string, ...params: Param[]): RawRow[] {
    return this.prepare(text).all(...params) as RawRow[];
  }

  /** Run a statement; `changes` and `lastInsertRowid` tell what it did. */
  run(text: string, ...params: Param[]): Database.RunResult {
    return this.prepare(text).run(...params);
  }

  /**
   * Run `fn` in a write transaction opened with `BEGIN IMMEDIATE`: the write lock is taken before
   * the first read, so what the transaction reads cannot change under it and it can never fail
   * halfway with SQLITE_BUSY_SNAPSHOT when upgrading a read to a write. Other connections wait
   * for the lock up to `busy_timeout`.
   */
  immediate<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }
}

/** Bind an id list (or any list) as one JSON parameter, for `IN (SELECT value FROM json_each(?))`. */
export function jsonList(values: readonly (string | number)[]): string {
  return JSON.stringify(values);
}

/** Bytes as better-sqlite3 binds them. */
export function toBlob(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** True for an id every store could have handed out. */
export function isTaskId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}
