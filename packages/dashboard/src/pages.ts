import { describeFlowLimits, flowStatus, getTaskAudit, getWorkflowAuditSummary, queryTasks, queryWorkflowEvents } from '@taskmill/audit';
import { allowedTaskActions, parseTaskId, scheduleOf, TASK_ACTION_SPECS, TASK_STATUSES, type Store, type Task, type TaskAction, type TaskStatus } from '@taskmill/contracts';
import { badge, foldable, progressText, when } from './format.js';
import { healthSection, overviewData, type WindowKey } from './health.js';
import { html, page, type Html } from './html.js';
import { timelineSection } from './workflow-timeline.js';

/** What a page needs: the store, the mount path, whether actions are enabled, the live refresh, the database's clock. */
export interface PageContext {
  store: Store;
  base: string;
  actions: boolean;
  /** Seconds between live updates; 0: no live script. */
  refresh: number;
  /** The database's time now (synced before a page is built). */
  now(): number;
}

const PAGE_SIZE = 50;

/** A time relative to the database's now, the absolute time on hover (format.ts). */
function time(ctx: PageContext, ms: number | null | undefined): Html | string {
  return when(ms, ctx.now());
}

function text(value: unknown): string {
  if (value === null || value === undefined) return '';
  return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}

/** What a suspended task waits for (docs/behaviour.md#suspension, #durable-sleep, #signals). */
function waitingFor(ctx: PageContext, t: Task): Html | string {
  if (t.suspend_reason === 'sleep') return html`sleep until ${time(ctx, t.wake_at)}`;
  if (t.suspend_reason === 'signal') return html`signal <code>${t.awaited_signal}</code>${t.wake_at !== null ? html`, timeout ${time(ctx, t.wake_at)}` : ' (no timeout)'}`;
  if (t.suspend_reason === 'awaiting_subtasks') return `children: ${t.completed_children} of ${t.total_children} finished`;
  return `${t.suspend_reason ?? ''} (until resumed)`;
}

function taskLink(ctx: PageContext, id: number, label?: unknown): Html {
  return html`<a href="${ctx.base}/tasks/${id}">${label ?? `#${id}`}</a>`;
}

/**
 * Overview: counts by status, queue health per name with the charts of the chosen window
 * (health.ts), counts by name and status, flow control (paused and limited names with their
 * waiting tasks), workers. Live: the script polls `/api/overview.json` with the same window.
 * `now` is the database's time.
 */
export async function overview(ctx: PageContext, now: number, window: WindowKey): Promise<string> {
  const [data, workers] = await Promise.all([overviewData(ctx.store, ctx.base, window, now), ctx.store.listWorkers()]);
  const flow = await flowStatus(ctx.store, now, workers);
  const nameLink = (name: string) => html`<a href="${ctx.base}/tasks?name=${encodeURIComponent(name)}">${name}</a>`;
  const flowSection = html`<h2>Flow control</h2>
<div class="scroll"><table id="paused-names"><caption>Paused names</caption><tr><th>name</th><th>since</th><th>by</th><th>reason</th><th>due, waiting</th>${ctx.actions ? html`<th>action</th>` : ''}</tr>
${flow.paused_names.map((p) => html`<tr><td>${nameLink(p.name)}</td><td>${time(ctx, p.paused_at)}</td><td>${p.paused_by}</td><td>${p.reason}</td><td>${p.due_waiting}</td>${ctx.actions ? html`<td><a href="${ctx.base}/names/resume?name=${encodeURIComponent(p.name)}">Resume</a></td>` : ''}</tr>`)}</table></div>
${flow.paused_names.length === 0 ? html`<p id="no-paused-names">No name is paused.</p>` : ''}
<div class="scroll"><table id="limited-names"><caption>Limited names (as the active workers registered them)</caption><tr><th>name</th><th>limits</th><th>due, waiting</th></tr>
${flow.limited_names.map((l) => html`<tr><td>${nameLink(l.name)}</td><td>${describeFlowLimits(l.limits)}</td><td>${l.due_waiting}</td></tr>`)}</table></div>
${ctx.actions ? html`<p><a id="pause-name-link" href="${ctx.base}/names/pause">Pause a name…</a></p>` : ''}`;
  return page(
    ctx.base,
    'Overview',
    html`<div data-live-src="${ctx.base}/api/overview.json?window=${window}">
<div class="scroll"><table id="by-status"><caption>Tasks by status</caption><tr>${TASK_STATUSES.map((s) => html`<th scope="col">${badge(s)}</th>`)}</tr>
<tr>${TASK_STATUSES.map((s) => html`<td><a href="${ctx.base}/tasks?status=${s}" data-count="${s}">${data.by_status[s] ?? 0}</a></td>`)}</tr></table></div>
${healthSection(ctx.base, data)}
<h2>By name</h2><div class="scroll"><table id="by-name"><thead><tr><th scope="col">name</th>${TASK_STATUSES.map((s) => html`<th scope="col">${s}</th>`)}</tr></thead>
<tbody id="by-name-rows">${data.by_name.map((r) => html`<tr><td><a href="${r.href}">${r.name}</a></td>${r.cells.map((c) => html`<td>${c}</td>`)}</tr>`)}</tbody></table></div>
${flowSection}
<h2>Workers</h2><p id="workers-summary"><span id="workers-active">${data.workers.active}</span> active of <span id="workers-registered">${data.workers.registered}</span> registered. <a href="${ctx.base}/workers">Workers</a></p></div>`,
    ctx.actions ? undefined : 'Read-only: start the dashboard with an actions token to pause, resume, cancel or retry tasks.',
    ctx.refresh,
  );
}

