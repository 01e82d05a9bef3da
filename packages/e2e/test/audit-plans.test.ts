import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as audit from '@taskmill/audit';
import type { Store } from '@taskmill/contracts';
import { createPostgresStore } from '@taskmill/store-postgres';
import { createSqliteStore } from '@taskmill/store-sqlite';
import { PG_URL, backends } from '../src/backends.js';
import { explainSqlite, fillPostgres, fillSqlite, recordSqlite, type RecordedStatement } from '../src/audit-data.js';

/*
 * The audit reads use indexes: the store's own statements for a workflow's events and attempts
 * and a task's events, recorded while they run against a table of 100,000 events (a workflow of 1,000 tasks), are explained
 * by the database and must not scan the events or attempts table, nor sort the page in a
 * temporary structure on SQLite. (The 1,000,000-event figures are in bench/audit-scale.ts.)
 */

const DATA = { tasks: 20_000, workflow: 1_000 };
/** A task outside the workflow, with its own 5 events. */
const LONE_TASK = 15_000;

async function readEverything(store: Store): Promise<void> {
  const first = await audit.queryWorkflowEvents(store, 1, { limit: 50 });
  await audit.queryWorkflowEvents(store, 1, { limit: 50, cursor: first.next_cursor! });
  await audit.queryTaskEvents(store, LONE_TASK, { limit: 10 });
  await audit.queryWorkflowAttempts(store, 1, { limit: 50 });
}

const readsOf = (recorded: RecordedStatement[], table: string) =>
  recorded.filter((s) => /^\s*SELECT/i.test(s.sql) && s.sql.includes(table) && !/COUNT\(/i.test(s.sql));

describe('audit query plans [sqlite]', () => {
  let dir: string;
  let db: Database.Database;
  let store: Store;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'taskmill-plans-'));
    db = new Database(join(dir, 'tasks.db'));
    store = createSqliteStore({ database: db });
    await store.setup();
    fillSqlite(db, DATA);
  });
  afterAll(async () => {
    await store?.close();
    db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('workflow and task event pages (offset and cursor) and workflow attempts read through indexes, never a table scan', async () => {
    const recorded = await recordSqlite(db, () => readEverything(store));
    const events = readsOf(recorded, 'taskmill_task_events');
    const counts = recorded.filter((s) => /COUNT\(/i.test(s.sql));
    expect(events.length).toBeGreaterThanOrEqual(3);
    expect(counts.length).toBeGreaterThanOrEqual(4);
    for (const statement of [...events, ...counts]) {
      const plan = explainSqlite(db, statement).join('\n');
      expect(plan, statement.sql).toMatch(/USING (COVERING )?INDEX idx_task_(events|attempts)_/);
      expect(plan, statement.sql).not.toMatch(/SCAN taskmill_task_(events|attempts)\b(?! USING)/);
    }
    for (const statement of events) {
      expect(explainSqlite(db, statement).join('\n'), statement.sql).not.toMatch(/TEMP B-TREE/);
    }
    const workflowPage = events.find((s) => s.sql.includes('root_id'))!;
    console.log(`[sqlite] ${workflowPage.sql.replace(/\s+/g, ' ')}\n  ${explainSqlite(db, workflowPage).join('\n  ')}`);
  });
});

describe('audit query plans [postgres]', () => {
  const schema = `plans_${process.pid}_${Date.now().toString(36)}`;
  const recorded: RecordedStatement[] = [];
  let reason: string | null = null;
  let sql: postgres.Sql;
  let store: Store;

  beforeAll(async () => {
    reason = await backends().find((b) => b.name === 'postgres')!.unavailable();
    if (reason && process.env.CI) throw new Error(`${reason} (CI is set: database suites must not skip)`);
    if (reason) return;
    sql = postgres(PG_URL, {
      max: 2,
      onnotice: () => {},
      debug: (_connection, query, params) => recorded.push({ sql: query, params }),
    });
    store = createPostgresStore({ client: sql, schema });
    await store.setup();
    await fillPostgres(sql, schema, DATA);
  }, 120_000);
  afterAll(async () => {
    if (reason) return;
    await store?.close();
    await sql?.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await sql?.end({ timeout: 1 });
  });

  it('workflow and task event pages (offset and cursor) and workflow attempts read through indexes, never a sequential scan', async (t) => {
    if (reason) return t.skip(reason);
    recorded.length = 0;
    await readEverything(store);
    const reads = recorded.filter((s) => /^\s*SELECT/i.test(s.sql) && /taskmill_task_(events|attempts)/.test(s.sql));
    expect(reads.length).toBeGreaterThanOrEqual(8);
    for (const statement of reads) {
      const rows = (await sql.unsafe(`EXPLAIN ${statement.sql}`, statement.params as never[])) as { 'QUERY PLAN': string }[];
      const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(plan, statement.sql).toMatch(/Index (Only )?Scan|Bitmap Index Scan/);
      expect(plan, statement.sql).not.toMatch(/Seq Scan on taskmill_task_(events|attempts)/);
      if (statement.sql.includes('root_id') && !/count\(/i.test(statement.sql)) {
        console.log(`[postgres] ${statement.sql.replace(/\s+/g, ' ')}\n  ${plan.split('\n').join('\n  ')}`);
      }
    }
  }, 60_000);
});
