import { ConfigurationError, type Store } from '@taskmill/contracts';
import { T0, newTask } from '@taskmill/store-testkit';
import mysql from 'mysql2';
import { afterAll, describe, expect, it } from 'vitest';
import { createMysqlStore } from '../src/index.js';
import { describeServer, TestDatabases, urlFor } from './mysql-harness.js';

/*
 * The doorbell (src/bell.ts, docs/behaviour.md#wake-ups) on a real MariaDB server. The listeners
 * here wait up to 10 s per bell statement and would probe only every 10 s: a wake-up within 3 s
 * can only have come from a ring.
 */

const WAIT = 10_000;
const SOON = 3_000;

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll until `done()` or `ms` passed; whether it became true. */
async function within(ms: number, done: () => boolean): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await pause(2);
  return done();
}

/** Poll the server until `done()` or `ms` (10 s) passed; whether it became true. */
async function until(done: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await done()) return true;
    await pause(20);
  }
  return false;
}

describe('wake-up bell options (no server needed)', () => {
  it('rejects a wakeBell that is not a boolean and a wakeBellWait that is not a positive integer', () => {
    const url = 'mysql://root@127.0.0.1:1/x';
    expect(() => createMysqlStore({ url, wakeBell: 'yes' as never })).toThrow(ConfigurationError);
    expect(() => createMysqlStore({ url, wakeBellWait: 0 })).toThrow(ConfigurationError);
    expect(() => createMysqlStore({ url, wakeBellWait: 2.5 })).toThrow(ConfigurationError);
    expect(createMysqlStore({ url, wakeBell: false }).capabilities.notify).toBe(true);
  });
});

