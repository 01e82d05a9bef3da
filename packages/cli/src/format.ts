import { oneLine } from './exit-codes.js';

/*
 * Plain-text rendering for people: aligned tables, times and durations. Every value from the
 * database (names, tags, errors, messages) goes through `cell`, so a value cannot break a row or
 * smuggle terminal escape sequences onto the operator's screen.
 */

/** A printable table cell: empty for null/undefined, one line, control characters escaped. */
export function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return oneLine(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return oneLine(JSON.stringify(value) ?? '');
}

/** Columns padded to their widest cell; a header row, then the rows. Trailing spaces trimmed. */
export function table(headers: string[], rows: unknown[][]): string {
  const text = rows.map((row) => row.map(cell));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(headers), ...text.map(line)].join('\n') + '\n';
}

/** An epoch-ms time as ISO-8601 UTC, or empty. */
export function time(ms: number | null | undefined): string {
  return typeof ms === 'number' && Number.isFinite(ms) ? new Date(ms).toISOString() : '';
}

/** Seconds as a short human duration: `0.012s`, `4.2s`, `3m 05s`, `2h 03m`, `3d 04h`. */
export function duration(seconds: number | null | undefined): string {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return '';
  if (seconds < 10) return `${Number(seconds.toFixed(3))}s`;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const s = Math.floor(seconds);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86_400)}d ${pad(Math.floor((s % 86_400) / 3600))}h`;
}

/** A connection URL with its password hidden, for messages: one rule for every package. */
export { redactUrl } from '@taskmill/contracts';

/** The first line of a multi-line text (a stored error is a stack: its first line is `Error: message`). */
export function firstLine(text: string | null | undefined): string | null {
  if (text === null || text === undefined) return null;
  return text.split(/\r?\n/, 1)[0];
}

/** A multi-line text with each line made printable and indented after the first. */
export function block(text: string, indent: string): string {
  return text
    .split(/\r?\n/)
    .map((line) => oneLine(line))
    .filter((line) => line !== '')
    .join(`\n${indent}`);
}
