/*
 * An isolated handler module for test/durable-waits.test.ts: sleeps and waits for a signal from a
 * worker thread (plain JavaScript, so a thread loads it without the tests' TypeScript loader).
 */
import { isMainThread } from 'node:worker_threads';

export default function handler(task) {
  if (task.stage === 0) return task.sleep(0.2);
  if (task.stage === 1) return task.waitForSignal('go', { timeout: 3600 });
  return { data: task.received_signal.data, isMainThread };
}
