/*
 * @taskmill/dashboard — the taskmill web dashboard: overview, tasks, task timelines, workflow trees
 * with their critical path, workers, and token-protected actions. `createDashboard` is a request
 * handler for an existing server; `serveDashboard` runs one on 127.0.0.1.
 */
export { createDashboard, serveDashboard, type DashboardOptions, type RunningDashboard, type ServeOptions } from './server.js';
