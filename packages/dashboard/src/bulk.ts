import { BULK_ACTIONS, bulkActionStatuses, isBulkAction, TASK_STATUSES, ValidationError, type BulkAction, type BulkFilter } from '@taskmill/contracts';
import { html, page, type Html } from './html.js';
import type { PageContext } from './pages.js';

/*
 * Bulk actions in the dashboard (docs/behaviour.md#bulk-actions): a form of filter fields and an
 * action (GET /bulk), a confirmation page with the count the action would take, a dry run
 * (GET /bulk/confirm), then the POST with the actions token that runs it (POST /bulk) and a page
 * with what it did (GET /bulk/done).
 */

/** The form fields of a bulk request, as named in every form and query string here. */
const FIELDS = ['action', 'name', 'tag', 'created_after', 'created_before', 'root_id', 'all'] as const;

/** An ISO 8601 date or time of a form field, as ms since the epoch; anything else is a ValidationError. */
function formTime(value: string, field: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) throw new ValidationError(`${field} must be an ISO 8601 time such as 2026-12-06T09:00:00Z`);
  return ms;
}

/** The action and filter a form or query string names; empty fields are no criterion. The store validates the rest. */
export function bulkRequest(params: URLSearchParams): { action: BulkAction; filter: BulkFilter } {
  const action = params.get('action');
  if (!isBulkAction(action)) throw new ValidationError(`Invalid bulk action: ${JSON.stringify(action)}; expected one of: ${BULK_ACTIONS.join(', ')}`);
  const filter: BulkFilter = {};
  const name = params.get('name');
  if (name) filter.name = name;
  const tag = params.get('tag');
  if (tag) filter.tag = tag;
  const statuses = params.getAll('status').filter((s) => s !== '');
  if (statuses.length > 0) filter.status = statuses as never;
  const after = params.get('created_after');
  if (after) filter.created_after = formTime(after, 'created_after');
  const before = params.get('created_before');
  if (before) filter.created_before = formTime(before, 'created_before');
  const root = params.get('root_id');
  if (root) filter.root_id = root as never;
  if (params.get('all') === 'on') filter.all = true;
  return { action, filter };
}

/** The request's fields as hidden inputs, so that the POST acts on exactly the filter confirmed. */
function hidden(params: URLSearchParams): Html[] {
  const inputs: Html[] = [];
  for (const field of FIELDS) {
    const value = params.get(field);
    if (value) inputs.push(html`<input type="hidden" name="${field}" value="${value}">`);
  }
  for (const status of params.getAll('status')) if (status) inputs.push(html`<input type="hidden" name="status" value="${status}">`);
  return inputs;
}

function describeFilter(filter: BulkFilter): string {
  const parts = Object.entries(filter)
    .filter(([key]) => key !== 'all')
    .map(([key, value]) => `${key} ${Array.isArray(value) ? value.join(', ') : key.startsWith('created') ? new Date(value as number).toISOString() : String(value)}`);
  return parts.length > 0 ? parts.join('; ') : 'every task';
}

/** The form: an action and filter fields, prefilled from the query string (the task list links here with its filters). */
export function bulkFormPage(ctx: PageContext, params: URLSearchParams): string {
  const chosen = new Set(params.getAll('status'));
  const value = (field: string) => params.get(field) ?? '';
  return page(
    ctx.base,
    'Bulk action',
    html`<p>Retry, cancel, pause, resume or delete every task the filter selects, in batches. The next page shows how many tasks it would take and asks for the actions token.</p>
<form method="get" action="${ctx.base}/bulk/confirm" id="bulk-form">
<label>action <select name="action" id="bulk-action">${BULK_ACTIONS.map((a) => html`<option${a === params.get('action') ? html` selected` : ''}>${a}</option>`)}</select></label>
<label>name <input name="name" value="${value('name')}" maxlength="255"></label>
<label>tag <input name="tag" value="${value('tag')}" maxlength="255"></label>
<label>status <select name="status" multiple size="4">${TASK_STATUSES.map((s) => html`<option${chosen.has(s) ? html` selected` : ''}>${s}</option>`)}</select></label>
<label>created after <input name="created_after" value="${value('created_after')}" placeholder="2026-12-06T09:00:00Z"></label>
<label>created before <input name="created_before" value="${value('created_before')}" placeholder="2026-12-06T10:00:00Z"></label>
<label>workflow root id <input name="root_id" value="${value('root_id')}" inputmode="numeric"></label>
<label><input type="checkbox" name="all"${params.get('all') === 'on' ? html` checked` : ''}> every task the action applies to (needed when no field is filled)</label>
<button type="submit" id="bulk-preview">Count the tasks</button></form>`,
  );
}

/** The confirmation: the count a dry run gives, and the POST form with the actions token. */
export async function bulkConfirmPage(ctx: PageContext, params: URLSearchParams): Promise<string> {
  const { action, filter } = bulkRequest(params);
  const total = await ctx.store.countBulkTasks(action, filter);
  return page(
    ctx.base,
    `${action} ${total} task(s)?`,
    html`<p id="bulk-count">${total} task(s) in ${bulkActionStatuses(action).join(', ')} match: ${describeFilter(filter)}.</p>
<p>Tasks are taken in batches, each its own transaction; a task whose status changes meanwhile is skipped.</p>
<form method="post" action="${ctx.base}/bulk" id="confirm">${hidden(params)}
<label>Actions token <input type="password" name="token" autocomplete="off" required></label>
<button type="submit" id="confirm-button"${total === 0 ? html` disabled` : ''}>${action} ${total} task(s)</button> <a href="${ctx.base}/bulk?${params.toString()}">Back</a></form>`,
  );
}

/** What a bulk run did (numbers from the redirect's query string). */
export function bulkDonePage(ctx: PageContext, params: URLSearchParams): string {
  const action = params.get('action');
  const number = (field: string) => (/^[0-9]{1,16}$/.test(params.get(field) ?? '') ? Number(params.get(field)) : 0);
  return page(
    ctx.base,
    'Bulk action done',
    html`<p id="bulk-result">${isBulkAction(action) ? action : ''}: ${number('changed')} task(s) changed, ${number('skipped')} skipped, in ${number('batches')} batch(es).</p>
<p><a href="${ctx.base}/tasks">Tasks</a></p>`,
  );
}
