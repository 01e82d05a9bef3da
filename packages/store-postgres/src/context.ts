import { TABLES } from '@taskmill/contracts';
import type postgres from '#postgres';

/** Anything that runs a tagged-template query: the pool or a transaction. */
export type Queryable = postgres.ISql;

/** A raw row as postgres-js returns it (int8 as strings, bytea as Buffer). */
export type RawRow = Record<string, any>;

/** Schema-qualified table identifiers, for interpolation into tagged templates. */
export interface Tables {
  tasks: postgres.Helper<string>;
  events: postgres.Helper<string>;
  attempts: postgres.Helper<string>;
  workers: postgres.Helper<string>;
}

/** What every operation module needs: the pool, the qualified tables and the wake-up channel. */
export interface StoreContext {
  sql: postgres.Sql;
  schema: string;
  t: Tables;
  /** LISTEN/NOTIFY channel of this schema (SPEC A11). */
  channel: string;
}

/** Build the context of a store on `schema` (a validated identifier: no quoting issues). */
export function createContext(sql: postgres.Sql, schema: string): StoreContext {
  // postgres-js escapes each dot-separated part as its own identifier: "schema"."table".
  const table = (name: string) => sql(`${schema}.${name}`) as unknown as postgres.Helper<string>;
  return {
    sql,
    schema,
    t: {
      tasks: table(TABLES.tasks),
      events: table(TABLES.events),
      attempts: table(TABLES.attempts),
      workers: table(TABLES.workers),
    },
    channel: `taskmill_${schema}`,
  };
}

/** A task id the database can look up: a safe positive integer (anything else finds nothing). */
export function isValidId(id: unknown): id is number {
  return typeof id === 'number' && Number.isSafeInteger(id) && id > 0;
}
