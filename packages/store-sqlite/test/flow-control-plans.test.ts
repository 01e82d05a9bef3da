import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { T0 } from '@taskmill/store-testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as claim from '../src/claim.js';
import { SqliteConnection, type Param } from '../src/connection.js';
import { createSqliteStore } from '../src/index.js';
import { migrate } from '../src/migrate.js';

/*
 * The flow-control reads at scale (docs/behaviour.md#flow-control): one name with 1,000,000
 * claimable tasks over 10,000 keys, analysed. Every statement keyedCandidates, unkeyedCandidates
 * and countStarts run is recorded and EXPLAINed: each must seek its index (`SEARCH … USING INDEX`
 * with the name, and the key, as equality terms), never scan the tasks table or an index
 * whole, and never sort in a temp B-tree: the costs that would grow with the queue. A key probe
 * (ORDER BY the index's next column, LIMIT 1) then stops at the first entry past the cursor. The
 * times are printed, not asserted (CI machines differ), for the record.
 */

const TASKS = 1_000_000;
const KEYS = 10_000;
const ATTEMPTS = 200_000;

let dir: string;
let db: Database.Database;
let sql: SqliteConnection;
/** Statements run on `sql` while recording, with their parameters. */
let ran: Array<{ text: string; params: Param[] }> | null = null;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'taskmill-sqlite-plans-'));
  db = new Database(join(dir, 'taskmill.db'));
  // a bulk load: no rollback journal or fsync needed for a throwaway file
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  sql = new SqliteConnection({ database: db });
  migrate(sql);
  for (const method of ['get', 'all'] as const) {
    const original = sql[method].bind(sql) as (text: string, ...params: Param[]) => unknown;
    (sql as unknown as Record<string, unknown>)[method] = (text: string, ...params: Param[]) => {
      ran?.push({ text, params });
      return original(text, ...params);
    };
  }
  const started = performance.now();
  // `job`: key k00000…k09999, 100 tasks each, priorities 0-2, due over the last second; every
  // tenth task (so every key k…0 in full) is due only in a minute
  db.exec(`
    WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < ${TASKS})
    INSERT INTO taskmill_tasks (name, type, priority, created_at, status, next_run_time, concurrency_key)
    SELECT 'job', 'async', i % 3, ${T0}, 'pending',
      CASE WHEN i % 10 = 0 THEN ${T0 + 60_000} ELSE ${T0} - i % 1000 END, printf('k%05d', i % ${KEYS})
    FROM g`);
  // unkeyed tasks of `job`, running tasks, another name, and a name's attempt starts
  db.exec(`
    WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 10000)
    INSERT INTO taskmill_tasks (name, type, priority, created_at, status, next_run_time, concurrency_key, worker_id)
    SELECT CASE WHEN i % 2 = 0 THEN 'job' ELSE 'other' END, 'async', i % 3, ${T0},
      CASE WHEN i % 5 = 0 THEN 'running' ELSE 'pending' END, ${T0} - i,
      CASE WHEN i % 4 = 0 THEN printf('k%05d', i % ${KEYS}) END, CASE WHEN i % 5 = 0 THEN 'w' END
    FROM g`);
  db.exec(`
    WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < ${ATTEMPTS})
    INSERT INTO taskmill_task_attempts (task_id, name, attempt, worker_id, started_at)
    SELECT i, CASE WHEN i % 4 = 0 THEN 'other' ELSE 'job' END, 1, 'w', ${T0 - ATTEMPTS} + i FROM g`);
  db.exec('ANALYZE');
  console.log(`loaded ${TASKS} keyed tasks over ${KEYS} keys and ${ATTEMPTS} attempts, analysed: ${Math.round(performance.now() - started)} ms`);
}, 300_000);

afterAll(() => {
  db?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** What `work` ran on the connection. */
async function recording(work: () => Promise<unknown>): Promise<Array<{ text: string; params: Param[] }>> {
  ran = [];
  try {
    await work();
    return ran;
  } finally {
    ran = null;
  }
}

/** EXPLAIN QUERY PLAN of a statement as it ran: its plan lines. */
function plan(text: string, params: Param[]): string[] {
  return (db.prepare(`EXPLAIN QUERY PLAN ${text}`).all(...params) as Array<{ detail: string }>).map((row) => row.detail);
}

/** The plan of each distinct statement text among `statements` (with the first parameters it ran with). */
function plans(statements: Array<{ text: string; params: Param[] }>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const { text, params } of statements) if (!out.has(text)) out.set(text, plan(text, params));
  return out;
}

/** No full scan of a table or an index, no sort: every line a SEARCH of an index (or a scalar subquery's header). */
function expectSeeksOnly(lines: string[]): void {
  expect(lines.join('\n')).not.toMatch(/\bSCAN\b|TEMP B-TREE/);
  for (const line of lines) expect(line).toMatch(/^SEARCH |^SCALAR SUBQUERY/);
}

const median = (times: number[]) => [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)];

function timed(runs: number, work: () => Promise<unknown>): Promise<number> {
  return (async () => {
    const times: number[] = [];
    for (let i = 0; i < runs; i += 1) {
      const started = performance.now();
      await work();
      times.push(performance.now() - started);
    }
    return median(times);
  })();
}

