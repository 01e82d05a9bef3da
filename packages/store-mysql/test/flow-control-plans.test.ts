import mysql from 'mysql2/promise';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { countRunningByKey, countStarts, keyedCandidates, unkeyedCandidates } from '../src/claim.js';
import { openConnection, type MysqlConnection } from '../src/connection.js';
import { createMysqlStore } from '../src/index.js';
import { inTransaction, type Conn } from '../src/transaction.js';
import { adminOptions, describeServer, TestDatabases, urlFor } from './mysql-harness.js';

/*
 * The plans of the flow-control reads on a large queue: 1,000,000 pending tasks of one name over
 * 10,000 keys (100 each; every fifth key has only tasks not yet due), with 100,000 completed and 10,000 running
 * tasks of the same keys, 10,000 pending tasks without a key, and 200,000 attempt rows. Every
 * statement the reads send is recorded and EXPLAINed: each reads along an index, none scans the
 * table or sorts the due tasks; and the handler counters show that a keyed read touches a few
 * index entries per key visited, not the keys' rows.
 *
 * The rows are inserted with the secondary indexes of `taskmill_tasks` dropped and then added back
 * in one ALTER (a sorted build instead of a million random index inserts: ~20 s instead of
 * ~60 s on a small server); the table definition is checked to be the migrated one afterwards.
 */

const TASKS = 1_000_000;
const KEYS = 10_000;
const NOW = 1_800_000_000_000;

type Plan = Record<string, unknown>[];

