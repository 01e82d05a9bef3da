import { badgeClass, duration, progressText, relative } from './format.js';

/*
 * Live pages (docs/behaviour.md#dashboard): the one script the dashboard serves, from its own
 * origin at `/assets/live.js` (the CSP allows `script-src 'self'` and `connect-src 'self'`, nothing
 * inline). A page that wants it names its JSON in `data-live-src`; the script fetches it every
 * `data-refresh` seconds while the tab is visible and writes the figures in place with
 * `textContent` and attributes only, never as markup. Without JavaScript the server-rendered page
 * is complete and a reload shows the same. The relative times ("3 min ago") are re-read by the
 * script with the server's `duration` and `relative` themselves, embedded as their source text.
 */

export const LIVE_SCRIPT = `'use strict';
(function () {
  var root = document.querySelector('[data-live-src]');
  var seconds = Number(document.body.getAttribute('data-refresh'));
  if (!root || !(seconds > 0)) return;
  var src = root.getAttribute('data-live-src');
  var status = document.getElementById('live-status');
  var SVG = 'http://www.w3.org/2000/svg';
  var offset = 0;

  function say(text) { if (status) status.textContent = text; }
  function el(name, text, attrs) {
    var node = document.createElement(name);
    if (text !== undefined) node.textContent = text;
    for (var key in attrs || {}) node.setAttribute(key, attrs[key]);
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  // the server's own formatters (format.ts), their source text: one implementation of "3 min ago"
  ${duration.toString()}
  ${relative.toString()}
  function ticks() {
    var now = Date.now() + offset;
    document.querySelectorAll('time[datetime]').forEach(function (t) { t.textContent = relative(Date.parse(t.getAttribute('datetime')), now); });
  }
  function rows(tbody, list, head) {
    if (!tbody) return;
    clear(tbody);
    list.forEach(function (r) {
      var tr = el('tr');
      if (r.alert) tr.className = 'alert';
      var first = el(head ? 'th' : 'td', undefined, head ? { scope: 'row' } : {});
      first.appendChild(el('a', r.name, { href: r.href }));
      tr.appendChild(first);
      r.cells.forEach(function (c) { tr.appendChild(el('td', c)); });
      tbody.appendChild(tr);
    });
  }
  function chart(c) {
    var fig = document.getElementById(c.id);
    if (!fig) return;
    var svg = fig.querySelector('svg');
    svg.querySelectorAll('rect').forEach(function (r) { r.remove(); });
    c.bars.forEach(function (b) {
      var rect = document.createElementNS(SVG, 'rect');
      rect.setAttribute('class', 'bar ' + c.id);
      ['x', 'y', 'width', 'height'].forEach(function (k) { rect.setAttribute(k, String(b[k])); });
      var title = document.createElementNS(SVG, 'title');
      title.textContent = b.label;
      rect.appendChild(title);
      svg.appendChild(rect);
    });
    var desc = svg.querySelector('desc');
    if (desc) desc.textContent = c.desc;
    var body = fig.querySelector('tbody');
    if (!body) return;
    var cells = body.querySelectorAll('tr');
    c.bars.forEach(function (b, i) {
      var tr = cells[i];
      if (!tr) { tr = el('tr'); tr.appendChild(el('td')); tr.appendChild(el('td')); body.appendChild(tr); }
      tr.children[0].textContent = b.from;
      tr.children[1].textContent = b.value;
    });
  }
  function apply(data) {
    offset = data.now - Date.now();
    if (data.by_status) {
      document.querySelectorAll('[data-count]').forEach(function (n) { n.textContent = String(data.by_status[n.getAttribute('data-count')] || 0); });
    }
    if (data.health) {
      rows(document.getElementById('health-rows'), data.health, true);
      var none = document.getElementById('no-health');
      if (none) none.hidden = data.health.length > 0;
    }
    if (data.by_name) rows(document.getElementById('by-name-rows'), data.by_name, false);
    if (data.charts) data.charts.forEach(chart);
    if (data.workers) {
      var active = document.getElementById('workers-active');
      var registered = document.getElementById('workers-registered');
      if (active) active.textContent = String(data.workers.active);
      if (registered) registered.textContent = String(data.workers.registered);
    }
    if (data.task) {
      var badge = document.getElementById('status');
      if (badge) { badge.textContent = data.task.status; badge.className = data.task.badge; }
      var progress = document.getElementById('progress');
      if (progress) progress.textContent = data.task.progress;
    }
    ticks();
    say('Live: updated ' + new Date(data.now).toISOString().slice(11, 19) + ' UTC');
  }
  function poll() {
    if (document.hidden) return;
    fetch(src, { headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' })
      .then(function (res) { if (!res.ok) throw new Error('HTTP ' + res.status); return res.json(); })
      .then(apply)
      .catch(function (error) { say('Live updates paused (' + error.message + '); retrying.'); });
  }
  say('Live: every ' + seconds + ' s');
  setInterval(poll, seconds * 1000);
  document.addEventListener('visibilitychange', poll);
})();
`;

/** The JSON of `/api/tasks/<id>.json`: what the live script updates on a task's page. */
export function taskJson(task: { status: string; progress_percent: number | null; progress_text: string | null }, now: number): string {
  return JSON.stringify({ now, task: { status: task.status, badge: badgeClass(task.status), progress: progressText(task) } });
}
