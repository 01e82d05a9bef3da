import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSqliteStore } from '@taskmill/store-sqlite';
import { CLOCK_SKEW_WARNING_MS, DbClock } from '../src/db-clock.js';

/*
 * The clock against a real store: SQLite reads the operating system's clock through SQLite itself,
 * which a process's own `Date.now()` cannot bend, so shifting `Date.now()` here is a process whose
 * clock is wrong.
 */
describe('DbClock', () => {
  afterEach(() => vi.restoreAllMocks());

  for (const shift of [30_000, -30_000]) {
    it(`a process clock ${shift > 0 ? 'ahead' : 'behind'} by 30 s reads the database's time once synced, and is reported once`, async () => {
      const store = createSqliteStore('sqlite::memory:');
      await store.setup();
      const realNow = Date.now.bind(Date);
      vi.spyOn(Date, 'now').mockImplementation(() => realNow() + shift);
      const reports: Array<[unknown, string]> = [];
      const clock = new DbClock((error, where) => reports.push([error, where]));
      expect(clock.synced).toBe(false);
      expect(Math.abs(clock.now() - realNow() - shift)).toBeLessThan(100); // not yet measured: the local clock
      await clock.sync(store);
      expect(clock.synced).toBe(true);
      expect(Math.abs(clock.skew + shift)).toBeLessThan(100);
      expect(Math.abs(clock.now() - realNow())).toBeLessThan(100);
      expect(reports).toHaveLength(1);
      expect(reports[0][1]).toBe('clock');
      expect(String(reports[0][0])).toContain(shift > 0 ? 'ahead of' : 'behind');
      await clock.sync(store);
      expect(reports).toHaveLength(1); // still off: not reported again
      await store.close();
    });
  }

  it('a clock within the bound is not reported, and one that drifts off later is', async () => {
    const store = createSqliteStore('sqlite::memory:');
    await store.setup();
    const realNow = Date.now.bind(Date);
    let shift = 0;
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() + shift);
    const reports: unknown[] = [];
    const clock = new DbClock((error) => reports.push(error));
    await clock.sync(store);
    expect(Math.abs(clock.skew)).toBeLessThan(100);
    expect(reports).toHaveLength(0);
    shift = CLOCK_SKEW_WARNING_MS + 2000;
    await clock.sync(store);
    expect(reports).toHaveLength(1);
    await store.close();
  });

  it('a reading slowed on its way back does not move the offset: the shortest round trip sets it', async () => {
    const store = createSqliteStore('sqlite::memory:');
    await store.setup();
    const clock = new DbClock(() => {});
    await clock.sync(store);
    expect(Math.abs(clock.skew)).toBeLessThan(50);
    // the server's answer reaches this process 600 ms late: taken alone, it would put the database 300 ms behind
    const slow = new Proxy(store, {
      get: (target, prop) =>
        prop === 'serverTime'
          ? async () => {
              const time = await target.serverTime();
              await new Promise((r) => setTimeout(r, 600));
              return time;
            }
          : Reflect.get(target, prop, target),
    });
    await clock.sync(slow);
    expect(Math.abs(clock.skew)).toBeLessThan(50);
    await store.close();
  });
});
