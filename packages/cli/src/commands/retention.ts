import type { RetentionStatus, Store } from '@taskmill/contracts';
import type { Clock } from '@taskmill/core';
import { DEFAULT_RETENTION_STATUSES, runRetention, type RetentionProgress } from '@taskmill/retention';
import { json, type Output } from '../output.js';

/** `expire_time` of `taskmill retention run` without `--expire-time`: one day, as the TaskManager's default. */
export const DEFAULT_EXPIRE_TIME = 86_400;

export interface RetentionOptions {
  json?: boolean;
  expireTime?: number;
  status?: RetentionStatus[];
  batchSize?: number;
}

const BAR_WIDTH = 24;

/** A bar that moves with each batch (the number of expired tasks is not known in advance: counting them would be one more scan). */
function progressLine(p: RetentionProgress, startedAt: number): string {
  const position = p.batches % (2 * BAR_WIDTH - 2);
  const at = position < BAR_WIDTH ? position : 2 * BAR_WIDTH - 2 - position;
  const bar = `${' '.repeat(at)}#${' '.repeat(BAR_WIDTH - 1 - at)}`;
  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
  return `[${bar}] ${p.tasks_deleted.toLocaleString('en-US')} tasks, ${p.events_deleted.toLocaleString('en-US')} events, ${p.attempts_deleted.toLocaleString('en-US')} attempts deleted (${p.batches} batches, ${seconds} s)`;
}

/**
 * `taskmill retention run`: delete the finished tasks idle for longer than `--expire-time`
 * seconds (default one day) in `--status` (default completed and permanently_failed), with their
 * events and attempts, in batches (each its own transaction) through `@taskmill/retention`,
 * exactly as a TaskManager's sweep does. On a terminal a progress line is redrawn per batch.
 */
export async function retentionRun(store: Store, options: RetentionOptions, output: Output, clock: Clock): Promise<string> {
  const expire_time = options.expireTime ?? DEFAULT_EXPIRE_TIME;
  const statuses = options.status && options.status.length > 0 ? [...new Set(options.status)] : [...DEFAULT_RETENTION_STATUSES];
  const startedAt = Date.now();
  const show = options.json ? undefined : output.progress;
  // the cutoff is compared with last-activity times workers wrote on the database's clock; the
  // progress line's elapsed seconds are a duration in this process and stay on the local clock
  const result = await runRetention(store, { expire_time, statuses, now: clock.now() }, {
    batch_size: options.batchSize,
    onBatch: show ? (p) => show(progressLine(p, startedAt)) : undefined,
  });
  show?.(progressLine({ ...result, batches: 0 }, startedAt).replace(/^\[[^\]]*\] /, 'done: '), true);
  const report = { ...result, expire_time, statuses };
  if (options.json) return json(report);
  return (
    `Deleted ${result.tasks_deleted} tasks (${statuses.join(', ')}, idle for more than ${expire_time} s) ` +
    `with ${result.events_deleted} events and ${result.attempts_deleted} attempts.\n`
  );
}
