/*
 * HTML building with escaping by default: every value interpolated through `html` is escaped
 * unless it is itself `html` output, so a task name, tag, payload, error or progress text can only
 * ever render as text. The pages carry no script at all, and the Content-Security-Policy forbids
 * any (server.ts), so even an escaping mistake could not run code.
 */

const SAFE = Symbol('safe html');

/** Markup that is already safe. */
export interface Html {
  readonly [SAFE]: true;
  readonly text: string;
}

function safe(text: string): Html {
  return { [SAFE]: true, text };
}

function isHtml(value: unknown): value is Html {
  return typeof value === 'object' && value !== null && (value as Html)[SAFE] === true;
}

/** Escape text for an element body or a quoted attribute value. */
export function escape(value: unknown): string {
  return String(value ?? '').replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function piece(value: unknown): string {
  if (value === null || value === undefined || value === false) return '';
  if (Array.isArray(value)) return value.map(piece).join('');
  return isHtml(value) ? value.text : escape(value);
}

/** Tagged template: literal parts as markup, interpolations escaped (arrays joined, `Html` kept). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += piece(values[i]) + strings[i + 1];
  return safe(out);
}

/** A page in the dashboard's layout. */
export function page(base: string, title: string, body: Html, note?: string): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · taskmill</title><link rel="stylesheet" href="${base}/style.css"></head>
<body><header><a class="brand" href="${base}/">taskmill</a>
<nav><a href="${base}/">Overview</a><a href="${base}/tasks">Tasks</a><a href="${base}/workers">Workers</a></nav>
<form class="search" method="get" action="${base}/tasks"><input name="q" placeholder="id, name or tag" aria-label="search"><button>Search</button></form></header>
<main>${note ? html`<p class="note">${note}</p>` : ''}<h1>${title}</h1>${body}</main></body></html>`.text;
}

export const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
header{display:flex;gap:1.5em;align-items:center;padding:.6em 1.2em;background:#1d2430;color:#fff}
header a{color:#fff;text-decoration:none;margin-right:1em}.brand{font-weight:700}
.search{margin-left:auto}main{padding:1em 1.5em}h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}
table{border-collapse:collapse;background:#fff;margin:.5em 0}td,th{border:1px solid #dde1e6;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#eef0f3}caption{text-align:left;font-weight:600;padding:.4em 0}pre{white-space:pre-wrap;word-break:break-all;margin:0;max-width:60em}
.status{font-weight:600}.note{background:#fff4d6;border:1px solid #e8c96b;padding:.5em}
.actions a,.actions button{margin-right:.8em}.bar{fill:#3b73c4}.bar.cp{fill:#d9534f}svg{background:#fff;border:1px solid #dde1e6}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:600}
`;
