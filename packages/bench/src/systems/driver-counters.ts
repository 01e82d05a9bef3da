import Database from 'better-sqlite3';
import mysql from 'mysql2';
import { Redis } from 'ioredis';
import { statementCounter } from './types.js';

/*
 * Statement/command counters at the drivers that have no per-query hook of their own: mysql2
 * (taskmill-mysql), better-sqlite3 (taskmill-sqlite: an in-process call, not a round trip, but
 * the same count of work a poll costs) and ioredis (BullMQ). Patched on the prototype, once, in the process that
 * counts; pnpm resolves every package's copy of these drivers to ours.
 */
let mysqlPatched = false;
let redisPatched = false;
let sqlitePatched = false;

export function countMysqlStatements(): void {
  if (mysqlPatched) return;
  mysqlPatched = true;
  const proto = mysql.Connection.prototype as unknown as Record<'query' | 'execute', (...args: unknown[]) => unknown>;
  for (const method of ['query', 'execute'] as const) {
    const original = proto[method];
    proto[method] = function (this: unknown, ...args: unknown[]) {
      statementCounter.count++;
      return original.apply(this, args);
    };
  }
}

export function countRedisCommands(): void {
  if (redisPatched) return;
  redisPatched = true;
  const proto = Redis.prototype as unknown as { sendCommand: (...args: unknown[]) => unknown };
  const original = proto.sendCommand;
  proto.sendCommand = function (this: unknown, ...args: unknown[]) {
    statementCounter.count++;
    return original.apply(this, args);
  };
}

export function countSqliteStatements(): void {
  if (sqlitePatched) return;
  sqlitePatched = true;
  // better-sqlite3's Statement class is not exported: its prototype is reached through one statement
  const db = new Database(':memory:');
  const statementProto = Object.getPrototypeOf(db.prepare('SELECT 1')) as Record<string, (...args: unknown[]) => unknown>;
  db.close();
  const count = (proto: Record<string, (...args: unknown[]) => unknown>, methods: string[]) => {
    for (const method of methods) {
      const original = proto[method];
      proto[method] = function (this: unknown, ...args: unknown[]) {
        statementCounter.count++;
        return original.apply(this, args);
      };
    }
  };
  count(statementProto, ['run', 'get', 'all', 'iterate']);
  count(Database.prototype as unknown as Record<string, (...args: unknown[]) => unknown>, ['exec']);
}
