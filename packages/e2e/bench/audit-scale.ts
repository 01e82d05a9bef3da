/*
 * Audit reads on a large trail: 1,000,000 events and 200,000 attempts (200,000 tasks), one
 * workflow of 1,000 tasks among them, on SQLite and PostgreSQL.
 *
 *   pnpm --filter @taskmill/e2e bench:audit       (BENCH_TASKS, BENCH_WORKFLOW, TASKMILL_PG_URL)
 *
 * Prints, per store, the latency (median of repeated runs, min–max) of a paged workflow event
 * query at page 1, at its last page by offset and by cursor, of a lone task's events, and of
 * getWorkflowAuditSummary on the 1,000-task workflow, and the plan of the workflow page.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import postgres from 'postgres';
import * as audit from '@taskmill/audit';
import type { Store } from '@taskmill/contracts';
import { createPostgresStore } from '@taskmill/store-postgres';
import { createSqliteStore } from '@taskmill/store-sqlite';
import { PG_URL } from '../src/backends.js';
import { explainSqlite, fillPostgres, fillSqlite, recordSqlite, type AuditDataset, type RecordedStatement } from '../src/audit-data.js';

const DATA: AuditDataset = { tasks: Number(process.env.BENCH_TASKS ?? 200_000), workflow: Number(process.env.BENCH_WORKFLOW ?? 1_000) };
const PAGE = 100;
const LONE_TASK = DATA.tasks - 7;

interface Figure {
  what: string;
  ms: number[];
}

async function time(what: string, runs: number, fn: () => Promise<unknown>): Promise<Figure> {
  await fn(); // warm caches and prepared statements
  const ms: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const start = performance.now();
    await fn();
    ms.push(performance.now() - start);
  }
  return { what, ms };
}

async function measure(store: Store): Promise<Figure[]> {
  const workflowEvents = DATA.workflow * 5;
  const lastOffset = Math.floor((workflowEvents - 1) / PAGE) * PAGE;
  // the cursor of the last page, found by walking the whole log once
  let page = await audit.queryWorkflowEvents(store, 1, { limit: PAGE });
  let pages = 1;
  let lastCursor = '';
  while (page.next_cursor) {
    lastCursor = page.next_cursor;
    page = await audit.queryWorkflowEvents(store, 1, { limit: PAGE, cursor: lastCursor });
    pages += 1;
  }
  if (pages !== Math.ceil(workflowEvents / PAGE)) throw new Error(`walked ${pages} pages, expected ${Math.ceil(workflowEvents / PAGE)}`);
  const summary = await audit.getWorkflowAuditSummary(store, 1);
  if (summary.totals.tasks !== DATA.workflow || summary.totals.events !== workflowEvents) {
    throw new Error(`summary totals ${JSON.stringify(summary.totals)} do not match the generated workflow`);
  }
  return [
    await time(`queryWorkflowEvents page 1 (limit ${PAGE})`, 30, () => audit.queryWorkflowEvents(store, 1, { limit: PAGE })),
    await time(`queryWorkflowEvents last page by offset ${lastOffset}`, 30, () => audit.queryWorkflowEvents(store, 1, { limit: PAGE, offset: lastOffset })),
    await time(`queryWorkflowEvents last page by cursor (page ${pages})`, 30, () => audit.queryWorkflowEvents(store, 1, { limit: PAGE, cursor: lastCursor })),
    await time('queryTaskEvents of a lone task', 30, () => audit.queryTaskEvents(store, LONE_TASK)),
    await time('queryWorkflowAttempts page 1 (limit 100)', 30, () => audit.queryWorkflowAttempts(store, 1, { limit: PAGE })),
    await time(`getWorkflowAuditSummary (${DATA.workflow} tasks)`, 10, () => audit.getWorkflowAuditSummary(store, 1)),
  ];
}

function report(title: string, setupMs: number, figures: Figure[], plan: string): void {
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`\n## ${title}: ${DATA.tasks * 5} events, ${DATA.tasks} attempts, ${DATA.tasks} tasks (generated in ${(setupMs / 1000).toFixed(1)} s)`);
  console.log('| query | median ms | min–max ms | runs |\n|---|---|---|---|');
  for (const f of figures) {
    console.log(`| ${f.what} | ${median(f.ms).toFixed(2)} | ${Math.min(...f.ms).toFixed(2)}–${Math.max(...f.ms).toFixed(2)} | ${f.ms.length} |`);
  }
  console.log(`\nplan of the workflow page:\n${plan}`);
}

async function sqlite(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'taskmill-audit-bench-'));
  const db = new Database(join(dir, 'tasks.db'));
  db.pragma('journal_mode = WAL');
  const store = createSqliteStore({ database: db });
  try {
    await store.setup();
    const start = performance.now();
    fillSqlite(db, DATA);
    const setupMs = performance.now() - start;
    const figures = await measure(store);
    // plans from a second store on the same file, so the recorder wraps statements it prepares itself
    const planDb = new Database(join(dir, 'tasks.db'), { readonly: true });
    const planStore = createSqliteStore({ database: planDb });
    const recorded = await recordSqlite(planDb, async () => {
      await audit.queryWorkflowEvents(planStore, 1, { limit: PAGE });
    });
    const statement = recorded.find((s) => s.sql.includes('root_id') && !/COUNT\(/i.test(s.sql))!;
    const count = recorded.find((s) => /COUNT\(/i.test(s.sql))!;
    const plan = [statement, count].map((s) => `${s.sql.replace(/\s+/g, ' ')}\n  ${explainSqlite(planDb, s).join('\n  ')}`).join('\n');
    await planStore.close();
    planDb.close();
    report('SQLite', setupMs, figures, plan);
  } finally {
    await store.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function pg(): Promise<void> {
  const schema = `audit_bench_${process.pid}`;
  const recorded: RecordedStatement[] = [];
  let recording = false;
  const sql = postgres(PG_URL, {
    max: 4,
    onnotice: () => {},
    debug: (_c, query, params) => recording && recorded.push({ sql: query, params }),
  });
  const store = createPostgresStore({ client: sql, schema });
  try {
    await store.setup();
    const start = performance.now();
    await fillPostgres(sql, schema, DATA);
    const setupMs = performance.now() - start;
    const figures = await measure(store);
    recording = true;
    await audit.queryWorkflowEvents(store, 1, { limit: PAGE });
    recording = false;
    const plans: string[] = [];
    for (const statement of recorded.filter((s) => /taskmill_task_events/.test(s.sql))) {
      const rows = (await sql.unsafe(`EXPLAIN ANALYZE ${statement.sql}`, statement.params as never[])) as { 'QUERY PLAN': string }[];
      plans.push(`${statement.sql.replace(/\s+/g, ' ')}\n  ${rows.map((r) => r['QUERY PLAN']).join('\n  ')}`);
    }
    report('PostgreSQL', setupMs, figures, plans.join('\n'));
  } finally {
    await store.close();
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await sql.end({ timeout: 1 });
  }
}

const only = process.argv[2];
if (!only || only === 'sqlite') await sqlite();
if (!only || only === 'postgres') await pg();
