import { CONNECTION_SCHEMES, ConfigurationError, StoreNotInstalledError, isStore, type Dialect, type SessionLimits, type Store } from '@taskmill/contracts';

/** What a store package's factory takes from core: the connection string, with the session limits for a server store. */
export type StoreFactory = (options: string | (SessionLimits & { url: string })) => Store;

/** Which store package serves a connection string, and how to load its factory. */
export interface StoreTarget {
  dialect: Dialect;
  /** The package to install, named by StoreNotInstalledError when it is missing. */
  packageName: string;
  /** Import the package (on first use only: an application installs just the store it uses) and return its factory. */
  load(): Promise<StoreFactory>;
}

/**
 * The stores core can open from a connection string. Each entry imports its package by a literal
 * name, so an editor follows it to the factory; the packages are optional peer dependencies.
 */
const TARGETS: Record<Dialect, StoreTarget> = {
  sqlite: {
    dialect: 'sqlite',
    packageName: '@taskmill/store-sqlite',
    load: async () => {
      const { createSqliteStore } = await import('@taskmill/store-sqlite');
      return (options) => createSqliteStore(typeof options === 'string' ? options : options.url);
    },
  },
  postgres: {
    dialect: 'postgres',
    packageName: '@taskmill/store-postgres',
    load: async () => (await import('@taskmill/store-postgres')).createPostgresStore,
  },
  mysql: {
    dialect: 'mysql',
    packageName: '@taskmill/store-mysql',
    load: async () => (await import('@taskmill/store-mysql')).createMysqlStore,
  },
};


/**
 * Work out which store a `dbConnection` needs, without connecting (docs/behaviour.md#connections). Throws
 * ConfigurationError for an unknown scheme or a `dbType` that contradicts the connection.
 */
export function targetFor(dbConnection: unknown, dbType: unknown): StoreTarget | null {
  let target: StoreTarget | null = null;
  if (typeof dbConnection === 'string') {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(dbConnection)?.[1]?.toLowerCase();
    const key = scheme ? CONNECTION_SCHEMES[scheme] : undefined;
    if (!key) {
      throw new ConfigurationError(
        `Unsupported dbConnection ${JSON.stringify(dbConnection.slice(0, 40))}: expected sqlite:<path>, sqlite::memory:, postgres://, postgresql://, psql:// or mysql://`,
      );
    }
    target = TARGETS[key];
  } else if (!isStore(dbConnection)) {
    throw new ConfigurationError('dbConnection must be a connection string or a store object made by a taskmill store package');
  }
  if (dbType !== undefined) {
    const key = typeof dbType === 'string' ? CONNECTION_SCHEMES[dbType.toLowerCase()] : undefined;
    if (!key) throw new ConfigurationError(`Unsupported dbType ${JSON.stringify(dbType)}`);
    const actual = target?.dialect ?? (dbConnection as Store).dialect;
    if (TARGETS[key].dialect !== actual) {
      throw new ConfigurationError(`dbType ${dbType} does not match the connection (${actual})`);
    }
  }
  return target;
}

/**
 * Load the store package for a connection string and build the store (no connection yet). The
 * server stores get `sessionLimits` for the sessions they open (see docs/failure-model.md).
 */
export async function openStore(dbConnection: string, target: StoreTarget, sessionLimits?: SessionLimits): Promise<Store> {
  let factory: StoreFactory;
  try {
    factory = await target.load();
  } catch (cause) {
    const code = (cause as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new StoreNotInstalledError(target.packageName, { cause });
    }
    throw cause;
  }
  if (target.dialect === 'sqlite' || sessionLimits === undefined) return factory(dbConnection);
  return factory({ url: dbConnection, ...sessionLimits });
}

/**
 * Build the store a connection string names, exactly as a TaskManager would for that
 * `dbConnection` (docs/behaviour.md#connections): `sqlite:<path>`, `postgres://`/`postgresql://`/`psql://` (a
 * `?schema=name` parameter picks the PostgreSQL schema) or `mysql://`. Loads the store package on
 * demand and never connects; call `setup()` to create or migrate the schema. For tools that work on
 * a store without running tasks (the `taskmill` command line, reporting jobs).
 *
 * @throws ConfigurationError for an unknown scheme or a malformed URL; StoreNotInstalledError when
 * the store package is missing.
 */
export async function openStoreForConnection(dbConnection: string): Promise<Store> {
  if (typeof dbConnection !== 'string') throw new ConfigurationError('A connection string is required');
  return openStore(dbConnection, targetFor(dbConnection, undefined)!);
}
