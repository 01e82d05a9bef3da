/*
 * The worker of the packed-app test (test/packed-app.test.ts), copied into an app outside the
 * workspace that installed the packed tarballs with npm: plain JavaScript on the published
 * builds, as an application runs them. It installs no process-wide error handler on purpose, so
 * an uncaught error from the driver crashes it the way it would crash an application.
 *
 * argv[2]: JSON { url, schema }. Handles `work` tasks (a few ms each), prints every error the
 * manager's loops report on stderr, and on the IPC message `stop` stops gracefully and exits 0.
 */
import { TaskManager } from '@taskmill/core';
import { createPostgresStore } from '@taskmill/store-postgres';

const { url, schema } = JSON.parse(process.argv[2]);
const store = createPostgresStore({ url, schema });
const tm = new TaskManager({
  dbConnection: store,
  poll_interval: 50,
  task_heartbeat_interval: 200,
  task_heartbeat_timeout: 3000,
  worker_heartbeat_interval: 200,
  shutdown_timeout: 5000,
  onError: (error, where) => {
    const code = error?.code ?? 'uncoded';
    console.error(`[onError] ${where} ${code} ${String(error?.message ?? error).replace(/\s+/g, ' ')}`);
  },
});
tm.use('work', async (task) => {
  await new Promise((resolve) => setTimeout(resolve, 5));
  return task.payload.i;
});
await tm.start();
process.send({ type: 'ready' });
process.on('message', async (message) => {
  if (message?.type !== 'stop') return;
  await tm.stop();
  await store.close();
  process.exit(0);
});
