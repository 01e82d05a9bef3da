import { createRequire } from 'node:module';

/*
 * The names taskmill's OpenTelemetry instruments and spans report under: the catalogue a
 * dashboard or alert is written against.
 */

/** Name (and version) of the Meter and Tracer. */
export const INSTRUMENTATION_SCOPE = '@taskmill/core';
export const VERSION = packageVersion();

/** Metric names (OpenTelemetry semantic-convention style). */
export const METRICS = {
  enqueued: 'taskmill.tasks.enqueued',
  claimed: 'taskmill.tasks.claimed',
  completed: 'taskmill.tasks.completed',
  failed: 'taskmill.tasks.failed',
  retried: 'taskmill.tasks.retried',
  run_duration: 'taskmill.task.run.duration',
  wait_duration: 'taskmill.task.wait.duration',
  queue_depth: 'taskmill.queue.depth',
  workers_active: 'taskmill.workers.active',
} as const;

/** Attribute names of metrics and spans. */
export const ATTRS = {
  name: 'taskmill.task.name',
  type: 'taskmill.task.type',
  status: 'taskmill.task.status',
  outcome: 'taskmill.task.outcome',
  id: 'taskmill.task.id',
  attempt: 'taskmill.task.attempt',
  retry_count: 'taskmill.task.retry_count',
  parent_id: 'taskmill.task.parent_id',
  stage: 'taskmill.task.stage',
  worker_id: 'taskmill.worker.id',
  child_count: 'taskmill.task.child_count',
  applied: 'taskmill.outcome.applied',
} as const;

/** Most characters a task's `trace_context` may hold (the column's width). */
export const MAX_TRACE_CONTEXT = 1024;

/** Seconds: from a millisecond task up to an hour-long one (the SDK's default buckets are for ms). */
export const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];


function packageVersion(): string | undefined {
  try {
    // src/telemetry-names.ts and dist/telemetry-names.js both sit one level below the package root
    return (createRequire(import.meta.url)('../package.json') as { version?: string }).version;
  } catch {
    return undefined;
  }
}
