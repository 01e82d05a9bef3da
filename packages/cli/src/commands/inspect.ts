import { getTaskAudit, getWorkflowAuditSummary, queryTasks, type WorkflowAuditSummary } from '@taskmill/audit';
import { TaskNotFoundError, type Store, type Task, type TaskAttempt, type TaskEvent, type TaskId } from '@taskmill/contracts';
import { block, cell, duration, firstLine, table, time } from '../format.js';
import { json } from '../output.js';

/** What `taskmill inspect` shows. */
export interface Inspection {
  task: Task;
  /** Every event of the task, oldest first. */
  events: TaskEvent[];
  /** Every attempt of the task, by attempt number. */
  attempts: TaskAttempt[];
  /** For a workflow root: all its tasks and the audit summary (critical path, stage timings). */
  workflow: { tasks: Task[]; summary: WorkflowAuditSummary } | null;
}

/** Read a task's audit through `@taskmill/audit`; a workflow root also gets its tree and summary. */
export async function inspection(store: Store, id: TaskId): Promise<Inspection> {
  const audit = await getTaskAudit(store, id, { events: {}, attempts: {} });
  if (!audit.task) throw new TaskNotFoundError(id);
  const task = audit.task;
  let workflow: Inspection['workflow'] = null;
  if (task.parent_id === null && task.total_children > 0) {
    const [tasks, summary] = await Promise.all([queryTasks(store, { workflow_root_id: id }), getWorkflowAuditSummary(store, id)]);
    workflow = { tasks: tasks.items, summary };
  }
  return { task, events: audit.events.items, attempts: audit.attempts.items, workflow };
}

function attemptSeconds(a: TaskAttempt): number | null {
  return a.ended_at === null ? null : Math.max(0, a.ended_at - a.started_at) / 1000;
}

function header(task: Task): string {
  const lines = [
    `Task ${task.id}  ${cell(task.name)}  ${task.type}  ${task.status}`,
    `  tag ${cell(task.tag) || '-'}  priority ${task.priority}  stage ${task.stage}  attempt ${task.attempt}  retries ${task.retry_count}/${task.max_retries}  timeout ${task.timeout}s`,
    `  created ${time(task.created_at)}  next run ${time(task.next_run_time)}  last active ${time(task.last_active_time) || '-'}`,
  ];
  if (task.parent_id !== null) lines.push(`  parent ${task.parent_id}  root ${task.root_id}`);
  if (task.cron_expr) lines.push(`  cron ${cell(task.cron_expr)}${task.cron_tz ? ` (${cell(task.cron_tz)})` : ''}`);
  if (task.worker_id) lines.push(`  worker ${cell(task.worker_id)}`);
  if (task.suspend_reason) lines.push(`  suspended: ${cell(task.suspend_reason)}`);
  if (task.progress_percent !== null || task.progress_text || task.current_stage_name) {
    const parts = [task.current_stage_name, task.progress_text, task.progress_percent !== null ? `${task.progress_percent}%` : null];
    lines.push(`  progress ${parts.filter((p) => p !== null && p !== '').map(cell).join(' · ')}`);
  }
  if (task.error) lines.push(`  error ${block(task.error, '        ')}`);
  return lines.join('\n') + '\n';
}

function timeline(events: TaskEvent[]): string {
  if (events.length === 0) return 'Timeline: no events\n';
  const start = events[0].event_time;
  const rows = events.map((e) => [
    time(e.event_time),
    `+${duration((e.event_time - start) / 1000)}`,
    e.event_type,
    e.from_status || e.to_status ? `${e.from_status ?? ''} -> ${e.to_status ?? ''}` : '',
    e.attempt,
    e.worker_id,
    e.message,
  ]);
  return 'Timeline\n' + indent(table(['TIME', 'ELAPSED', 'EVENT', 'STATUS', 'ATTEMPT', 'WORKER', 'MESSAGE'], rows));
}

function attemptTable(attempts: TaskAttempt[]): string {
  if (attempts.length === 0) return 'Attempts: none\n';
  const rows = attempts.map((a) => [a.attempt, a.worker_id, time(a.started_at), time(a.ended_at) || '(open)', duration(attemptSeconds(a)), a.outcome, firstLine(a.error)]);
  return 'Attempts\n' + indent(table(['#', 'WORKER', 'STARTED', 'ENDED', 'DURATION', 'OUTCOME', 'ERROR'], rows));
}

function tree(root: Task, tasks: Task[]): string {
  const children = new Map<TaskId, Task[]>();
  for (const t of tasks) {
    if (t.parent_id === null) continue;
    const list = children.get(t.parent_id) ?? [];
    list.push(t);
    children.set(t.parent_id, list);
  }
  const label = (t: Task) => `${t.id} ${cell(t.name)} [${t.status}]${t.error ? ` ${cell(firstLine(t.error))}` : ''}`;
  const lines = [label(root)];
  const walk = (parent: Task, prefix: string) => {
    const kids = (children.get(parent.id) ?? []).sort((a, b) => a.id - b.id);
    kids.forEach((kid, i) => {
      const last = i === kids.length - 1;
      lines.push(`${prefix}${last ? '└─ ' : '├─ '}${label(kid)}`);
      walk(kid, `${prefix}${last ? '   ' : '│  '}`);
    });
  };
  walk(root, '');
  return 'Workflow\n' + indent(lines.join('\n') + '\n');
}

function criticalPath(summary: WorkflowAuditSummary): string {
  const path = summary.critical_path;
  const rows = path.nodes.map((n) => [n.task_id, n.name, n.status, n.attempt, duration(n.duration_seconds), time(n.started_at), time(n.ended_at)]);
  const title = `Critical path (${duration(path.total_duration_seconds)}; workflow ${duration(summary.timing.workflow_duration_seconds) || 'unfinished'})`;
  return `${title}\n` + indent(table(['TASK', 'NAME', 'STATUS', 'ATTEMPT', 'DURATION', 'STARTED', 'ENDED'], rows));
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => (line ? `  ${line}` : line))
    .join('\n');
}

/** `taskmill inspect <id>`. */
export async function inspect(store: Store, id: TaskId, options: { json?: boolean }): Promise<string> {
  const view = await inspection(store, id);
  if (options.json) return json(view);
  const parts = [header(view.task), timeline(view.events), attemptTable(view.attempts)];
  if (view.workflow) parts.push(tree(view.task, view.workflow.tasks), criticalPath(view.workflow.summary));
  return parts.join('\n');
}
