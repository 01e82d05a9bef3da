/*
 * HTML building with escaping by default: every value interpolated through `html` is escaped
 * unless it is itself `html` output, so a task name, tag, payload, error or progress text can only
 * ever render as text. The pages carry no inline script, and the Content-Security-Policy allows
 * only the dashboard's own script file (server.ts, live.ts), so even an escaping mistake could not run code.
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

/**
 * A page in the dashboard's layout. With `refresh` (seconds, > 0) it loads the live script
 * (live.ts), which updates the page when an element names its JSON in `data-live-src`.
 */
export function page(base: string, title: string, body: Html, note?: string, refresh = 0): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="color-scheme" content="light dark">
<title>${title} · taskmill</title><link rel="stylesheet" href="${base}/style.css"><link rel="icon" href="${base}/favicon.svg" type="image/svg+xml">${refresh > 0 ? html`<script src="${base}/assets/live.js" defer></script>` : ''}</head>
<body${refresh > 0 ? html` data-refresh="${refresh}"` : ''}><a class="skip" href="#main">Skip to content</a><header><a class="brand" href="${base}/">taskmill</a>
<nav aria-label="Pages"><a href="${base}/">Overview</a><a href="${base}/tasks">Tasks</a><a href="${base}/workers">Workers</a><a href="${base}/schedules">Schedules</a></nav>
<form class="search" method="get" action="${base}/tasks" role="search"><input name="q" placeholder="id, name or tag" aria-label="Search tasks by id, name or tag"><button>Search</button></form></header>
<main id="main">${note ? html`<p class="note">${note}</p>` : ''}<h1>${title}</h1>${refresh > 0 ? html`<p id="live-status" class="live" role="status" aria-live="polite">Updated at each reload.</p>` : ''}${body}</main></body></html>`.text;
}

/** The tab's icon, served at `/favicon.svg` so a browser does not ask for a missing `/favicon.ico` on every page (docs/behaviour.md#dashboard). */
export const FAVICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#2f66b3"/><path d="M4 4h8v2H9v6H7V6H4z" fill="#fff"/></svg>';

/*
 * Colours as custom properties, light by default and dark when the system asks
 * (prefers-color-scheme); every text and badge pair has a contrast of at least 4.5:1. Badges carry
 * their text, so colour is never the only sign. Below 700 px the header wraps and wide tables
 * scroll in their own box.
 */
export const STYLE = `
:root{color-scheme:light dark;--bg:#f6f7f9;--fg:#1d2430;--muted:#4a5361;--panel:#fff;--line:#c9ced6;--head:#eef0f3;--link:#1f57a8;--bar:#2f66b3;--bad-bar:#b3261e;--wait-bar:#7a5800;
--ok-bg:#dcf3e3;--ok-fg:#11562b;--run-bg:#dde9fb;--run-fg:#173f7a;--wait-bg:#eceef1;--wait-fg:#3a4350;--bad-bg:#fbe0de;--bad-fg:#8a1c14;--stop-bg:#fff1cc;--stop-fg:#5e4500;
--note-bg:#fff4d6;--note-line:#e8c96b;--focus:#c25e00;--alert:#fdf0ef}
@media (prefers-color-scheme: dark){:root{--bg:#12161c;--fg:#e6e9ee;--muted:#aab3c0;--panel:#1b2129;--line:#38414d;--head:#232a34;--link:#8cb8ff;--bar:#6fa3f0;--bad-bar:#f2847b;--wait-bar:#e3b341;
--ok-bg:#173d26;--ok-fg:#a6e9bd;--run-bg:#1b3256;--run-fg:#b9d3ff;--wait-bg:#2a313b;--wait-fg:#d5dae1;--bad-bg:#4a1d1a;--bad-fg:#ffc2bc;--stop-bg:#3f3312;--stop-fg:#f5dc8f;
--note-bg:#3a3217;--note-line:#7a6424;--focus:#ffb460;--alert:#2d1a1a}}
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:var(--fg);background:var(--bg)}
a{color:var(--link)}a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,summary:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.skip{position:absolute;left:-999px;top:0;background:var(--panel);padding:.4em .8em;z-index:1}.skip:focus{left:.5em}
header{display:flex;flex-wrap:wrap;gap:.6em 1.5em;align-items:center;padding:.6em 1.2em;background:#1d2430;color:#fff}
header a{color:#fff;text-decoration:none;margin-right:1em}header a:hover{text-decoration:underline}.brand{font-weight:700}
.search{margin-left:auto;display:flex;gap:.3em}main{padding:1em 1.5em;max-width:1400px}h1{font-size:1.4em;overflow-wrap:anywhere}h2{font-size:1.1em;margin-top:1.6em}
input,select,button{font:inherit;color:var(--fg);background:var(--panel);border:1px solid var(--line);border-radius:3px;padding:.2em .4em}button{cursor:pointer}
table{border-collapse:collapse;background:var(--panel);margin:.5em 0}td,th{border:1px solid var(--line);padding:.3em .6em;text-align:left;vertical-align:top}
thead th,tr:first-child>th{background:var(--head)}th[scope=row]{font-weight:400}caption{text-align:left;font-weight:600;padding:.4em 0}pre{white-space:pre-wrap;word-break:break-all;margin:0;max-width:60em}
.scroll{overflow-x:auto;max-width:100%}details.fold summary{cursor:pointer;overflow-wrap:anywhere;max-width:60em}details.fold pre{max-height:16em;overflow:auto;margin-top:.3em}.status{font-weight:600}.note{background:var(--note-bg);border:1px solid var(--note-line);padding:.5em}
.hint,.live{color:var(--muted);font-size:.92em}tr.alert>*{background:var(--alert)}
.badge{display:inline-block;font-weight:600;border-radius:999px;padding:0 .6em;font-size:.92em;white-space:nowrap}
.badge-ok{background:var(--ok-bg);color:var(--ok-fg)}.badge-run{background:var(--run-bg);color:var(--run-fg)}.badge-wait{background:var(--wait-bg);color:var(--wait-fg)}
.badge-bad{background:var(--bad-bg);color:var(--bad-fg)}.badge-stop{background:var(--stop-bg);color:var(--stop-fg)}
.actions a,.actions button{margin-right:.8em}.bar{fill:var(--bar)}.bar.cp,.bar.chart-failed{fill:var(--bad-bar)}.bar.chart-wait{fill:var(--wait-bar)}.axis{stroke:var(--line)}
svg{background:var(--panel);border:1px solid var(--line);max-width:100%;height:auto}
.windows{display:flex;gap:.4em;margin:.4em 0}.windows a{padding:.15em .7em;border:1px solid var(--line);border-radius:3px;text-decoration:none;background:var(--panel)}
.windows a[aria-current=page]{background:var(--link);color:var(--panel);border-color:var(--link)}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:1em}.chart{margin:0}.chart svg{width:100%;height:130px}figcaption{font-weight:600}
.seg-queued{fill:var(--wait-bg);stroke:var(--wait-fg);stroke-width:.5}.seg-running{fill:var(--bar)}.seg-suspended{fill:var(--stop-bg);stroke:var(--stop-fg);stroke-width:.5}.seg-cp{fill:var(--bad-bar)}
svg text{fill:var(--fg);font-size:12px}.timeline-row.cp text{font-weight:700}.pager{margin:.4em 0}.pager a{margin-left:.6em}
.key{display:inline-block;padding:0 .5em;border-radius:3px}.key-queued{background:var(--wait-bg);color:var(--wait-fg)}.key-running{background:var(--bar);color:var(--panel)}.key-suspended{background:var(--stop-bg);color:var(--stop-fg)}.key-cp{background:var(--bad-bar);color:var(--panel)}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
@media (max-width:700px){main{padding:.8em}.search{margin-left:0;width:100%}.search input{flex:1}dl{grid-template-columns:1fr}dt{margin-top:.4em}}
`;
