/*
 * Open the web dashboard on the sample's database (run `pnpm sample` first to fill it):
 *
 *   pnpm sample:dashboard                              # read-only, http://127.0.0.1:8080/
 *   TASKMILL_DASHBOARD_TOKEN=some-long-secret pnpm sample:dashboard   # with pause/resume/cancel/retry and bulk actions
 *   TASKMILL_DB=postgres://… pnpm sample:dashboard     # any other store
 *   TASKMILL_SAMPLE_WORKER=0 pnpm sample:dashboard     # the dashboard alone, no live traffic
 *
 * Beside the dashboard it runs a small worker that keeps some traffic going (an `export` task
 * every few seconds, running for a few seconds with progress), so the pages have running tasks
 * and their live updates show without a reload.
 */
import { existsSync } from 'node:fs';
import { serveDashboard } from '@taskmill/dashboard';
import { TaskManager } from '@taskmill/core';

const dbConnection = process.env.TASKMILL_DB ?? 'sqlite:.tmp/sample.db';
if (dbConnection.startsWith('sqlite:.tmp/') && !existsSync(dbConnection.slice('sqlite:'.length))) {
  console.error('No sample database yet: run `pnpm sample` first.');
  process.exit(1);
}
const actionsToken = process.env.TASKMILL_DASHBOARD_TOKEN || undefined;
const port = Number(process.env.PORT ?? 8080);

type Tasks = { export: { payload: { rows: number }; result: { rows: number } } };
let worker: TaskManager<Tasks> | undefined;
if (process.env.TASKMILL_SAMPLE_WORKER !== '0') {
  worker = new TaskManager<Tasks>({ dbConnection, poll_interval: 500, max_concurrent_tasks: 2 });
  worker.use('export', async (task) => {
    // a few seconds of work in steps, each step a progress note the task page shows live
    for (let step = 1; step <= 4; step++) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      task.checkTimeout();
      await task.progress({ stage_name: 'exporting', progress_percent: step * 25 });
    }
    return { rows: task.payload.rows };
  });
  await worker.start();
  // every 5 s, once per key: a restart of this script does not add a second schedule
  await worker.cron('export', '*/5 * * * * *', { rows: 1000 }, { unique_key: 'sample-dashboard-export' });
}

const dashboard = await serveDashboard({ store: dbConnection, port, actionsToken });
console.log(`taskmill dashboard: open ${dashboard.url} in a browser (${actionsToken ? 'actions enabled' : 'read-only'}).`);
if (worker) console.log('A sample worker runs an export task every 5 s, so the pages show running tasks live (TASKMILL_SAMPLE_WORKER=0 turns it off).');
console.log('Ctrl-C stops it.');
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void Promise.all([dashboard.close(), worker?.stop()]).then(() => process.exit(0));
  });
}
