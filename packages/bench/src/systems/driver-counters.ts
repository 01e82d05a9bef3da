import mysql from 'mysql2';
import { Redis } from 'ioredis';
import { statementCounter } from './types.js';

/*
 * Statement/command counters at the drivers that have no per-query hook of their own: mysql2
 * (taskmill-mysql) and ioredis (BullMQ). Patched on the prototype, once, in the process that
 * counts; pnpm resolves every package's copy of these drivers to ours.
 */
let mysqlPatched = false;
let redisPatched = false;

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
