import type { Dialect } from './store.js';

/*
 * Connection strings, one rule each for every package that reads or prints them (core, the stores,
 * the CLI and the dashboard).
 */

/** The scheme of a connection string (before the `:`) and the dialect of the store that serves it. */
export const CONNECTION_SCHEMES: Readonly<Record<string, Dialect>> = {
  sqlite: 'sqlite',
  postgres: 'postgres',
  postgresql: 'postgres',
  psql: 'postgres', // fib-flow's alias of postgres://
  mysql: 'mysql',
  mariadb: 'mysql',
};

/** The schemes that name `dialect`, as `URL.protocol` spells them (`'postgres:'`). */
export function protocolsOf(dialect: Dialect): string[] {
  return Object.entries(CONNECTION_SCHEMES)
    .filter(([, d]) => d === dialect)
    .map(([scheme]) => `${scheme}:`);
}

/** A connection URL with its password hidden (`//user:***@`), for messages and output. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/:]*):([^@/]*)@/, '//$1:***@');
}
