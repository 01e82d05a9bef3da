/*
 * Open the web dashboard on the sample's database (run `pnpm sample` first to fill it):
 *
 *   pnpm sample:dashboard                              # read-only, http://127.0.0.1:8080/
 *   TASKMILL_DASHBOARD_TOKEN=some-long-secret pnpm sample:dashboard   # with pause/resume/cancel/retry
 *   TASKMILL_DB=postgres://… pnpm sample:dashboard     # any other store
 */
import { existsSync } from 'node:fs';
import { serveDashboard } from '@taskmill/dashboard';

const dbConnection = process.env.TASKMILL_DB ?? 'sqlite:.tmp/sample.db';
if (dbConnection.startsWith('sqlite:.tmp/') && !existsSync(dbConnection.slice('sqlite:'.length))) {
  console.error('No sample database yet: run `pnpm sample` first.');
  process.exit(1);
}
const actionsToken = process.env.TASKMILL_DASHBOARD_TOKEN || undefined;
const port = Number(process.env.PORT ?? 8080);
const dashboard = await serveDashboard({ store: dbConnection, port, actionsToken });
console.log(`taskmill dashboard on ${dashboard.url} (${actionsToken ? 'actions enabled' : 'read-only'}); Ctrl-C stops it`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void dashboard.close().then(() => process.exit(0));
  });
}