function taskRows(ctx: PageContext, tasks: Task[]): Html {
  return html`<div class="scroll"><table id="tasks"><tr><th>id</th><th>name</th><th>status</th><th>tag</th><th>priority</th><th>created</th><th>attempt</th><th>progress</th></tr>
${tasks.map((t) => html`<tr><td>${taskLink(ctx, t.id)}</td><td>${t.name}</td><td>${badge(t.status)}</td><td>${t.tag}</td><td>${t.priority}</td><td>${time(ctx, t.created_at)}</td><td>${t.attempt}</td><td>${t.progress_text}</td></tr>`)}</table></div>`;
}

/** The task list's filters as a bulk form's (status, name, tag). */
function bulkParams(params: URLSearchParams): URLSearchParams {
  const keep = new URLSearchParams();
  for (const key of ['status', 'name', 'tag']) if (params.get(key)) keep.set(key, params.get(key)!);
  return keep;
}

/** Task list: filters by status, name and tag; search by id, name or tag; cursor paging. */
export async function taskList(ctx: PageContext, params: URLSearchParams): Promise<string | { redirect: string }> {
  const q = (params.get('q') ?? '').trim();
  const byId = q === '' ? null : parseTaskId(q.replace(/^#/, ''));
  if (byId !== null) return { redirect: `${ctx.base}/tasks/${byId}` };
  const status = params.get('status') || undefined;
  const filter: Record<string, unknown> = {};
  if (status) filter.status = status;
  if (params.get('name')) filter.name = params.get('name');
  if (params.get('tag')) filter.tag = params.get('tag');
  const cursor = params.get('cursor') || undefined;
  let items: Task[];
  let total: number;
  let next: string | null = null;
  if (q !== '') {
    // free text: tasks with that name, then tasks with that tag
    const [named, tagged] = await Promise.all([
      queryTasks(ctx.store, { ...filter, name: q, order: 'desc', limit: PAGE_SIZE }),
      queryTasks(ctx.store, { ...filter, tag: q, order: 'desc', limit: PAGE_SIZE }),
    ]);
    const seen = new Set<number>();
    items = [...named.items, ...tagged.items].filter((t) => !seen.has(t.id) && seen.add(t.id));
    total = items.length;
  } else {
    const result = await queryTasks(ctx.store, { ...filter, order: 'desc', limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) } as never);
    items = result.items;
    total = result.total;
    next = result.next_cursor ?? null;
  }
  const keep = new URLSearchParams();
  for (const key of ['status', 'name', 'tag']) if (params.get(key)) keep.set(key, params.get(key)!);
  if (next) keep.set('cursor', next);
  return page(
    ctx.base,
    'Tasks',
    html`<form method="get" action="${ctx.base}/tasks" id="filters">
<label>status <select name="status"><option value="">any</option>${TASK_STATUSES.map((s) => html`<option${s === status ? html` selected` : ''}>${s}</option>`)}</select></label>
<label>name <input name="name" value="${params.get('name') ?? ''}"></label>
<label>tag <input name="tag" value="${params.get('tag') ?? ''}"></label><button>Filter</button></form>
<p id="count">${total} task(s)${q ? html` matching ${q}` : ''}</p>
${ctx.actions ? html`<p><a id="bulk-link" href="${ctx.base}/bulk?${bulkParams(params).toString()}">Bulk action on tasks like these…</a></p>` : ''}${taskRows(ctx, items)}
${next ? html`<p><a id="next" href="${ctx.base}/tasks?${keep.toString()}">Next page</a></p>` : ''}`,
  );
}

/** A task: its fields, actions, event timeline and attempts. */
export async function taskPage(ctx: PageContext, id: number): Promise<string | null> {
  const audit = await getTaskAudit(ctx.store, id, { events: { limit: 500 }, attempts: { limit: 200 } });
  const t = audit.task;
  if (!t) return null;
  const actions = ctx.actions
    ? html`<p class="actions" id="actions">${allowedTaskActions(t).map((a) => html`<a href="${ctx.base}/tasks/${t.id}/${a}">${TASK_ACTION_SPECS[a].label}</a>`)}</p>`
    : html`<p class="actions" id="actions">Read-only dashboard: no actions.</p>`;
  const root = t.root_id ?? (t.total_children > 0 ? t.id : null);
  return page(
    ctx.base,
    `Task #${t.id} ${t.name}`,
    html`<dl id="task" data-live-src="${ctx.base}/api/tasks/${t.id}.json">
<dt>status</dt><dd>${badge(t.status, 'status')}</dd><dt>name</dt><dd>${t.name}</dd><dt>type</dt><dd>${t.type}</dd>
<dt>tag</dt><dd id="tag">${t.tag}</dd><dt>priority</dt><dd>${t.priority}</dd><dt>stage</dt><dd>${t.stage}${t.current_stage_name ? html` (${t.current_stage_name})` : ''}</dd>
<dt>progress</dt><dd id="progress">${progressText(t)}</dd>
<dt>attempt</dt><dd>${t.attempt} (retries ${t.retry_count} of max ${t.max_retries})</dd><dt>worker</dt><dd>${t.worker_id}</dd>
<dt>created</dt><dd>${time(ctx, t.created_at)}</dd><dt>next run</dt><dd>${time(ctx, t.next_run_time)}</dd>
<dt>payload</dt><dd><pre id="payload">${text(t.payload)}</pre></dd><dt>result</dt><dd><pre id="result">${text(t.result)}</pre></dd>
<dt>error</dt><dd>${foldable(t.error, 'error')}</dd>
${t.status === 'suspended' ? html`<dt>waiting for</dt><dd id="waiting">${waitingFor(ctx, t)}</dd>` : ''}
${t.received_signal ? html`<dt>received signal</dt><dd><pre id="received-signal">${text(t.received_signal)}</pre></dd>` : ''}
${t.parent_id ? html`<dt>parent</dt><dd>${taskLink(ctx, t.parent_id)}</dd>` : ''}
${root ? html`<dt>workflow</dt><dd><a id="workflow-link" href="${ctx.base}/workflows/${root}">workflow of #${root}</a></dd>` : ''}</dl>
${actions}
<h2>Events (${audit.events.total})</h2><div class="scroll"><table id="events"><tr><th>time</th><th>event</th><th>from → to</th><th>stage</th><th>attempt</th><th>worker</th><th>message</th></tr>
${audit.events.items.map((e) => html`<tr><td>${time(ctx, e.event_time)}</td><td>${e.event_type}</td><td>${e.from_status ?? ''} → ${e.to_status ?? ''}</td><td>${e.stage}</td><td>${e.attempt}</td><td>${e.worker_id}</td><td>${foldable(`${e.message ?? ''}${e.metadata ? `\n${text(e.metadata)}` : ''}`)}</td></tr>`)}</table></div>
<h2>Attempts (${audit.attempts.total})</h2><div class="scroll"><table id="attempts"><tr><th>attempt</th><th>worker</th><th>started</th><th>ended</th><th>outcome</th><th>error</th></tr>
${audit.attempts.items.map((a) => html`<tr><td>${a.attempt}</td><td>${a.worker_id}</td><td>${time(ctx, a.started_at)}</td><td>${time(ctx, a.ended_at)}</td><td>${a.outcome ? badge(a.outcome) : ''}</td><td>${foldable(a.error)}</td></tr>`)}</table></div>`,
    undefined,
    ctx.refresh,
  );
}

/** A workflow: the tree, the root's stage timings, and the critical path drawn as a timeline. */
export async function workflowPage(ctx: PageContext, rootId: number, pageNo = 0): Promise<string | null> {
  const summary = await getWorkflowAuditSummary(ctx.store, rootId);
  if (!summary.root_task) return null;
  const tasks = await queryTasks(ctx.store, { root_id: rootId, limit: 1000 });
  const all = [summary.root_task, ...tasks.items.filter((t) => t.id !== rootId)];
  const children = new Map<number, Task[]>();
  for (const t of all) if (t.parent_id !== null) children.set(t.parent_id, [...(children.get(t.parent_id) ?? []), t]);
  const tree = (t: Task): Html =>
    html`<li>${taskLink(ctx, t.id)} ${t.name} ${badge(t.status)}${children.get(t.id) ? html`<ul>${children.get(t.id)!.map(tree)}</ul>` : ''}</li>`;
  const nodes = summary.critical_path.nodes;
  const starts = nodes.map((n) => n.started_at).filter((v): v is number => v !== null);
  const ends = nodes.map((n) => n.ended_at).filter((v): v is number => v !== null);
  const t0 = Math.min(...starts, summary.timing.created_at ?? Infinity);
  const t1 = Math.max(...ends, t0 + 1);
  const width = 600;
  const x = (ms: number) => 120 + ((ms - t0) / (t1 - t0)) * width;
  const criticalTimeline = html`<svg id="critical-path-timeline" width="${width + 140}" height="${nodes.length * 24 + 10}" role="img" aria-label="critical path timeline">${nodes.map((n, i) => {
    const start = n.started_at ?? t0;
    const end = n.ended_at ?? start;
    return html`<text x="4" y="${i * 24 + 20}">${n.name} #${n.task_id}</text><rect class="bar cp" x="${x(start)}" y="${i * 24 + 8}" width="${Math.max(2, x(end) - x(start))}" height="16"><title>${n.name} #${n.task_id}: ${n.duration_seconds ?? 'open'} s</title></rect>`;
  })}</svg>`;
  const [events, timeline] = await Promise.all([
    queryWorkflowEvents(ctx.store, rootId, { limit: 1 }),
    timelineSection(ctx.store, ctx.base, rootId, pageNo, new Set(nodes.map((n) => n.task_id)), ctx.now()),
  ]);
  return page(
    ctx.base,
    `Workflow of #${rootId} ${summary.root_task.name}`,
    html`<p id="totals">${all.length} tasks, ${events.total} events; duration ${summary.timing.workflow_duration_seconds ?? 'unfinished'} s</p>
<h2>Tree</h2><ul id="tree">${tree(summary.root_task)}</ul>
<h2>Stages of the root</h2><div class="scroll"><table id="stages"><tr><th>stage</th><th>attempt</th><th>started</th><th>duration (s)</th><th>outcome</th><th>worker</th></tr>
${summary.stage_timings.map((s) => html`<tr><td>${s.stage}</td><td>${s.attempt}</td><td>${time(ctx, s.started_at)}</td><td>${s.duration_seconds}</td><td>${s.outcome}</td><td>${s.worker_id}</td></tr>`)}</table></div>
<h2>Critical path: ${summary.critical_path.total_duration_seconds} s</h2>
<ol id="critical-path">${nodes.map((n) => html`<li>${taskLink(ctx, n.task_id, `${n.name} #${n.task_id}`)}: ${n.duration_seconds ?? 'open'} s</li>`)}</ol><div class="scroll">${criticalTimeline}</div>
${timeline}
${summary.failed_tasks.length ? html`<h2>Failed tasks</h2><ul id="failed">${summary.failed_tasks.map((f) => html`<li>${taskLink(ctx, f.task_id)} ${f.name} ${f.status}</li>`)}</ul>` : ''}`,
  );
}

/** Workers: registry rows with heartbeats and the tasks each holds. */
export async function workersPage(ctx: PageContext): Promise<string> {
  const workers = await ctx.store.listWorkers();
  const held = await Promise.all(workers.map((w) => queryTasks(ctx.store, { status: 'running', worker_id: w.worker_id, limit: 20 })));
  return page(
    ctx.base,
    'Workers',
    html`<div class="scroll"><table id="workers"><tr><th>worker</th><th>pod</th><th>status</th><th>host / pid</th><th>last heartbeat</th><th>lease until</th><th>running tasks</th></tr>
${workers.map((w, i) => html`<tr><td>${w.worker_id}</td><td>${w.pod_id}</td><td>${badge(w.status)}</td><td>${w.host} ${w.pid}</td><td>${time(ctx, w.last_seen_at)}</td><td>${time(ctx, w.expires_at)}</td><td>${held[i].total} ${held[i].items.map((t) => html` ${taskLink(ctx, t.id)}`)}</td></tr>`)}</table></div>`,
  );
}

/**
 * The managed schedules (docs/behaviour.md#schedules), oldest first, one page: key, name, cron
 * expression or interval, status, next and last run, and the task carrying each. Read-only:
 * schedules are changed by code or `taskmill schedules`.
 */
export async function schedulesPage(ctx: PageContext, params: URLSearchParams): Promise<string> {
  const cursor = params.get('cursor');
  const list = await ctx.store.listSchedules({ limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) });
  const rows = list.items.map(scheduleOf);
  const more = list.next_cursor ? html`<p><a href="${ctx.base}/schedules?cursor=${encodeURIComponent(list.next_cursor)}">Next page</a></p>` : '';
  return page(
    ctx.base,
    'Schedules',
    html`<p>${list.total} schedule${list.total === 1 ? '' : 's'}.</p><div class="scroll"><table id="schedules"><tr><th>key</th><th>name</th><th>schedule</th><th>status</th><th>next run</th><th>last run</th><th>task</th></tr>
${rows.map((r) => html`<tr><td>${r.key}</td><td>${r.name}</td><td>${r.every !== null ? `every ${r.every}s` : `${r.cron} (${r.tz})`}</td><td>${badge(r.status)}</td><td>${time(ctx, r.next_run_time)}</td><td>${time(ctx, r.last_run_at)}</td><td>${taskLink(ctx, r.task_id)}</td></tr>`)}</table></div>${more}`,
  );
}

