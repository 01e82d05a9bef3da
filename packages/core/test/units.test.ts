import { describe, expect, it } from 'vitest';
import { ConfigurationError, InvalidCronError, SerializationError, StoreNotInstalledError } from '@taskmill/contracts';
import { openStore, targetFor } from '../src/connection.js';
import { nextCronTime } from '../src/cron.js';
import { toJsonText } from '../src/serialize.js';
import { parseTaskId } from '@taskmill/contracts';
import { WakeSignal } from '../src/wake-signal.js';

describe('toJsonText', () => {
  it('serialises plain data and refuses what JSON would lose', () => {
    expect(toJsonText({ a: [1, 'x', null], d: new Date(0) }, 'p', 'max_payload_bytes')).toBe('{"a":[1,"x",null],"d":"1970-01-01T00:00:00.000Z"}');
    expect(toJsonText(undefined, 'p', 'max_payload_bytes')).toBeNull();
    expect(toJsonText(0, 'p', 'max_payload_bytes')).toBe('0');
    const shared = { s: 1 };
    expect(toJsonText({ a: shared, b: shared }, 'p', 'max_payload_bytes')).toBe('{"a":{"s":1},"b":{"s":1}}'); // shared is not a cycle
    for (const bad of [{ f: () => 1 }, { b: 1n }, { s: Symbol('x') }, { n: Number.NaN }, new Set([1])]) {
      expect(() => toJsonText(bad, 'p', 'max_payload_bytes')).toThrow(SerializationError);
    }
  });
});

describe('parseTaskId', () => {
  it('accepts safe positive integers and digit strings only', () => {
    expect(parseTaskId(5)).toBe(5);
    expect(parseTaskId('42')).toBe(42);
    for (const bad of ['1 OR 1=1', '01', '-1', 0, -3, 1.5, Number.NaN, '99999999999999999999', null, {}, '']) {
      expect(parseTaskId(bad)).toBeNull();
    }
  });
});

describe('cron', () => {
  it('computes the next occurrence strictly after now in the given zone', () => {
    const at = Date.UTC(2026, 0, 1, 8, 59, 0);
    expect(nextCronTime('0 9 * * *', 'UTC', at)).toBe(Date.UTC(2026, 0, 1, 9, 0, 0));
    expect(nextCronTime('0 9 * * *', 'UTC', Date.UTC(2026, 0, 1, 9, 0, 0))).toBe(Date.UTC(2026, 0, 2, 9, 0, 0));
    expect(nextCronTime('0 9 * * *', 'America/New_York', at)).toBe(Date.UTC(2026, 0, 1, 14, 0, 0));
    expect(nextCronTime('*/10 * * * * *', 'UTC', Date.UTC(2026, 0, 1, 0, 0, 1))).toBe(Date.UTC(2026, 0, 1, 0, 0, 10));
    expect(() => nextCronTime('* * *', 'UTC', at)).toThrow(InvalidCronError);
    expect(nextCronTime('@hourly', 'UTC', at)).toBe(Date.UTC(2026, 0, 1, 9, 0, 0));
    expect(() => nextCronTime('0 9 * * *', 'No/Where', at)).toThrow(/unknown time zone/);
  });
});

describe('connection resolution', () => {
  it('maps schemes to store packages without connecting, and names the package to install', async () => {
    expect(targetFor('sqlite::memory:', undefined)?.packageName).toBe('@taskmill/store-sqlite');
    expect(targetFor('psql://u@h/db', 'psql')?.packageName).toBe('@taskmill/store-postgres');
    expect(targetFor('postgresql://u@h/db', undefined)?.dialect).toBe('postgres');
    expect(targetFor('mysql://root@h/db', 'mysql')?.dialect).toBe('mysql');
    expect(() => targetFor('redis://h', undefined)).toThrow(ConfigurationError);
    expect(() => targetFor(42, undefined)).toThrow(ConfigurationError);
    const missing = () => import(['@taskmill', 'store-not-there'].join('/')).then(() => () => null as never);
    await expect(openStore('sqlite::memory:', { dialect: 'sqlite', packageName: '@taskmill/store-not-there', load: missing })).rejects.toBeInstanceOf(StoreNotInstalledError);
  });
});

describe('WakeSignal', () => {
  it('a wake before the wait is not lost; wakeAt fires at its time', async () => {
    const s = new WakeSignal({ now: () => Date.now() });
    s.wake();
    const t0 = Date.now();
    await s.wait(5_000);
    expect(Date.now() - t0).toBeLessThan(1_000);
    s.wakeAt(Date.now() + 80);
    const t1 = Date.now();
    await s.wait(5_000);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(60);
    s.dispose();
  });

  it('wakeAt reads its time on the clock it was given: a due time on a database clock 30 s behind this process fires now', async () => {
    const s = new WakeSignal({ now: () => Date.now() + 30_000 });
    const t0 = Date.now();
    s.wakeAt(Date.now() + 10_000); // due 20 s ago on the database's clock
    await s.wait(5_000);
    expect(Date.now() - t0).toBeLessThan(1_000);
    s.dispose();
  });
});