describe(`flow-control reads over ${TASKS} tasks of one name in ${KEYS} keys`, () => {
  it('keyedCandidates probes idx_task_claim_key once per key and reads each key’s due rows in index order', async () => {
    let result: { keys: string[]; tasks: unknown[] } = { keys: [], tasks: [] };
    const statements = await recording(async () => {
      result = await claim.keyedCandidates(sql, 'job', T0, 'k04995', 18, 2);
    });
    // k04996…k05013: k05000 and k05010 have no due task, every other key two
    expect(result.keys).toEqual(Array.from({ length: 18 }, (_, i) => `k0${4996 + i}`));
    expect(result.tasks).toHaveLength(16 * 2);
    const byText = plans(statements);
    const probes = [...byText].filter(([text]) => text.includes('concurrency_key >'));
    const reads = [...byText].filter(([text]) => text.includes('concurrency_key = ?'));
    expect(probes).toHaveLength(1);
    expect(reads).toHaveLength(1);
    expect(statements).toHaveLength(18 * 2);
    for (const [text, lines] of byText) {
      console.log(`${text.trim().split('\n')[0]} …\n  ${lines.join('\n  ')}`);
      expectSeeksOnly(lines);
    }
    expect(probes[0][1]).toEqual([expect.stringMatching(/^SEARCH taskmill_tasks USING (COVERING )?INDEX idx_task_claim_key \(name=\? AND concurrency_key>\?\)$/)]);
    expect(reads[0][1]).toEqual([expect.stringMatching(/^SEARCH taskmill_tasks USING INDEX idx_task_claim_key \(name=\? AND concurrency_key=\?\)$/)]);

    // from the first key: the probe for the smallest key seeks past the unkeyed (NULL) entries
    const fromStart = plans(await recording(() => claim.keyedCandidates(sql, 'job', T0, null, 1, 1)));
    const first = [...fromStart].find(([text]) => text.includes('concurrency_key IS NOT NULL'));
    expect(first?.[1]).toEqual([expect.stringMatching(/^SEARCH taskmill_tasks USING (COVERING )?INDEX idx_task_claim_key \(name=\? AND concurrency_key>\?\)$/)]);
  });

  it('unkeyedCandidates seeks the NULL key of the name; countStarts seeks the name’s window', async () => {
    const unkeyed = plans(await recording(() => claim.unkeyedCandidates(sql, 'job', T0, 100)));
    const starts = plans(await recording(() => claim.countStarts(sql, 'job', T0 - 50_000, 100)));
    for (const [text, lines] of [...unkeyed, ...starts]) {
      console.log(`${text.trim().split('\n')[0]} …\n  ${lines.join('\n  ')}`);
      expectSeeksOnly(lines);
    }
    expect([...unkeyed.values()][0]).toEqual([expect.stringMatching(/^SEARCH taskmill_tasks USING INDEX idx_task_claim_key \(name=\? AND concurrency_key=\?\)$/)]);
    const startLines = [...starts.values()][0];
    expect(startLines.filter((line) => line.startsWith('SEARCH'))).toEqual([
      expect.stringMatching(/^SEARCH taskmill_task_attempts USING COVERING INDEX idx_task_attempts_name_started \(name=\? AND started_at>\?\)$/),
      expect.stringMatching(/^SEARCH taskmill_task_attempts USING COVERING INDEX idx_task_attempts_name_started \(name=\? AND started_at>\?\)$/),
    ]);
    expect(await claim.countStarts(sql, 'job', T0 - 50_000, 100)).toEqual({ count: 37_500, max_th_latest: T0 - 133 });
    expect(await claim.unkeyedCandidates(sql, 'job', T0, 100)).toHaveLength(100);
  });

  it('countRunningByKey reads only the running rows; pausedAmong looks names up by primary key', async () => {
    const running = plans(await recording(() => claim.countRunningByKey(sql, 'job')));
    const paused = plans(await recording(() => claim.pausedAmong(sql, ['job', 'other'])));
    for (const [text, lines] of [...running, ...paused]) console.log(`${text.trim().split('\n')[0]} …\n  ${lines.join('\n  ')}`);
    // a sort of the running rows for GROUP BY is fine: there are as many as busy worker slots
    expect([...running.values()][0]).toContainEqual(expect.stringMatching(/^SEARCH taskmill_tasks USING INDEX \w+ \(status=\?\)$/));
    expect([...running.values()][0].join('\n')).not.toMatch(/SCAN taskmill_tasks/);
    expect([...paused.values()][0]).toContainEqual(expect.stringMatching(/^SEARCH taskmill_paused_names USING COVERING INDEX \w+ \(name=\?\)$/));
    expect(Object.keys(await claim.countRunningByKey(sql, 'job'))).toHaveLength(500);
  });

  it('times a fair-share pass and a keyed claim on this data', async () => {
    const times = {
      'keyedCandidates visit 18, perKey 1': await timed(21, () => claim.keyedCandidates(sql, 'job', T0, 'k05000', 18, 1)),
      'keyedCandidates visit 108, perKey 1': await timed(21, () => claim.keyedCandidates(sql, 'job', T0, 'k05000', 108, 1)),
      'keyedCandidates visit 1008, perKey 10': await timed(5, () => claim.keyedCandidates(sql, 'job', T0, 'k05000', 1008, 10)),
      'unkeyedCandidates limit 100': await timed(21, () => claim.unkeyedCandidates(sql, 'job', T0, 100)),
      'countStarts window of 50,000 starts (37,500 of the name)': await timed(21, () => claim.countStarts(sql, 'job', T0 - 50_000, 100)),
    };
    const store = createSqliteStore({ database: db });
    await store.setup();
    let claimed = 0;
    const claimTime = await timed(5, async () => {
      const { tasks } = await store.claimBatch({ worker_id: 'w1', now: T0, limit: 10, names: ['job'], key_limits: { job: 2 } });
      claimed += tasks.length;
    });
    await store.close();
    expect(claimed).toBe(50);
    console.log(
      Object.entries({ ...times, 'claimBatch limit 10, key limit 2 (store, with the writes)': claimTime })
        .map(([what, ms]) => `${what}: ${ms.toFixed(2)} ms (median)`)
        .join('\n'),
    );
  });
});
