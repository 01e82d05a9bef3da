import { TASK_STATUSES, type NameHealth, type QueueHealth, type Store, type TaskStatus } from '@taskmill/contracts';
import { chartFigure, charts, type ChartData } from './charts.js';
import { duration } from './format.js';
import { html, type Html } from './html.js';

/*
 * Queue health on the overview (docs/behaviour.md#dashboard): one row per name from the store's
 * `getQueueHealth`, the charts of the chosen window, and the JSON the live script polls. The
 * cells' text is made here only, for the page and for the JSON alike.
 */

/** The chart windows the overview offers, by their `?window=` value. */
export const WINDOWS = {
  '15m': { label: '15 min', window_ms: 15 * 60_000, buckets: 15 },
  '1h': { label: '1 h', window_ms: 3_600_000, buckets: 30 },
  '24h': { label: '24 h', window_ms: 86_400_000, buckets: 48 },
} as const;

export type WindowKey = keyof typeof WINDOWS;

/** The default window. */
export const DEFAULT_WINDOW: WindowKey = '1h';

/** The `?window=` value checked: a key of WINDOWS, or null for anything else (a 400). */
export function windowOf(params: URLSearchParams): WindowKey | null {
  const value = params.get('window');
  if (value === null || value === '') return DEFAULT_WINDOW;
  return Object.hasOwn(WINDOWS, value) ? (value as WindowKey) : null;
}

/** The health table's columns, in order, after the name. */
export const HEALTH_COLUMNS = [
  'pending',
  'due now',
  'running',
  'failed, last hour',
  'oldest due waiting',
  'completed',
  'failed',
  'wait p50',
  'wait p95',
  'run p50',
  'run p95',
] as const;

/** One row of the health table as text. */
export interface HealthRow {
  name: string;
  href: string;
  cells: string[];
  /** Failures in the last hour: the row is marked. */
  alert: boolean;
}

function healthRow(base: string, h: NameHealth, now: number): HealthRow {
  return {
    name: h.name,
    href: `${base}/tasks?name=${encodeURIComponent(h.name)}`,
    cells: [
      String(h.pending),
      String(h.due),
      String(h.running),
      String(h.failed_last_hour),
      h.oldest_due_at === null ? '' : duration(Math.max(0, now - h.oldest_due_at)),
      String(h.completed),
      String(h.failed),
      duration(h.wait_p50),
      duration(h.wait_p95),
      duration(h.run_p50),
      duration(h.run_p95),
    ],
    alert: h.failed_last_hour > 0,
  };
}

/** What the overview shows and the live JSON carries. */
export interface OverviewData {
  now: number;
  window: WindowKey;
  by_status: Record<TaskStatus, number>;
  /** Per name and status (the "By name" table). */
  by_name: { name: string; href: string; cells: string[] }[];
  health: HealthRow[];
  charts: ChartData[];
  workers: { active: number; registered: number };
  names_truncated: boolean;
}

/** Read the overview's figures; `now` is the database's time. */
export async function overviewData(store: Store, base: string, window: WindowKey, now: number): Promise<OverviewData & { queue: QueueHealth }> {
  const { window_ms, buckets } = WINDOWS[window];
  // one read of the task counts: getQueueHealth's (the by-name table shows its names)
  const [workers, queue] = await Promise.all([store.listWorkers(), store.getQueueHealth({ now, window_ms, buckets })]);
  return {
    now,
    window,
    by_status: queue.by_status,
    by_name: queue.names.map(({ name, statuses }) => ({
      name,
      href: `${base}/tasks?name=${encodeURIComponent(name)}`,
      cells: TASK_STATUSES.map((s) => (statuses[s] === 0 ? '' : String(statuses[s]))),
    })),
    health: queue.names.map((h) => healthRow(base, h, now)),
    charts: charts(queue),
    workers: { active: workers.filter((w) => w.status === 'active').length, registered: workers.length },
    names_truncated: queue.names_truncated,
    queue,
  };
}

/** The window links: the chosen one marked `aria-current`. */
function windowLinks(base: string, chosen: WindowKey): Html {
  return html`<nav class="windows" aria-label="Chart window">${(Object.keys(WINDOWS) as WindowKey[]).map(
    (key) => html`<a href="${base}/?window=${key}" id="window-${key}"${key === chosen ? html` aria-current="page"` : ''}>${WINDOWS[key].label}</a>`,
  )}</nav>`;
}

/** The health table and the charts, server-rendered; the live script keeps their figures current. */
export function healthSection(base: string, data: OverviewData & { queue: QueueHealth }): Html {
  const { label } = WINDOWS[data.window];
  return html`<h2 id="health-heading">Queue health, last ${label}</h2>${windowLinks(base, data.window)}
<p class="hint">Counts are of now; completed, failed, wait and run time are of every attempt that started in the window (wait: from the attempt's due time to its start).</p>
<div class="scroll"><table id="health"><thead><tr><th scope="col">name</th>${HEALTH_COLUMNS.map((c) => html`<th scope="col">${c}</th>`)}</tr></thead>
<tbody id="health-rows">${data.health.map(
    (r) => html`<tr${r.alert ? html` class="alert"` : ''}><th scope="row"><a href="${r.href}">${r.name}</a></th>${r.cells.map((c) => html`<td>${c}</td>`)}</tr>`,
  )}</tbody></table></div>
${data.health.length === 0 ? html`<p id="no-health">No tasks yet.</p>` : ''}
${data.names_truncated ? html`<p id="names-truncated"><strong>Only the first names (by name) are shown.</strong></p>` : ''}
<h2>Activity, last ${label}</h2><div class="charts">${data.charts.map((c) => chartFigure(c))}</div>`;
}

/** The JSON of `/api/overview.json`: the figures without the raw health. */
export function overviewJson(data: OverviewData & { queue: QueueHealth }): string {
  const { queue: _queue, ...rest } = data;
  return JSON.stringify(rest);
}
