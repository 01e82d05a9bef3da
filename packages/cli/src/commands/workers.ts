import { queryTasks } from '@taskmill/audit';
import type { Store, WorkerRecord, WorkerStatus } from '@taskmill/contracts';
import type { Clock } from '@taskmill/core';
import { duration, table, time } from '../format.js';
import { json } from '../output.js';

/** A registry row with the number of tasks it holds running. */
export type WorkerView = WorkerRecord & { running_tasks: number };

/**
 * `taskmill workers`: the worker registry, with each worker's running tasks counted. Heartbeats
 * and leases were written on the database's clock, so their ages are judged on it too: a machine
 * whose clock runs ahead would otherwise see live workers as long silent and their leases run out.
 */
export async function workers(store: Store, options: { json?: boolean; status?: WorkerStatus; pod?: string }, clock: Clock): Promise<string> {
  const filter: { status?: WorkerStatus; pod_id?: string } = {};
  if (options.status) filter.status = options.status;
  if (options.pod) filter.pod_id = options.pod;
  const rows = await store.listWorkers(filter);
  const views: WorkerView[] = [];
  for (const worker of rows) {
    const running = await queryTasks(store, { status: 'running', worker_id: worker.worker_id, limit: 1 });
    views.push({ ...worker, running_tasks: running.total });
  }
  if (options.json) return json(views);
  if (views.length === 0) return 'No workers registered.\n';
  const now = clock.now();
  return table(
    ['WORKER', 'POD', 'STATUS', 'HOST', 'PID', 'RUNNING', 'REGISTERED', 'LAST SEEN', 'EXPIRES'],
    views.map((w) => [
      w.worker_id,
      w.pod_id,
      w.status,
      w.host,
      w.pid,
      w.running_tasks,
      time(w.registered_at),
      `${time(w.last_seen_at)} (${duration(Math.max(0, now - w.last_seen_at) / 1000)} ago)`,
      `${time(w.expires_at)} (${w.expires_at > now ? `in ${duration((w.expires_at - now) / 1000)}` : `expired ${duration((now - w.expires_at) / 1000)} ago`})`,
    ]),
  );
}