/** The form of a name's pause or resume: the name (and for a pause a reason), and the actions token. */
export function nameActionPage(ctx: PageContext, action: 'pause' | 'resume', name: string): string {
  const label = action === 'pause' ? 'Pause' : 'Resume';
  return page(
    ctx.base,
    `${label} a task name for the whole cluster`,
    html`<p>${action === 'pause' ? 'No worker claims tasks of a paused name until it is resumed; its tasks stay pending.' : 'Workers claim tasks of the name again.'}</p>
<form method="post" action="${ctx.base}/names/${action}" id="confirm">
<label>Task name <input name="name" value="${name}" required maxlength="255"></label>
${action === 'pause' ? html`<label>Reason <input name="reason" maxlength="1000"></label>` : ''}
<label>Actions token <input type="password" name="token" autocomplete="off" required></label>
<button type="submit" id="confirm-button">${label}</button> <a href="${ctx.base}/">Back</a></form>`,
  );
}

/** The confirmation step of an action: a POST form that asks for the actions token. */
export async function confirmPage(ctx: PageContext, id: number, action: TaskAction): Promise<string | null> {
  const task = await ctx.store.getTask(id);
  if (!task) return null;
  const { label } = TASK_ACTION_SPECS[action];
  return page(
    ctx.base,
    `${label} task #${task.id} ${task.name}?`,
    html`<p>It is ${badge(task.status)} now.</p>
<form method="post" action="${ctx.base}/tasks/${task.id}/${action}" id="confirm">
<label>Actions token <input type="password" name="token" autocomplete="off" required></label>
<button type="submit" id="confirm-button">${label}</button> <a href="${ctx.base}/tasks/${task.id}">Back</a></form>`,
  );
}
