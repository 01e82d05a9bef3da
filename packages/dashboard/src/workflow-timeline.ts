import { queryTasks, queryWorkflowAttempts } from '@taskmill/audit';
import type { Task, TaskAttempt, TaskId } from '@taskmill/contracts';
import { absolute, duration } from './format.js';
import { html, type Html } from './html.js';

/*
 * Every task of a workflow on one timeline (docs/behaviour.md#dashboard): a row per task, in
 * creation order, 200 to a page; each row's segments are its waits (`queued`: from creation, or
 * from a failed attempt's end, to the next start), its attempts (`running`) and the time after a
 * `suspended` attempt until the next one (`suspended`). Tasks on the critical path are marked.
 */

/** Tasks per timeline page. */
export const TIMELINE_PAGE = 200;
/** Most attempts of a workflow the timeline reads. */
const MAX_ATTEMPTS = 20_000;

type Kind = 'queued' | 'running' | 'suspended';

/** One segment of a task's row. */
export interface Segment {
  kind: Kind;
  from: number;
  to: number;
}

/** A task's segments from its row and its attempts (by attempt number); open ones end at `now`. */
export function segments(task: Task, attempts: readonly TaskAttempt[], now: number): Segment[] {
  const out: Segment[] = [];
  let since = task.created_at;
  let waiting: Kind = 'queued';
  for (const a of [...attempts].sort((x, y) => x.attempt - y.attempt)) {
    if (a.started_at > since) out.push({ kind: waiting, from: since, to: a.started_at });
    const end = a.ended_at ?? now;
    out.push({ kind: 'running', from: a.started_at, to: end });
    since = end;
    waiting = a.outcome === 'suspended' ? 'suspended' : 'queued';
  }
  const finished = ['completed', 'permanently_failed', 'paused'].includes(task.status);
  if (!finished && task.status !== 'running' && now > since) out.push({ kind: task.status === 'suspended' ? 'suspended' : 'queued', from: since, to: now });
  return out;
}

const LABEL = 190;
const WIDTH = 640;
const ROW = 20;

/** The timeline section of a workflow page: page `pageNo` (0-based) of its tasks. */
export async function timelineSection(
  store: Parameters<typeof queryTasks>[0],
  base: string,
  rootId: TaskId,
  pageNo: number,
  critical: ReadonlySet<TaskId>,
  now: number,
): Promise<Html> {
  const [tasks, attempts] = await Promise.all([
    queryTasks(store, { workflow_root_id: rootId, limit: TIMELINE_PAGE, offset: pageNo * TIMELINE_PAGE }),
    queryWorkflowAttempts(store, rootId, { limit: MAX_ATTEMPTS }),
  ]);
  const byTask = new Map<TaskId, TaskAttempt[]>();
  for (const a of attempts.items) {
    const list = byTask.get(a.task_id);
    if (list) list.push(a);
    else byTask.set(a.task_id, [a]);
  }
  const rows = tasks.items.map((t) => ({ task: t, parts: segments(t, byTask.get(t.id) ?? [], now) }));
  const t0 = Math.min(...rows.map((r) => r.task.created_at), now);
  const t1 = Math.max(t0 + 1, ...rows.flatMap((r) => r.parts.map((p) => p.to)));
  const x = (ms: number) => Math.round((LABEL + ((ms - t0) / (t1 - t0)) * WIDTH) * 10) / 10;
  const pages = Math.max(1, Math.ceil(tasks.total / TIMELINE_PAGE));
  const link = (n: number, label: string, id: string) => html`<a id="${id}" href="${base}/workflows/${rootId}?page=${n + 1}">${label}</a>`;
  return html`<h2>Timeline</h2>
<p class="hint">Every task of the workflow, ${tasks.total} in all, from ${absolute(t0)} to ${absolute(t1)} UTC (${duration(t1 - t0)}).
<span class="key key-queued">queued</span> <span class="key key-running">running</span> <span class="key key-suspended">suspended</span> <span class="key key-cp">critical path</span>${
    attempts.has_more ? html` <strong>Only the first ${MAX_ATTEMPTS} attempts are drawn.</strong>` : ''
  }</p>
${pages > 1 ? html`<nav class="pager" aria-label="Timeline pages">Page ${pageNo + 1} of ${pages} ${pageNo > 0 ? link(pageNo - 1, 'Previous', 'timeline-prev') : ''} ${pageNo + 1 < pages ? link(pageNo + 1, 'Next', 'timeline-next') : ''}</nav>` : ''}
<div class="scroll"><svg id="workflow-timeline" viewBox="0 0 ${LABEL + WIDTH + 10} ${rows.length * ROW + 10}" width="${LABEL + WIDTH + 10}" role="img" aria-labelledby="workflow-timeline-title workflow-timeline-desc">
<title id="workflow-timeline-title">Workflow timeline</title><desc id="workflow-timeline-desc">${rows.length} tasks of ${tasks.total}: queued, running and suspended time of each; the data table below lists the same.</desc>
${rows.map(({ task, parts }, i) => {
    const cp = critical.has(task.id);
    return html`<g class="timeline-row${cp ? ' cp' : ''}" data-task="${task.id}"><text x="4" y="${i * ROW + 19}">${cp ? '★ ' : ''}${task.name} #${task.id}</text>${parts.map(
      (p) => html`<rect class="seg seg-${p.kind}${cp && p.kind === 'running' ? ' seg-cp' : ''}" x="${x(p.from)}" y="${i * ROW + 8}" width="${Math.max(1, x(p.to) - x(p.from))}" height="${ROW - 6}"><title>${task.name} #${task.id} ${p.kind} ${duration(p.to - p.from)}, from ${absolute(p.from)}</title></rect>`,
    )}</g>`;
  })}</svg></div>
<details><summary>Timeline as a table</summary><table id="timeline-table"><thead><tr><th scope="col">task</th><th scope="col">critical path</th><th scope="col">segments</th></tr></thead>
<tbody>${rows.map(
    ({ task, parts }) =>
      html`<tr><th scope="row"><a href="${base}/tasks/${task.id}">${task.name} #${task.id}</a></th><td>${critical.has(task.id) ? 'yes' : ''}</td><td>${parts.map((p) => `${p.kind} ${duration(p.to - p.from)}`).join(', ')}</td></tr>`,
  )}</tbody></table></details>`;
}
