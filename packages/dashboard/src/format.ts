import { html, type Html } from './html.js';

/*
 * How the pages show a status and a time (docs/behaviour.md#dashboard): a status as a badge with
 * its text and a colour of its kind, so that it reads without colour too; a time relative to the
 * database's clock ("3 min ago") with the absolute time (UTC) in the element's title and
 * `datetime`, which the live script re-reads to keep the relative text current.
 */

/** The badge colour of each status kind: done, running, waiting, failing, stopped. */
const KIND: Record<string, string> = {
  completed: 'ok',
  active: 'ok',
  running: 'run',
  pending: 'wait',
  suspended: 'wait',
  failed: 'bad',
  timeout: 'bad',
  permanently_failed: 'bad',
  dead: 'bad',
  paused: 'stop',
  superseded: 'stop',
};

/** The badge class of a status (`badge badge-bad`…). */
export function badgeClass(status: string): string {
  return `badge badge-${KIND[status] ?? 'wait'}`;
}

/** A status badge; `id` for the element tests and the live script find. */
export function badge(status: string, id?: string): Html {
  return html`<span class="${badgeClass(status)}"${id ? html` id="${id}"` : ''}>${status}</span>`;
}

/** `2026-12-06 04:13:17.417` (UTC), or '' for no time. */
export function absolute(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '' : new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

/** A length of time in the largest unit that keeps it short: `850 ms`, `12.5 s`, `4 min`, `3 h`, `2 d`. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '';
  const abs = Math.abs(ms);
  if (abs < 1000) return `${Math.round(ms)} ms`;
  if (abs < 60_000) return `${Math.round(ms / 100) / 10} s`;
  if (abs < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  if (abs < 86_400_000) return `${Math.round(ms / 360_000) / 10} h`;
  return `${Math.round(ms / 8_640_000) / 10} d`;
}

/** `3 min ago`, `in 5 s`, `now` (within a second): `at` seen from `now`. */
export function relative(at: number, now: number): string {
  const diff = now - at;
  if (Math.abs(diff) < 1000) return 'now';
  return diff > 0 ? `${duration(diff)} ago` : `in ${duration(-diff)}`;
}

/** A time as `<time>`: relative text, absolute time in `title` and `datetime`; '' for no time. */
export function when(ms: number | null | undefined, now: number): Html | string {
  if (ms === null || ms === undefined) return '';
  return html`<time datetime="${new Date(ms).toISOString()}" title="${absolute(ms)} UTC">${relative(ms, now)}</time>`;
}

/** A task's progress as shown: `40% copying`, or ''. */
export function progressText(t: { progress_percent: number | null; progress_text: string | null }): string {
  return `${t.progress_percent !== null ? `${t.progress_percent}% ` : ''}${t.progress_text ?? ''}`;
}

/** Longest first line a folded text shows in its summary. */
const SUMMARY_CHARS = 200;

/**
 * Text that may be long (an error with its stack, an event's message and metadata) as it fits a
 * phone: short text (two lines, 160 characters at most) in a `<pre>`; longer text folded in a
 * `<details>` whose summary is its first line (cut at 200 characters) and whose body, in a box of
 * its own height, the rest. It opens by click or keyboard, without JavaScript. `id` goes on the
 * outer element.
 */
export function foldable(text: string | null | undefined, id?: string): Html {
  const idAttr = id ? html` id="${id}"` : '';
  if (text === null || text === undefined || text === '') return html`<pre${idAttr}></pre>`;
  const lines = text.split('\n');
  if (lines.length <= 2 && text.length <= 160) return html`<pre${idAttr}>${text}</pre>`;
  const first = lines[0];
  const cut = first.length > SUMMARY_CHARS;
  const summary = cut ? `${first.slice(0, SUMMARY_CHARS)}…` : first;
  const rest = cut ? text : lines.slice(1).join('\n');
  return html`<details class="fold"${idAttr}><summary>${summary}</summary><pre>${rest}</pre></details>`;
}
