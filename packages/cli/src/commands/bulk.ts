import { TASK_ACTION_SPECS, type BulkAction, type BulkFilter, type Store, type TaskStatus } from '@taskmill/contracts';
import { bulkOptions, runBulkAction, type BulkProgress, type Clock } from '@taskmill/core';
import { UsageError } from '../exit-codes.js';
import { json, type Output } from '../output.js';

/** Options of `taskmill bulk <action>`, as commander parses them. */
export interface BulkCommandOptions {
  json?: boolean;
  name?: string;
  status?: TaskStatus[];
  tag?: string;
  createdBefore?: number;
  createdAfter?: number;
  root?: number;
  all?: boolean;
  dryRun?: boolean;
  batchSize?: number;
  reason?: string;
}

/** The past tense of an action in the summary. */
function past(action: BulkAction): string {
  return action === 'delete' ? 'deleted' : TASK_ACTION_SPECS[action].past;
}

const count = (n: number) => n.toLocaleString('en-US');

function progressLine(p: BulkProgress, startedAt: number): string {
  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
  return `${p.action}: ${count(p.matched)} / ${count(p.total)} tasks (${count(p.changed)} ${past(p.action)}, ${count(p.skipped)} skipped, ${p.batches} batches, ${seconds} s)`;
}

/** The filter the options name; only the given criteria (the store refuses an empty one without --all). */
export function bulkFilter(options: BulkCommandOptions): BulkFilter {
  const filter: BulkFilter = {};
  if (options.name !== undefined) filter.name = options.name;
  if (options.status !== undefined) filter.status = [...new Set(options.status)];
  if (options.tag !== undefined) filter.tag = options.tag;
  if (options.createdAfter !== undefined) filter.created_after = options.createdAfter;
  if (options.createdBefore !== undefined) filter.created_before = options.createdBefore;
  if (options.root !== undefined) filter.root_id = options.root;
  if (options.all) filter.all = true;
  return filter;
}

/**
 * `taskmill bulk <action>`: retry, cancel, pause, resume or delete every task a filter selects
 * (docs/behaviour.md#bulk-actions) through `runBulkAction`, the loop a TaskManager's `bulk()` runs,
 * on the database's clock. `--dry-run` prints the count and writes nothing; on a terminal a progress
 * line is redrawn after each batch. A bad filter or option is a usage error and nothing is written.
 */
export async function bulk(store: Store, action: BulkAction, options: BulkCommandOptions, output: Output, clock: Clock): Promise<string> {
  const filter = bulkFilter(options);
  if (Object.keys(filter).length === 0) {
    throw new UsageError(`bulk ${action} needs a filter (--name, --status, --tag, --created-after, --created-before, --root) or --all`);
  }
  const show = options.json ? undefined : output.progress;
  const startedAt = Date.now();
  const checked = bulkOptions(action, {
    batch_size: options.batchSize,
    reason: options.reason,
    dry_run: options.dryRun === true,
    onProgress: show ? (p: BulkProgress) => show(progressLine(p, startedAt)) : undefined,
  });
  const result = await runBulkAction(store, action, filter, checked, () => clock.now());
  if (show && !result.dry_run) show(progressLine(result, startedAt), true);
  if (options.json) return json(result);
  if (result.dry_run) return `Dry run: ${action} would take ${result.total} tasks; nothing was written.\n`;
  const skipped = result.skipped > 0 ? ` ${result.skipped} skipped (status changed meanwhile, unique key held, or a workflow child the action does not take).` : '';
  return `${result.changed} tasks ${past(action)} in ${result.batches} batches.${skipped}\n`;
}
