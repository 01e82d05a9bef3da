/*
 * An isolated handler that busy-waits (a synchronous loop: no timer, no I/O) for `payload.ms`,
 * as CPU-heavy work does, then returns which thread ran it.
 */
import { isMainThread, threadId } from 'node:worker_threads';

export default function spin(task) {
  const until = performance.now() + task.payload.ms;
  while (performance.now() < until);
  return { isMainThread, threadId, spun_ms: task.payload.ms };
}
