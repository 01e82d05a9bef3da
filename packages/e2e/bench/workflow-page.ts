/*
 * A workflow page with 1,000 tasks (a root with 999 children): the server time of
 * `GET /workflows/<root>` (its tree, critical path and the first 200-task page of the timeline)
 * and of the timeline's last page, on each store.
 *
 *   pnpm --filter @taskmill/e2e bench:workflow-page     (TASKMILL_E2E_STORES=sqlite-file,postgres,mysql)
 *
 * A benchmark, not a test: it prints figures (median and min–max of 10 requests after a warm-up).
 */
import { performance } from 'node:perf_hooks';
import { TaskManager } from '@taskmill/core';
import { serveDashboard } from '@taskmill/dashboard';
import { backends } from '../src/backends.js';
import { FAST } from '../src/harness.js';

const CHILDREN = 999;

for (const backend of backends().filter((b) => b.name !== 'sqlite-memory')) {
  const db = await backend.createDb();
  const store = await db.openPeerStore();
  const tm = new TaskManager({ dbConnection: db.peerConnection() as never, ...FAST, max_concurrent_tasks: 20 });
  try {
    tm.use('root', (task, next) => (task.stage === 0 ? next(Array.from({ length: CHILDREN }, () => ({ name: 'child', payload: {} }))) : 'done'));
    tm.use('child', () => null);
    const root = await tm.async('root', {});
    await tm.start();
    while ((await tm.getTask(root))?.status !== 'completed') await new Promise((r) => setTimeout(r, 200));
    await tm.stop();
    const dashboard = await serveDashboard({ store });
    try {
      const time = async (path: string) => {
        const ms: number[] = [];
        for (let i = 0; i <= 10; i += 1) {
          const start = performance.now();
          const res = await fetch(`${dashboard.url}${path}`);
          await res.text();
          if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`);
          if (i > 0) ms.push(performance.now() - start);
        }
        ms.sort((a, b) => a - b);
        return `${ms[5].toFixed(1)} (${ms[0].toFixed(1)}–${ms[9].toFixed(1)})`;
      };
      console.log(`${backend.name}: ${CHILDREN + 1} tasks; GET /workflows/${root} ${await time(`workflows/${root}`)} ms; page 5 ${await time(`workflows/${root}?page=5`)} ms`);
    } finally {
      await dashboard.close();
    }
  } finally {
    await tm.stop().catch(() => undefined);
    await store.close();
    await db.cleanup();
  }
}
