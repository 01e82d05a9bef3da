import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../src/chromium.js';
import type { Store, Task, TaskQuery } from '@taskmill/contracts';
import { openStoreForConnection } from '@taskmill/core';
import { serveDashboard, type RunningDashboard } from '@taskmill/dashboard';

/*
 * Screenshots of every dashboard page from the sample's database (issue 26): the sample app runs
 * as a child process into a fresh SQLite file, the dashboard serves that file, and headless
 * Chromium visits each GET page, light and dark, at desktop and phone width, writing
 * packages/e2e/screenshots/sample/<page>-<scheme>-<width>.png (docs/images/ holds the two the
 * README shows). Each visit asserts the page's heading and a task of the sample on it, the CSP
 * header without `unsafe-*`, no script or console error, and at phone width no horizontal
 * overflow of the document (and the failed task's page at most 3,000 px high, its stacks folded). SQLite only: it is the sample's default store, and dashboard.test.ts
 * covers the pages on every store.
 */

const SAMPLE_DIR = fileURLToPath(new URL('../../../apps/sample/', import.meta.url));
const SHOTS = fileURLToPath(new URL('../screenshots/sample/', import.meta.url));
const TOKEN = 'correct horse battery staple';
const WIDTHS = [
  { width: 1280, height: 900 },
  { width: 390, height: 844 },
] as const;
const SCHEMES = ['light', 'dark'] as const;

let dir = '';
let browser: Browser | undefined;
let store: Store | undefined;
let dashboard: RunningDashboard | undefined;

/** Run the sample (`pnpm sample` without pnpm) into `connection`; rejects unless it exits 0. */
function runSample(connection: string): Promise<void> {
  const child = spawn(process.execPath, ['--conditions=@taskmill/source', '--import', 'tsx', 'src/main.ts', '--quiet'], {
    cwd: SAMPLE_DIR,
    env: { ...process.env, TASKMILL_DB: connection },
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`the sample exited with ${code}: ${stderr}`))));
  });
}

