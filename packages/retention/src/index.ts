/*
 * @taskmill/retention — delete expired tasks with their events and attempts (docs/behaviour.md#retention):
 * policy validation, bounded-batch runs, time-bounded sweeps and the periodic sweeper. Needs
 * only a store, so an ops job can run it without a TaskManager.
 */
export {
  DEFAULT_RETENTION_STATUSES,
  MAX_EXPIRE_TIME_SECONDS,
  normalizeRetentionPolicy,
  mergeRetentionPolicy,
  checkExpireTime,
  type RetentionRule,
  type RetentionPolicy,
  type NormalizedRetentionRule,
  type RetentionDefaults,
} from './policy.js';
export {
  DEFAULT_BATCH_SIZE,
  MAX_BATCH_SIZE,
  DEFAULT_TIME_BUDGET_MS,
  runRetention,
  sweepRetention,
  type RetentionResult,
  type RetentionProgress,
  type RetentionSweepResult,
  type RetentionRunOptions,
  type RetentionSweepOptions,
} from './run-retention.js';
export {
  DEFAULT_RETENTION_INTERVAL_MS,
  DEFAULT_SWEEP_BUDGET_MS,
  DEFAULT_SWEEP_PAUSE_FACTOR,
  RetentionSweeper,
  resolveSweepTiming,
  type RetentionSweeperOptions,
  type SweepTiming,
} from './sweeper.js';
export { RETENTION_STATUSES, type RetentionStatus } from '@taskmill/contracts';
