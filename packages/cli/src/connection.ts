import { existsSync } from 'node:fs';
import { ConfigurationError, type Store } from '@taskmill/contracts';
import { openStoreForConnection } from '@taskmill/core';
import { UsageError } from './exit-codes.js';

/** Options every command takes to reach the database. */
export interface ConnectionOptions {
  db?: string;
  schema?: string;
}

/** The environment variable read when `--db` is not given. */
export const DB_ENV = 'TASKMILL_DB';

/**
 * The connection string of a command: `--db`, else `TASKMILL_DB`; `--schema` becomes the
 * PostgreSQL URL's `schema` parameter (which the PostgreSQL store reads).
 */
export function connectionString(options: ConnectionOptions, env: NodeJS.ProcessEnv = process.env): string {
  const raw = options.db ?? env[DB_ENV];
  if (raw === undefined || raw.trim() === '') {
    throw new UsageError(`no database: pass --db <url> or set ${DB_ENV} (sqlite:<path>, postgres://…, mysql://…)`);
  }
  const url = raw.trim();
  if (options.schema === undefined) return url;
  if (!/^(postgres|postgresql|psql):/i.test(url)) throw new UsageError('--schema applies to PostgreSQL connections only');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigurationError('Invalid PostgreSQL connection URL');
  }
  const inUrl = parsed.searchParams.get('schema');
  if (inUrl !== null && inUrl !== options.schema) {
    throw new UsageError(`--schema ${options.schema} contradicts the URL's schema=${inUrl}`);
  }
  parsed.searchParams.set('schema', options.schema);
  return parsed.toString();
}

/**
 * Open the store of a command, resolved exactly as a TaskManager resolves its `dbConnection`.
 * Only `migrate` may create a SQLite file: any other command on a missing file fails instead of
 * leaving an empty database behind a typo. `sqlite::memory:` is refused: it would be a new, empty
 * database private to this one command.
 */
export async function openCommandStore(options: ConnectionOptions, { create }: { create: boolean }): Promise<Store> {
  const url = connectionString(options);
  if (/^sqlite:/i.test(url)) await checkSqliteTarget(url, create);
  const store = await openStoreForConnection(url);
  if (create) return store;
  // every command but migrate reads and acts without DDL (a read-only role may run it); a schema
  // missing or behind this version is named as such rather than as some table not found
  try {
    await store.checkSchema?.();
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  return store;
}

async function checkSqliteTarget(url: string, create: boolean): Promise<void> {
  let parse: (connection: string) => { kind: 'memory' } | { kind: 'file'; path: string };
  try {
    ({ parseSqliteConnection: parse } = await import('@taskmill/store-sqlite'));
  } catch {
    return; // openStoreForConnection reports the missing package
  }
  const target = parse(url);
  if (target.kind === 'memory') {
    throw new UsageError('sqlite::memory: is a private empty database; pass the path of a database file (sqlite:<path>)');
  }
  if (!create && !existsSync(target.path)) {
    throw new ConfigurationError(`SQLite database file not found: ${target.path} (taskmill migrate creates it)`);
  }
}
