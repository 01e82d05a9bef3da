import pg from 'pg';
import { statementCounter } from './types.js';

/*
 * Counts the statements node-postgres sends (graphile-worker and pg-boss both run on it; pnpm
 * resolves their `pg` to the same copy as ours, so patching the prototype sees their queries).
 */
let installed = false;

export function countPgStatements(): void {
  if (installed) return;
  installed = true;
  const query = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    statementCounter.count++;
    return query.apply(this, args);
  } as typeof pg.Client.prototype.query;
}
