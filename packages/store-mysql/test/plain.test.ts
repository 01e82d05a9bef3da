import { type Store, StoreError } from '@taskmill/contracts';
import { planClaim, type ClaimPlan } from '@taskmill/store-kit';
import { T0, newTask } from '@taskmill/store-testkit';
import mysql from 'mysql2/promise';
import { afterAll, expect, it } from 'vitest';
import { createMysqlStore } from '../src/index.js';
import { claimPacket, peekStatement } from '../src/plain.js';
import { adminOptions, describeServer, recordingPool, TestDatabases, urlFor, type SentQuery } from './mysql-harness.js';

/*
 * The one-round-trip packets (plain.ts): one query per claim and per group of completions, the
 * claim index plan kept, and a packet that fails rolled back and retried like a transaction. That
 * they write the general path's rows is the conformance suite's `plain-paths`.
 */

await describeServer('MySQL one-round-trip packets', () => {
  const dbs = new TestDatabases();
  const stores: Store[] = [];
  const pools: mysql.Pool[] = [];
  const track = (store: Store) => (stores.push(store), store);

  afterAll(async () => {
    for (const store of stores.reverse()) await store.close().catch(() => {});
    for (const pool of pools) await pool.end().catch(() => {});
    await dbs.cleanup();
  });

  async function pool(multipleStatements: boolean): Promise<mysql.Pool> {
    const db = await dbs.create();
    const created = mysql.createPool({ ...adminOptions(), database: db, connectionLimit: 2, multipleStatements });
    pools.push(created);
    return created;
  }

  /** Transactions open on connections to the database, by any session. */
  async function openTransactions(db: string): Promise<number> {
    const [row] = (await dbs.query(
      `SELECT COUNT(*) AS n FROM information_schema.INNODB_TRX AS x JOIN information_schema.PROCESSLIST AS p ON p.ID = x.trx_mysql_thread_id WHERE p.DB = ?`,
      [db],
    )) as { n: number }[];
    return Number(row.n);
  }

  /**
   * Sessions of the database waiting for a row lock: a transaction in LOCK WAIT, or a locking read
   * still running. A packet's `SELECT … WHERE id IN (…) FOR UPDATE` waits for the row while the
   * optimizer reads it as a constant (PROCESSLIST state "Statistics"), before InnoDB lists its
   * transaction in INNODB_TRX, so the lock wait shows only in PROCESSLIST.
   */
  async function waitingTransactions(db: string): Promise<number> {
    const [row] = (await dbs.query(
      `SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST AS p
       LEFT JOIN information_schema.INNODB_TRX AS x ON x.trx_mysql_thread_id = p.ID
       WHERE p.DB = ? AND (x.trx_state = 'LOCK WAIT' OR (p.COMMAND = 'Query' AND p.INFO LIKE '%FOR UPDATE%'))`,
      [db],
    )) as { n: number }[];
    return Number(row.n);
  }

  it('a claim and a group of completions are one query each; a pool without multipleStatements takes the general path', async () => {
    for (const multi of [true, false]) {
      const sent: SentQuery[] = [];
      const store = track(createMysqlStore({ pool: recordingPool(await pool(multi), sent) }));
      await store.setup();
      await store.createTasks([newTask({ name: 'job' }), newTask({ name: 'job' }), newTask({ name: 'job' })], T0);
      sent.length = 0;
      const claimed = await store.claimTasks({ worker_id: 'w', now: T0 + 1, limit: 10, names: ['job'] });
      expect(claimed).toHaveLength(3);
      const claimQueries = sent.length;
      sent.length = 0;
      const results = await store.finishAttempts(
        claimed.map((task) => ({ fence: { task_id: task.id, worker_id: 'w', attempt: task.attempt }, outcome: { kind: 'completed' as const, result: null } })),
        T0 + 2,
      );
      expect(results.every((result) => result.applied && result.task?.status === 'completed')).toBe(true);
      if (multi) {
        expect([claimQueries, sent.length]).toEqual([1, 1]);
        expect(sent[0].sql).toMatch(/^SET TRANSACTION ISOLATION LEVEL READ COMMITTED;\nSTART TRANSACTION;/);
      } else {
        expect(claimQueries).toBeGreaterThan(3);
        expect(sent.length).toBeGreaterThan(3);
      }
    }
  });

  it('the packet peek reads each claimable status along idx_task_claim_order with 65,536 due tasks, and locks by primary key', async () => {
    const created = await pool(true);
    const store = track(createMysqlStore({ pool: created }));
    await store.setup();
    await store.createTasks([newTask({ name: 'job' })], T0);
    for (let i = 0; i < 16; i++) {
      await created.query(
        `INSERT INTO taskmill_tasks (name, type, payload, priority, next_run_time, timeout, max_retries, retry_interval, status, created_at)
         SELECT name, type, payload, (id % 5) - 2, next_run_time - (id % 7), timeout, max_retries, retry_interval, status, created_at FROM taskmill_tasks`,
      );
    }
    await created.query('ANALYZE TABLE taskmill_tasks');
    const plan = planClaim({ worker_id: 'w', now: T0, limit: 10, names: ['job'] }) as ClaimPlan;
    const peek = peekStatement(plan, 28);
    const conn = await created.getConnection();
    try {
      await conn.query('SET @taskmill_blocked = 0');
      const [explained] = (await conn.query(`EXPLAIN ${peek.sql.replace(' INTO @taskmill_peek', '')}`, peek.params)) as unknown as [Record<string, unknown>[]];
      const branches = explained.filter((row) => row.table === 'taskmill_tasks');
      expect(branches).toHaveLength(3);
      for (const row of branches) {
        expect(row.key).toBe('idx_task_claim_order');
        expect(String(row.Extra)).toContain('Using index');
        expect(String(row.Extra)).not.toContain('filesort');
        expect(row.type).not.toBe('ALL');
      }
      await conn.query(peek.sql, peek.params);
      const [[{ peeked }]] = (await conn.query('SELECT JSON_LENGTH(@taskmill_peek) AS peeked')) as unknown as [[{ peeked: number }]];
      expect(Number(peeked)).toBe(28);
      // the locks, the writes and the read back: by primary key from the ids in the variables
      await conn.query(`SET @taskmill_claimed = JSON_EXTRACT(@taskmill_peek, '$[0]', '$[1]')`);
      const { packet } = claimPacket(plan);
      for (const statement of packet.filter((s) => /STRAIGHT_JOIN/.test(s.sql))) {
        const sql = statement.sql.replace(/ INTO @taskmill_\w+/, '');
        const [rows] = (await conn.query(`EXPLAIN ${sql}`, statement.params)) as unknown as [Record<string, unknown>[]];
        const tasks = rows.filter((row) => row.table === 't');
        expect(tasks, sql).toHaveLength(1);
        expect(tasks[0], sql).toMatchObject({ key: 'PRIMARY', type: 'eq_ref' });
      }
    } finally {
      conn.release();
    }
    const claimed = await store.claimTasks({ worker_id: 'w', now: T0, limit: 10, names: ['job'] });
    expect(claimed).toHaveLength(10);
    expect(claimed.every((task) => task.priority === 2)).toBe(true);
  });

  it('a claim takes the next peeked tasks for those another transaction holds', async () => {
    const store = track(await dbs.store());
    const ids = await store.createTasks(Array.from({ length: 8 }, () => newTask({ name: 'job' })), T0);
    await dbs.lockRows(store, 'taskmill_tasks', { id: ids[0] }, async () => {
      const claimed = await store.claimTasks({ worker_id: 'w', now: T0 + 1, limit: 3, names: ['job'] });
      expect(claimed.map((task) => task.id)).toEqual(ids.slice(1, 4));
    });
  });

  it('a lock wait timeout inside the packet rolls it back and runs it again; a packet that keeps failing leaves no transaction open', async () => {
    const base = track(await dbs.store());
    const db = dbs.database(base);
    // enough reruns that the packet is still waiting, lock wait after lock wait, whenever the poll
    // below looks, however slow a loaded machine makes that poll (a run with 3 reruns used them all
    // up before the poll saw one wait)
    const store = track(createMysqlStore({ url: urlFor(db), lock_timeout_ms: 1000, deadlockRetries: 60 }));
    const strict = track(createMysqlStore({ url: urlFor(db), lock_timeout_ms: 1000, deadlockRetries: 1 }));
    await store.createTasks([newTask({ name: 'job' }), newTask({ name: 'job' })], T0);
    const [a, b] = await store.claimTasks({ worker_id: 'w', now: T0 + 1, limit: 2, names: ['job'] });
    const done = (task: typeof a) => ({ fence: { task_id: task.id, worker_id: 'w', attempt: task.attempt }, outcome: { kind: 'completed' as const, result: null } });

    // held until the packet has waited longer than one lock wait: it timed out, and a rerun gets through
    let finishing: Promise<unknown> = Promise.resolve();
    await dbs.lockRows(base, 'taskmill_tasks', { id: a.id }, async () => {
      finishing = store.finishAttempts([done(a)], T0 + 2);
      // settled below, after the lock is released; a rejection meanwhile is not unhandled
      finishing.catch(() => undefined);
      const deadline = Date.now() + 30_000;
      while ((await waitingTransactions(db)) === 0) {
        if (Date.now() > deadline) throw new Error('the packet never waited for the held row');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await new Promise((resolve) => setTimeout(resolve, 1500));
    });
    const [result] = (await finishing) as Array<{ applied: boolean }>;
    expect(result.applied).toBe(true);

    // held past every rerun: a StoreError, and no transaction left open on the pool's connections
    let error: unknown;
    await dbs.lockRows(base, 'taskmill_tasks', { id: b.id }, async () => {
      error = await strict.finishAttempts([done(b)], T0 + 3).catch((e: unknown) => e);
      expect(await openTransactions(db)).toBe(1); // the lock holder's own
    });
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).cause).toMatchObject({ errno: 1205 });
    expect(await openTransactions(db)).toBe(0);
    expect((await store.getTask(b.id))?.status).toBe('running');
    expect(await dbs.rawRows(base, 'taskmill_task_events', { task_id: b.id, event_type: 'task_completed' })).toEqual([]);
    const [again] = await store.finishAttempts([done(b)], T0 + 4);
    expect(again.applied).toBe(true);
  });
});
