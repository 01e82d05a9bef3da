import { parseTaskId, ValidationError, type SignalSent, type Store, type TaskId } from '@taskmill/contracts';
import { toJsonText } from './serialize.js';
import { checkSignalName } from './suspension.js';

/** A signal, checked and encoded as the store takes it. */
export interface CheckedSignal {
  task_id: TaskId;
  name: string;
  /** JSON text, or null. */
  data: string | null;
}

/**
 * Check a signal's arguments (docs/behaviour.md#signals): an id that is not a positive integer or
 * a bad name is a `ValidationError`, data that is not JSON a `SerializationError`, data over
 * `LIMITS.max_payload_bytes` a `LimitExceededError`.
 */
export function checkSignal(id: unknown, name: unknown, data: unknown): CheckedSignal {
  const taskId = parseTaskId(id);
  if (taskId === null) throw new ValidationError(`Task id must be a positive integer, got ${String(id)}`);
  const checkedName = checkSignalName(name);
  return { task_id: taskId, name: checkedName, data: toJsonText(data, `Data of signal ${checkedName}`, 'max_payload_bytes') };
}

/**
 * Send a checked signal (`Store.sendSignal`: `TaskNotFoundError`, `TaskFinishedError`). `now` must
 * be on the database's clock. The TaskManager's `signal()` and the `taskmill signal` command both
 * send through this.
 */
export function sendTaskSignal(store: Store, signal: CheckedSignal, now: number): Promise<SignalSent> {
  return store.sendSignal(signal.task_id, signal.name, signal.data, now);
}
