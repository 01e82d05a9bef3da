export { TaskManager, type ManagerState } from './task-manager.js';
export { Suspension, SubTasks, type SuspensionOptions, type ChildTaskDefinition } from './suspension.js';
export type { TaskManagerOptions, ResolvedOptions } from './options.js';
export type {
  TaskMap,
  UntypedTaskMap,
  PayloadOf,
  ResultOf,
  TaskContext,
  TaskHandler,
  HandlerConfig,
  NextFn,
  AsyncOptions,
  CronOptions,
  AsyncBatchItem,
  CheckpointInput,
  ProgressInput,
} from './types.js';
export * from '@taskmill/contracts';