beforeAll(async () => {
  browser = await launchChromium(); // first: a missing browser fails before the sample runs
  dir = mkdtempSync(join(tmpdir(), 'taskmill-sample-'));
  const connection = `sqlite:${join(dir, 'sample.db')}`;
  await runSample(connection);
  store = await openStoreForConnection(connection);
  dashboard = await serveDashboard({ store, actionsToken: TOKEN });
  rmSync(SHOTS, { recursive: true, force: true });
  mkdirSync(SHOTS, { recursive: true });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await dashboard?.close();
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The one task of the sample's showcase matching `query` (the test fails if there is none). */
async function one(query: TaskQuery): Promise<Task> {
  const { items } = await store!.queryTasks({ tag: 'showcase', limit: 1, ...query });
  if (!items[0]) throw new Error(`the sample left no task like ${JSON.stringify(query)}`);
  return items[0];
}

/** What the page functions below use of the browser's globals (this package has no DOM types). */
type Dom = { document: { body: unknown; documentElement: { scrollWidth: number; scrollHeight: number } }; getComputedStyle(element: unknown): { backgroundColor: string } };

interface Shot {
  /** The file name's first part. */
  name: string;
  /** The path after the dashboard's URL. */
  path: string;
  /** The page's heading. */
  heading: string | RegExp;
  /** Text of the sample that must be on the page. */
  text: string;
  /** A form field's selector and the value of the sample it must hold. */
  field?: [string, string];
  /** The most the page may measure, in px, at phone width (390 px): a page that is not a wall. */
  phoneHeight?: number;
}

/** Visit `shot` at every width and scheme: assert the page and write its screenshots. */
async function visit(page: Page, shot: Shot, errors: string[]): Promise<void> {
  for (const size of WIDTHS) {
    await page.setViewportSize(size);
    for (const colorScheme of SCHEMES) {
      await page.emulateMedia({ colorScheme });
      const response = await page.goto(`${dashboard!.url}${shot.path}`);
      const where = `${shot.name} (${colorScheme}, ${size.width} px)`;
      expect(response?.status(), where).toBe(200);
      const csp = response?.headers()['content-security-policy'] ?? '';
      expect(csp, where).toContain("default-src 'none'");
      expect(csp, where).not.toContain('unsafe');
      const heading = await page.locator('h1').innerText();
      if (typeof shot.heading === 'string') expect(heading, where).toBe(shot.heading);
      else expect(heading, where).toMatch(shot.heading);
      // textContent: text folded in a closed <details> (an event's metadata) is on the page too
      expect(await page.locator('main').textContent(), where).toContain(shot.text);
      if (shot.field) expect(await page.locator(shot.field[0]).inputValue(), where).toBe(shot.field[1]);
      // the scheme reached the page's colours: the dark background is dark, the light one light
      const background = await page.evaluate(() => { const w = globalThis as unknown as Dom; return w.getComputedStyle(w.document.body).backgroundColor; });
      const [r, g, b] = (background.match(/\d+/g) ?? []).map(Number);
      expect((r + g + b) / 3, `${where} background ${background}`)[colorScheme === 'dark' ? 'toBeLessThan' : 'toBeGreaterThan'](128);
      const scrollWidth = await page.evaluate(() => (globalThis as unknown as Dom).document.documentElement.scrollWidth);
      expect(scrollWidth, `${where}: the document is wider than the viewport`).toBeLessThanOrEqual(size.width);
      if (shot.phoneHeight && size.width < 600) {
        const scrollHeight = await page.evaluate(() => (globalThis as unknown as Dom).document.documentElement.scrollHeight);
        expect(scrollHeight, `${where}: the page is ${scrollHeight} px high`).toBeLessThanOrEqual(shot.phoneHeight);
      }
      await page.screenshot({ path: `${SHOTS}${shot.name}-${colorScheme}-${size.width}.png`, fullPage: true });
      expect(errors, where).toEqual([]);
    }
  }
}

describe('dashboard screenshots of the sample database (SQLite)', () => {
  test('every page, light and dark, at 1280 and 390 px', async () => {
    const completed = await one({ name: 'greet', status: 'completed' });
    const failed = await one({ name: 'doomed', status: 'permanently_failed' });
    const workflow = await one({ name: 'report' });
    const paused = await one({ name: 'greet', status: 'paused' });
    const scheduled = await one({ name: 'greet', status: 'pending' });
    const doomed = await store!.queryTasks({ name: 'doomed', status: 'permanently_failed' });
    expect(workflow.total_children).toBeGreaterThan(0);

    const bulk = new URLSearchParams({ action: 'retry', name: 'doomed', status: 'permanently_failed' });
    const shots: Shot[] = [
      // the overview once per chart window
      { name: 'overview', path: '', heading: 'Overview', text: 'greet' },
      { name: 'overview-15m', path: '?window=15m', heading: 'Overview', text: 'doomed' },
      { name: 'overview-1h', path: '?window=1h', heading: 'Overview', text: 'report' },
      { name: 'overview-24h', path: '?window=24h', heading: 'Overview', text: 'flaky' },
      { name: 'tasks', path: 'tasks', heading: 'Tasks', text: 'greet' },
      { name: 'tasks-failed', path: 'tasks?status=permanently_failed', heading: 'Tasks', text: 'doomed' },
      { name: 'task-completed', path: `tasks/${completed.id}`, heading: `Task #${completed.id} greet`, text: 'visitor' },
      { name: 'task-failed', path: `tasks/${failed.id}`, heading: `Task #${failed.id} doomed`, text: 'permanently_failed', phoneHeight: 3000 },
      { name: 'task-workflow', path: `tasks/${workflow.id}`, heading: `Task #${workflow.id} report`, text: 'count_words' },
      { name: 'workflow', path: `workflows/${workflow.id}`, heading: `Workflow of #${workflow.id} report`, text: 'count_words' },
      { name: 'workers', path: 'workers', heading: 'Workers', text: 'Workers' },
      { name: 'schedules', path: 'schedules', heading: 'Schedules', text: 'schedule' },
      { name: 'names-pause', path: 'names/pause?name=greet', heading: /^Pause a task name/, text: 'stay pending', field: ['input[name=name]', 'greet'] },
      { name: 'names-resume', path: 'names/resume?name=greet', heading: /^Resume a task name/, text: 'Task name', field: ['input[name=name]', 'greet'] },
      { name: 'bulk', path: `bulk?${bulk.toString()}`, heading: 'Bulk action', text: 'Count the tasks', field: ['input[name=name]', 'doomed'] },
      { name: 'bulk-confirm', path: `bulk/confirm?${bulk.toString()}`, heading: `retry ${doomed.total} task(s)?`, text: 'name doomed' },
      { name: 'bulk-done', path: `bulk/done?action=retry&changed=${doomed.total}&skipped=0&batches=1`, heading: 'Bulk action done', text: `${doomed.total} task(s) changed` },
      // the per-task confirmation of each action, on a task it applies to
      { name: 'confirm-retry', path: `tasks/${failed.id}/retry`, heading: `Retry task #${failed.id} doomed?`, text: 'doomed' },
      { name: 'confirm-resume', path: `tasks/${paused.id}/resume`, heading: `Resume task #${paused.id} greet?`, text: 'greet' },
      { name: 'confirm-pause', path: `tasks/${scheduled.id}/pause`, heading: `Pause task #${scheduled.id} greet?`, text: 'greet' },
      { name: 'confirm-cancel', path: `tasks/${scheduled.id}/cancel`, heading: `Cancel task #${scheduled.id} greet?`, text: 'greet' },
    ];

    const page = await browser!.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
    // a CSP violation is reported on the console as an error
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(`console: ${message.text()} at ${message.location().url}`);
    });
    page.on('dialog', (dialog) => {
      errors.push(`dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
    try {
      for (const shot of shots) await visit(page, shot, errors);
    } finally {
      await page.close();
    }
    // looking wrote nothing: the confirmation pages are GETs
    expect((await store!.getTask(failed.id))?.status).toBe('permanently_failed');
    expect((await store!.getTask(paused.id))?.status).toBe('paused');
    expect((await store!.getTask(scheduled.id))?.status).toBe('pending');
  }, 120_000);
});