await describeServer('MySQL store wake-up bell (MariaDB)', () => {
  const dbs = new TestDatabases();
  const stores: Store[] = [];
  const track = (store: Store) => (stores.push(store), store);

  afterAll(async () => {
    for (const store of stores.reverse()) await store.close().catch(() => {});
    await dbs.cleanup();
  });

  /** A listening store with the bell waiting up to 10 s, and a producer store (its own pool) on the same database. */
  async function pair(): Promise<{ db: string; producer: Store; wakes: () => number; stop: () => Promise<void> }> {
    const db = await dbs.create();
    const listener = track(createMysqlStore({ url: urlFor(db), wakeBellWait: WAIT, wakeProbeInterval: WAIT }));
    const producer = track(createMysqlStore(urlFor(db)));
    await listener.setup();
    let wakes = 0;
    const stop = await listener.listen!(() => wakes++);
    return { db, producer, wakes: () => wakes, stop };
  }

  /** The ids of the threads of `db` running a bell statement. */
  async function bells(db: string): Promise<number[]> {
    const rows = (await dbs.query(
      "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ? AND COMMAND = 'Query' AND INFO LIKE CONCAT('%/* taskmill', '-bell */%')",
      [db],
    )) as { id: number }[];
    return rows.map((row) => Number(row.id));
  }

  it('an enqueue in another store wakes an idle listener at once, not at the end of its 10 s wait', async () => {
    const { db, producer, wakes, stop } = await pair();
    // the bell is waiting: one statement of this database, sleeping; nothing happened, no wake-up
    expect(await until(async () => (await bells(db)).length === 1)).toBe(true);
    await pause(200);
    expect(wakes()).toBe(0);
    for (let round = 0; round < 3; round++) {
      const before = wakes();
      await producer.createTasks([newTask()], T0);
      expect(await within(SOON, () => wakes() > before)).toBe(true);
    }
    await stop();
    // unsubscribed: the statement was ended on the server, and no wake-up follows
    expect(await bells(db)).toEqual([]);
    const after = wakes();
    await producer.createTasks([newTask()], T0);
    await pause(200);
    expect(wakes()).toBe(after);
  });

  it('never loses a commit that lands while the bell is between two statements: 40 rounds of enqueues around a wake-up', async () => {
    const { db, producer, wakes, stop } = await pair();
    const second = track(createMysqlStore(urlFor(db)));
    /**
     * Whether the bell now sleeps on the newest event id: its statement's text carries the id it
     * last read (`m.id <> <id>`). A commit the bell lost leaves it asleep on an older id, for 10 s.
     */
    const asleepOnNewest = async (): Promise<boolean> => {
      const [newest] = (await dbs.query(`SELECT COALESCE(MAX(id), 0) AS id FROM \`${db}\`.taskmill_task_events`)) as { id: number }[];
      const waits = (await dbs.query(
        "SELECT INFO AS info FROM information_schema.PROCESSLIST WHERE DB = ? AND COMMAND = 'Query' AND INFO LIKE CONCAT('%/* taskmill', '-bell */%')",
        [db],
      )) as { info: string }[];
      return waits.some((wait) => Number(/m\.id <> (\d+)/.exec(wait.info)?.[1]) === Number(newest.id));
    };
    for (let round = 0; round < 40; round++) {
      const before = wakes();
      // two producers commit close together, at varied offsets: the second commit lands while the
      // bell is between the statement the first one's ring ended and the next
      await Promise.all([producer.createTasks([newTask()], T0), pause(round % 8).then(() => second.createTasks([newTask()], T0))]);
      expect(await within(SOON, () => wakes() > before), `round ${round}: a wake-up`).toBe(true);
      expect(await until(asleepOnNewest, SOON), `round ${round}: the bell sleeps on the newest id`).toBe(true);
    }
    await stop();
  });

  it('a bell whose connection is killed (KILL CONNECTION) connects again and keeps waking', async () => {
    const { db, producer, wakes, stop } = await pair();
    expect(await until(async () => (await bells(db)).length === 1)).toBe(true);
    const [first] = await bells(db);
    await dbs.query(`KILL CONNECTION ${Number(first)}`);
    // a new connection waits in its place (the bell reconnects after 1 s)
    expect(await until(async () => (await bells(db)).some((id) => id !== first))).toBe(true);
    const before = wakes();
    await producer.createTasks([newTask()], T0);
    expect(await within(SOON, () => wakes() > before)).toBe(true);
    await stop();
  });

  it('an idle bell sends about one statement per wakeBellWait (counted at the driver)', async () => {
    const db = await dbs.create();
    const listener = track(createMysqlStore({ url: urlFor(db), wakeBellWait: 1000 }));
    await listener.setup();
    const stop = await listener.listen!(() => {});
    const proto = mysql.Connection.prototype as unknown as Record<'query' | 'execute', (...args: unknown[]) => unknown>;
    const originals = { query: proto.query, execute: proto.execute };
    let statements = 0;
    for (const method of ['query', 'execute'] as const) {
      proto[method] = function (this: unknown, ...args: unknown[]) {
        statements++;
        return originals[method].apply(this, args);
      };
    }
    try {
      await pause(3_000);
    } finally {
      proto.query = originals.query;
      proto.execute = originals.execute;
    }
    await stop();
    // 3 s at one wait per second is 3 or 4 statements; a probe every 50 ms would be 60
    expect(statements).toBeGreaterThan(0);
    expect(statements / 3).toBeLessThanOrEqual(5);
  });

  it('wakeBell: false probes: an enqueue wakes the listener within a few probe intervals', async () => {
    const db = await dbs.create();
    const listener = track(createMysqlStore({ url: urlFor(db), wakeBell: false, wakeProbeInterval: 20 }));
    const producer = track(createMysqlStore({ url: urlFor(db), wakeBell: false }));
    await listener.setup();
    let wakes = 0;
    const stop = await listener.listen!(() => wakes++);
    expect(await bells(db)).toEqual([]);
    await producer.createTasks([newTask()], T0);
    expect(await within(SOON, () => wakes > 0)).toBe(true);
    await stop();
  });

  it('a producer whose rings cannot reach the bell (another database user) still wakes it, at the end of the wait', async () => {
    const db = await dbs.create();
    const user = `tm_bell_${db.slice(3, 11)}`;
    await dbs.query(`CREATE USER '${user}'@'%' IDENTIFIED BY 'secret'`);
    try {
      await dbs.query(`GRANT ALL ON \`${db}\`.* TO '${user}'@'%'`);
      const listener = track(createMysqlStore({ url: urlFor(db), wakeBellWait: 1500 }));
      await listener.setup();
      const other = new URL(urlFor(db));
      other.username = user;
      other.password = 'secret';
      const producer = track(createMysqlStore(other.toString()));
      let wakes = 0;
      const stop = await listener.listen!(() => wakes++);
      // the bell sleeps before the commit: only the end of its wait can tell it
      expect(await until(async () => (await bells(db)).length === 1)).toBe(true);
      await producer.createTasks([newTask()], T0);
      expect(await within(WAIT, () => wakes > 0)).toBe(true);
      await stop();
      await producer.close();
    } finally {
      await dbs.query(`DROP USER '${user}'@'%'`);
    }
  });
});
