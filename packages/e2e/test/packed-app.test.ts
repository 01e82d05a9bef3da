import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect } from 'vitest';
import { TABLES } from '@taskmill/store-kit';
import { PG_URL, backends } from '../src/backends.js';
import { describeBackends, waitFor, waitForStatus } from '../src/harness.js';
import { createPackedApp, runInApp, startPackedWorker, type PackedApp } from '../src/packed-app.js';

/*
 * postgres-js 3.4.x can crash a process with an uncaught TypeError in nextWrite when a connection
 * dies with a small write queued (porsager/postgres#1154, #1208), or with an unhandled rejection
 * from its array-type fetch on a new connection (#1192, #1223). @taskmill/store-postgres depends on
 * the registry's postgres-js 4.x, whose rewritten connection layer does neither. These tests check
 * that as users get it: the packed packages installed with npm into an app outside the workspace,
 * the driver from the registry, a worker process of that app on PostgreSQL, its server connections
 * killed several times. The same app also reads the audit trail with @taskmill/audit alone, as a
 * reporting job would.
 */

const TASKS = 400;

describeBackends('packed packages', backends().filter((b) => b.name === 'postgres'), (env) => {
  let app: Promise<PackedApp> | undefined;
  const packedApp = () => (app ??= createPackedApp());
  afterAll(async () => {
    (await app?.catch(() => undefined))?.cleanup();
  });

  env.test('the packed store-postgres installs postgres-js 4 from the registry', async () => {
    const { dir } = await packedApp();
    // the copy the store resolves (npm nests it under the store when the app's own differs)
    const nested = join(dir, 'node_modules/@taskmill/store-postgres/node_modules/postgres/package.json');
    const file = existsSync(nested) ? nested : join(dir, 'node_modules/postgres/package.json');
    const driver = JSON.parse(readFileSync(file, 'utf8')) as { version: string };
    // 3.4.x crashes on the kills below
    expect(driver.version).toMatch(/^4\./);
    expect(existsSync(join(dir, 'node_modules/@taskmill/store-postgres/vendor'))).toBe(false);
  }, 300_000);

  env.test(`a worker of the packed app survives its connections being killed while it runs ${TASKS} tasks`, async () => {
    const { dir } = await packedApp();
    const tm = await env.isolated<{ work: { payload: { i: number }; result: number } }>();
    // this manager only enqueues and reads; the app's worker process runs the tasks
    tm.use('work', () => {
      throw new Error('the test process must not run tasks');
    });
    const ids = await tm.asyncMany(Array.from({ length: TASKS }, (_, i) => ({ name: 'work' as const, payload: { i } })));
    const connection = env.db().processConnection;
    if (connection.kind !== 'postgres') throw new Error('expected a PostgreSQL schema');
    const { schema } = connection;

    const { default: pg } = await import('postgres');
    // its own application_name: the kills below spare it
    const admin = pg(PG_URL, { max: 1, onnotice: () => {}, connection: { application_name: `${schema}_admin` } });
    const worker = await startPackedWorker({ dir, cleanup: () => {} }, connection);
    try {
      const completed = async () => {
        const [{ n }] = await admin`SELECT count(*)::int AS n FROM ${admin(`${schema}.${TABLES.tasks}`)} WHERE status = 'completed'`;
        return n as number;
      };
      const alive = () => {
        if (worker.exit() !== null) throw new Error(`the packed worker died (exit ${worker.exit()}):\n${worker.output()}`);
      };
      await waitFor(async () => (alive(), (await completed()) >= 40), { timeout: 60_000, interval: 50, what: 'the worker to get going' });

      // kill every connection of the worker (and of this test's manager) several times mid-run
      let killed = 0;
      let rounds = 0;
      for (; rounds < 8 && (await completed()) < TASKS; rounds++) {
        alive();
        const rows = await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE pid <> pg_backend_pid() AND application_name = ${schema}`;
        killed += rows.length;
        await new Promise((r) => setTimeout(r, 300));
      }
      expect(killed).toBeGreaterThan(0);

      await waitFor(async () => (alive(), (await completed()) === TASKS), { timeout: 90_000, interval: 100, what: `all ${TASKS} tasks completed` }).catch(
        async (error) => {
          const byStatus = await admin`SELECT status, count(*)::int AS n FROM ${admin(`${schema}.${TABLES.tasks}`)} GROUP BY status`;
          const sessions = await admin`SELECT state, left(query, 60) AS query FROM pg_stat_activity WHERE application_name = ${schema}`;
          throw new Error(
            `${(error as Error).message}\ntasks by status: ${JSON.stringify(byStatus)}\nworker sessions: ${JSON.stringify(sessions)}\nworker output:\n${worker.output()}`,
          );
        },
      );
      alive();
      const code = await worker.stop();
      const output = worker.output();
      expect(code, output).toBe(0);
      // the driver's crash, or any error that escaped to the process, would have been printed
      expect(output).not.toMatch(/TypeError|unhandled|uncaught/i);

      const tasks = await waitFor(() => tm.getTasks(), { timeout: 30_000, what: 'the tasks to read back' });
      expect(tasks).toHaveLength(TASKS);
      expect(tasks.every((t) => t.status === 'completed' && t.result === (t.payload as { i: number }).i)).toBe(true);
      expect(new Set(tasks.map((t) => t.id))).toEqual(new Set(ids));
      console.log(`[packed] ${killed} connections killed in ${rounds} rounds; the worker completed all ${TASKS} tasks`);
    } finally {
      if (worker.exit() === null) worker.child.kill('SIGKILL');
      await admin.end({ timeout: 1 });
    }
  }, 300_000);

  env.test('an isolated handler of the packed app runs in a worker thread started from the packed @taskmill/core', async () => {
    const app = await packedApp();
    await env.isolated();
    const connection = env.db().processConnection;
    if (connection.kind !== 'postgres') throw new Error('expected a PostgreSQL schema');
    const printed = await runInApp(
      app,
      `import { writeFileSync } from 'node:fs';
       import { TaskManager } from '@taskmill/core';
       import { createPostgresStore } from '@taskmill/store-postgres';
       const [url, schema] = process.argv.slice(2);
       const module = new URL('./isolated-double-' + process.pid + '.mjs', import.meta.url);
       writeFileSync(module, "import { isMainThread } from 'node:worker_threads';\\nexport default (task) => ({ doubled: task.payload.n * 2, isMainThread });\\n");
       const store = createPostgresStore({ url, schema });
       const tm = new TaskManager({ dbConnection: store, poll_interval: 50 });
       tm.use('double', { module, isolate: 'thread' });
       const id = await tm.async('double', { n: 21 });
       await tm.start();
       let task = await tm.getTask(id);
       while (task.status !== 'completed' && task.status !== 'permanently_failed') {
         await new Promise((resolve) => setTimeout(resolve, 50));
         task = await tm.getTask(id);
       }
       await tm.stop();
       await store.close();
       console.log(JSON.stringify({ status: task.status, result: task.result, error: task.error }));`,
      [connection.url, connection.schema],
    );
    expect(JSON.parse(printed)).toEqual({ status: 'completed', result: { doubled: 42, isMainThread: false }, error: null });
  }, 300_000);

  env.test('the packed @taskmill/audit reads a workflow from a store in the app, with no TaskManager there', async () => {
    const app = await packedApp();
    const tm = await env.isolated();
    tm.use('leaf', () => 'done');
    tm.use('root', (task, next) => (task.stage === 0 ? next([{ name: 'leaf', payload: {} }, { name: 'leaf', payload: {} }]) : 'ok'));
    const root = await tm.async('root', {});
    await tm.start();
    await waitForStatus(tm, root, 'completed');
    const expected = await tm.getWorkflowAuditSummary(root);
    await tm.stop();
    const connection = env.db().processConnection;
    if (connection.kind !== 'postgres') throw new Error('expected a PostgreSQL schema');
    const printed = await runInApp(
      app,
      `import { getWorkflowAuditSummary, queryWorkflowEvents } from '@taskmill/audit';
       import { createPostgresStore } from '@taskmill/store-postgres';
       const [url, schema, root] = process.argv.slice(2);
       const store = createPostgresStore({ url, schema });
       const summary = await getWorkflowAuditSummary(store, Number(root));
       const page = await queryWorkflowEvents(store, Number(root), { limit: 2 });
       const next = await queryWorkflowEvents(store, Number(root), { limit: 2, cursor: page.next_cursor });
       console.log(JSON.stringify({ summary, first: page.items.map((e) => e.id), next: next.items.map((e) => e.id) }));
       await store.close();`,
      [connection.url, connection.schema, String(root)],
    );
    const { summary, first, next } = JSON.parse(printed);
    expect(summary).toEqual(JSON.parse(JSON.stringify(expected)));
    expect(summary.critical_path.nodes).toHaveLength(2);
    const events = await env.db().openPeerStore().then(async (store) => {
      try {
        return (await store.queryWorkflowEvents(root, { limit: 4 })).items.map((e) => e.id);
      } finally {
        await store.close();
      }
    });
    expect([...first, ...next]).toEqual(events);
  }, 300_000);
});
