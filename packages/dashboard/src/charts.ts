import type { QueueHealth } from '@taskmill/contracts';
import { absolute, duration } from './format.js';
import { html, type Html } from './html.js';

/*
 * The overview's charts over the chosen window (docs/behaviour.md#dashboard): completions,
 * failures and median wait per bucket, from `getQueueHealth`. Drawn server-side as SVG with a
 * title, a description and a data table; the geometry is computed here once, for the page and
 * for the live JSON the script applies, so both draw the same bars.
 */

/** One chart: its bars' geometry and labels, in the SVG's own units. */
export interface ChartData {
  id: string;
  title: string;
  /** The description: what is counted, the window, the peak. */
  desc: string;
  bars: { x: number; y: number; width: number; height: number; label: string; from: string; value: string }[];
}

export const CHART_WIDTH = 600;
export const CHART_HEIGHT = 120;
const PAD = 4;

function chart(health: QueueHealth, id: string, title: string, unit: (v: number) => string, value: (b: QueueHealth['buckets'][number]) => number | null): ChartData {
  const values = health.buckets.map(value);
  const peak = Math.max(0, ...values.map((v) => v ?? 0));
  const slot = (CHART_WIDTH - 2 * PAD) / Math.max(1, values.length);
  const room = CHART_HEIGHT - 2 * PAD;
  return {
    id,
    title,
    desc: `${title} per ${duration(health.bucket_ms)} from ${absolute(health.since)} to ${absolute(health.now)} UTC; peak ${unit(peak)}.`,
    bars: values.map((v, i) => {
      const height = peak === 0 || v === null ? 0 : Math.round(((v / peak) * room) * 10) / 10;
      const start = health.buckets[i].start;
      const shown = v === null ? '–' : unit(v);
      return {
        x: Math.round((PAD + i * slot + slot * 0.1) * 10) / 10,
        y: Math.round((CHART_HEIGHT - PAD - height) * 10) / 10,
        width: Math.round(slot * 0.8 * 10) / 10,
        height,
        label: `${absolute(start)}: ${shown}`,
        from: absolute(start),
        value: shown,
      };
    }),
  };
}

/** The three charts of a window. */
export function charts(health: QueueHealth): ChartData[] {
  const count = (v: number) => String(v);
  return [
    chart(health, 'chart-completed', 'Completions', count, (b) => b.completed),
    chart(health, 'chart-failed', 'Failures', count, (b) => b.failed),
    chart(health, 'chart-wait', 'Median wait', (v) => duration(v), (b) => b.wait_p50),
  ];
}

/** One chart as SVG (role img, title, desc) with its data table. */
export function chartFigure(data: ChartData): Html {
  return html`<figure class="chart" id="${data.id}"><figcaption id="${data.id}-title">${data.title}</figcaption>
<svg viewBox="0 0 ${CHART_WIDTH} ${CHART_HEIGHT}" role="img" aria-labelledby="${data.id}-svg-title ${data.id}-desc" preserveAspectRatio="none">
<title id="${data.id}-svg-title">${data.title}</title><desc id="${data.id}-desc">${data.desc}</desc>
<line class="axis" x1="0" y1="${CHART_HEIGHT - PAD}" x2="${CHART_WIDTH}" y2="${CHART_HEIGHT - PAD}"></line>
${data.bars.map((b) => html`<rect class="bar ${data.id}" x="${b.x}" y="${b.y}" width="${b.width}" height="${b.height}"><title>${b.label}</title></rect>`)}</svg>
<details><summary>Data table</summary><table class="chart-data"><caption>${data.title}</caption><thead><tr><th scope="col">from (UTC)</th><th scope="col">${data.title.toLowerCase()}</th></tr></thead>
<tbody>${data.bars.map((b) => html`<tr><td>${b.from}</td><td>${b.value}</td></tr>`)}</tbody></table></details></figure>`;
}
