// An isolated handler module whose handler is the named export `handler` (no default export).
export function handler(task) {
  return { named: true, n: task.payload.n };
}