await describeServer('MySQL flow-control plans on a large queue', () => {
  const dbs = new TestDatabases();
  let db: string;
  let admin: mysql.Connection;
  let connection: MysqlConnection;

  beforeAll(async () => {
    db = await dbs.create();
    const store = createMysqlStore(urlFor(db));
    await store.setup();
    await store.close();
    admin = await mysql.createConnection({ ...adminOptions(), database: db });
    const definition = async () => String(((await admin.query('SHOW CREATE TABLE taskmill_tasks')) as unknown as [Record<string, unknown>[]])[0][0]['Create Table']);
    const before = await definition();
    const indexes = before
      .split('\n')
      .map((line) => line.trim().replace(/,$/, ''))
      .filter((line) => /^(UNIQUE )?KEY /.test(line));
    await admin.query(`ALTER TABLE taskmill_tasks ${indexes.map((line) => `DROP INDEX \`${/KEY `([^`]+)`/.exec(line)![1]}\``).join(', ')}`);
    const key = (seq: string) => `CONCAT('tenant-', LPAD(${seq} % ${KEYS}, 5, '0'))`;
    await admin.query(
      `INSERT INTO taskmill_tasks (name, type, priority, created_at, status, next_run_time, concurrency_key)
       SELECT 'job', 'async', seq % 3, ?, 'pending', IF(seq % 5 = 0, ? + 3600000, ? - seq % 1000), ${key('seq')} FROM seq_1_to_${TASKS}`,
      [NOW, NOW, NOW],
    );
    await admin.query(
      `INSERT INTO taskmill_tasks (name, type, priority, created_at, status, next_run_time, concurrency_key, worker_id)
       SELECT 'job', 'async', 2, ?, IF(seq <= ${KEYS}, 'running', 'completed'), ? - 5000, ${key('seq')}, 'w' FROM seq_1_to_100000`,
      [NOW, NOW],
    );
    await admin.query(
      `INSERT INTO taskmill_tasks (name, type, priority, created_at, status, next_run_time) SELECT 'job', 'async', seq % 3, ?, 'pending', ? - seq FROM seq_1_to_10000`,
      [NOW, NOW],
    );
    await admin.query(`ALTER TABLE taskmill_tasks ${indexes.map((line) => `ADD ${line}`).join(', ')}`);
    expect((await definition()).replace(/ AUTO_INCREMENT=\d+/, '')).toBe(before.replace(/ AUTO_INCREMENT=\d+/, ''));
    await admin.query(
      `INSERT INTO taskmill_task_attempts (task_id, name, attempt, worker_id, started_at)
       SELECT seq, IF(seq % 4 = 0, 'other', 'job'), 1, 'w', ? - seq * 10 FROM seq_1_to_200000`,
      [NOW],
    );
    await admin.query('ANALYZE TABLE taskmill_tasks, taskmill_task_attempts');
    connection = openConnection(urlFor(db));
  }, 240_000);

  afterAll(async () => {
    await connection?.close();
    await admin?.end();
    await dbs.cleanup();
  });

  /** Run `work` in a store transaction on a connection that records every statement sent. */
  async function recorded<T>(work: (conn: Conn) => Promise<T>): Promise<{ result: T; statements: { sql: string; values: unknown[] }[]; reads: number; ms: number }> {
    const statements: { sql: string; values: unknown[] }[] = [];
    return inTransaction(connection, 'test', async (conn) => {
      const counters = async () => {
        const [found] = (await conn.query("SHOW SESSION STATUS LIKE 'Handler_read%'")) as unknown as [{ Variable_name: string; Value: string }[]];
        return found.reduce((sum, row) => sum + Number(row.Value), 0);
      };
      const idle = -(await counters()) + (await counters()); // what a SHOW STATUS itself reads
      const before = await counters();
      const recording: Conn = {
        query: ((sql: string, values: unknown[]) => {
          statements.push({ sql, values });
          return conn.query(sql, values);
        }) as Conn['query'],
        idStep: () => conn.idStep(),
        wake: () => conn.wake(),
      };
      const started = performance.now();
      const result = await work(recording);
      const ms = performance.now() - started;
      const reads = (await counters()) - before - idle;
      return { result, statements, reads, ms };
    });
  }

  async function explain(statement: { sql: string; values: unknown[] }): Promise<Plan> {
    return ((await admin.query(`EXPLAIN ${statement.sql}`, statement.values)) as unknown as [Plan])[0];
  }

  /** The rows of a plan that read `table`. */
  const reading = (plan: Plan, table: string) => plan.filter((row) => row.table === table);

  /** Every read of `taskmill_tasks` in the plan is along `key`, by index only, without a sort or a scan. */
  function expectIndexOnly(plan: Plan, key: string) {
    const rows = reading(plan, 'taskmill_tasks');
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row.key).toBe(key);
      expect(row.type).not.toBe('ALL');
      expect(row.type).not.toBe('index');
      expect(String(row.Extra)).toContain('Using index');
      expect(String(row.Extra)).not.toContain('filesort');
      expect(String(row.Extra)).not.toContain('temporary');
    }
  }

  it('keyedCandidates: one optimised-away probe per key, a covering ref per key in claim order, a lock by primary key', async () => {
    const { result, statements, reads, ms } = await recorded((conn) => keyedCandidates(conn, 'job', NOW, 'tenant-04999', 18, 2));
    console.log(`keyedCandidates (visit 18, 2 per key) on ${TASKS.toLocaleString('en')} tasks: ${ms.toFixed(1)} ms, ${statements.length} statements, ${reads} handler reads`);
    expect(result.keys).toEqual(Array.from({ length: 18 }, (_, i) => `tenant-${String(5000 + i).padStart(5, '0')}`));
    // the tasks of every fifth key are all not yet due: visited, nothing taken
    expect(result.tasks).toHaveLength(14 * 2);
    expect(result.tasks.every((task) => task.status === 'pending' && task.next_run_time <= NOW)).toBe(true);

    const probes = statements.filter((s) => s.sql.includes('MIN(claim_key)'));
    const peeks = statements.filter((s) => s.sql.includes('UNION ALL'));
    const locks = statements.filter((s) => s.sql.includes('FOR UPDATE SKIP LOCKED'));
    expect([probes.length, peeks.length, locks.length, statements.length]).toEqual([18, 1, 1, 20]);
    for (const statement of [probes[0], probes[17]]) {
      const plan = await explain(statement);
      // answered from the index while optimising: one dive, no row of the key read
      expect(plan.map((row) => row.Extra)).toEqual(['Select tables optimized away']);
    }
    const peek = await explain(peeks[0]);
    expect(reading(peek, 'taskmill_tasks')).toHaveLength(18);
    expectIndexOnly(peek, 'idx_task_claim_key');
    for (const row of reading(peek, 'taskmill_tasks')) expect(row.type).toBe('ref');
    expect(String(peek[peek.length - 1].Extra ?? '')).not.toContain('filesort');
    const lock = await explain(locks[0]);
    expect(reading(lock, 'taskmill_tasks').map((row) => [row.key, row.type])).toEqual([['PRIMARY', 'range']]);
    // at most the index entries of the 18 keys visited (a key's not-yet-due tasks of a higher
    // priority come first in its range and are passed over), never the queue
    expect(reads).toBeLessThan(18 * 100 + 100);
  });

  it('keyedCandidates: the key probes alone read about one index entry per key', async () => {
    const { result, statements, reads, ms } = await recorded((conn) => keyedCandidates(conn, 'job', NOW, 'tenant-02000', 500, 0));
    console.log(`keyedCandidates' 500 key probes alone: ${ms.toFixed(1)} ms, ${reads} handler reads`);
    expect(result.keys).toHaveLength(500);
    expect(statements).toHaveLength(500);
    expect(reads).toBeLessThan(500 * 3);
  });

  it('keyedCandidates over 500 keys (many saturated keys) still reads a few entries per key', async () => {
    await recorded((conn) => keyedCandidates(conn, 'job', NOW, null, 20, 1)); // warm
    const { result, reads, ms } = await recorded((conn) => keyedCandidates(conn, 'job', NOW, 'tenant-01000', 500, 1));
    console.log(`keyedCandidates (visit 500, 1 per key) on ${TASKS.toLocaleString('en')} tasks: ${ms.toFixed(1)} ms, ${reads} handler reads`);
    expect(result.keys).toHaveLength(500);
    expect(result.tasks).toHaveLength(400);
    expect(reads).toBeLessThan(500 * 100 * 0.3);
  });

  it('unkeyedCandidates: a covering ref on (name, claim_key = "") in claim order, stopping at the limit', async () => {
    const { result, statements, reads, ms } = await recorded((conn) => unkeyedCandidates(conn, 'job', NOW, 10));
    console.log(`unkeyedCandidates (10) on ${TASKS.toLocaleString('en')} tasks: ${ms.toFixed(1)} ms, ${reads} handler reads`);
    expect(result).toHaveLength(10);
    expect(result.every((task) => task.concurrency_key === null && task.priority === 2)).toBe(true);
    const [peek] = statements;
    const plan = await explain(peek);
    expectIndexOnly(plan, 'idx_task_claim_key');
    expect(reading(plan, 'taskmill_tasks')[0].type).toBe('ref');
    expect(reads).toBeLessThan(100);
  });

  it('countStarts: one statement, two ranges of idx_task_attempts_name_started, the offset read backwards without a sort', async () => {
    const { result, statements, ms } = await recorded((conn) => countStarts(conn, 'job', NOW - 60_000, 100));
    console.log(`countStarts on 200,000 attempts: ${ms.toFixed(1)} ms`);
    // starts at NOW - 10 * seq of the 'job' seqs (3 of every 4) with 10 * seq < 60,000
    expect(result).toEqual({ count: 4_500, max_th_latest: NOW - 10 * 133 });
    expect(statements).toHaveLength(1);
    const plan = await explain(statements[0]);
    const rows = reading(plan, 'taskmill_task_attempts');
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row.key).toBe('idx_task_attempts_name_started');
      expect(row.type).toBe('range');
      expect(String(row.Extra)).toContain('Using index');
      expect(String(row.Extra)).not.toContain('filesort');
    }
  });

  it("countRunningByKey: only the name's running rows, through idx_task_claim_name", async () => {
    const { result, statements } = await recorded((conn) => countRunningByKey(conn, 'job'));
    expect(Object.keys(result)).toHaveLength(KEYS);
    expect(Object.values(result).every((n) => n === 1)).toBe(true);
    const plan = await explain(statements[0]);
    const [row] = reading(plan, 'taskmill_tasks');
    expect(row.key).toBe('idx_task_claim_name');
    expect(row.type).toBe('ref');
    expect(Number(row.rows)).toBeLessThan(100_000);
  });
});
