import { mkdirSync } from 'node:fs';
import { createServer, request, type OutgoingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../src/chromium.js';
import { NEW_TASK_DEFAULTS, type Store } from '@taskmill/contracts';
import type { TaskManager } from '@taskmill/core';
import { createDashboard, serveDashboard, type RunningDashboard } from '@taskmill/dashboard';
import { sharedBackends } from '../src/backends.js';
import { describeBackends, waitFor, waitForStatus } from '../src/harness.js';

/*
 * The web dashboard driven by a real headless Chromium (Debian's chromium through playwright-core)
 * on every store: the overview, a task page, a workflow page with its critical path, a paused →
 * resumed task through the UI with the actions token, refused actions (no token, wrong token,
 * cross-site), and hostile text rendered as text. Screenshots of each page go to
 * packages/e2e/screenshots/<store>-<page>.png.
 */

const SHOTS = fileURLToPath(new URL('../screenshots/', import.meta.url));
const TOKEN = 'correct horse battery staple';
const HOSTILE_TAG = '<script>alert(1)</script>';
const HOSTILE_TEXT = '"><img src=x onerror=alert(1)>';
const HOSTILE_NAME = `fails ${HOSTILE_TEXT}`;
/** A new task's fields as the store takes them (defaults of docs/behaviour.md#enqueueing). */
const NEW_TASK = {
  type: 'async' as const,
  payload: null,
  priority: 0,
  tag: null,
  timeout: 60,
  max_retries: 1,
  retry_interval: 0,
  cron_expr: null,
  cron_tz: null,
  ...NEW_TASK_DEFAULTS,
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let browser: Browser | undefined;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

/** A page that records every dialog (an alert() of injected script would open one) and every script error. */
async function openPage(): Promise<{ page: Page; dialogs: string[] }> {
  const page = await browser!.newPage();
  const dialogs: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  return { page, dialogs };
}

/** root → fast (10 ms), slow (spawns leaf: 150 ms); the critical path is root → slow → leaf. */
async function workflow(tm: TaskManager<any>): Promise<number> {
  tm.use('fast', async () => {
    await sleep(10);
    return 'fast';
  });
  tm.use('slow', async (task, next) => (task.stage === 0 ? next([{ name: 'leaf', payload: {} }]) : 'slow'));
  tm.use('leaf', async () => {
    await sleep(150);
    return 'leaf';
  });
  tm.use('root', (task, next) => (task.stage === 0 ? next([{ name: 'fast', payload: {} }, { name: 'slow', payload: {} }]) : 'done'));
  return tm.async('root', {});
}

/**
 * One raw HTTP request (node:http sends only the headers given, plus Host and, with a body,
 * Content-Length), as a non-browser client such as curl would: its status and body.
 */
function raw(url: string, { method = 'GET', headers = {}, body }: { method?: string; headers?: OutgoingHttpHeaders; body?: string } = {}): Promise<{ status: number; body: string }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: target.hostname, port: target.port, path: target.pathname + target.search, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A form POST of the actions token, with the given extra headers. */
function postToken(url: string, headers: OutgoingHttpHeaders): Promise<{ status: number; body: string }> {
  return raw(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ token: TOKEN }).toString(),
  });
}

describeBackends('dashboard over plain HTTP', sharedBackends(), (env) => {
  env.test('an action POST with neither Origin nor Sec-Fetch-Site is refused even with the token; with an Origin of the host it runs', async () => {
    const tm = await env.isolated();
    tm.use('later', () => null);
    const id = await tm.async('later', {}, { delay: 3600 });
    const store: Store = await env.db().openPeerStore();
    const dashboard = await serveDashboard({ store, actionsToken: TOKEN });
    try {
      const host = new URL(dashboard.url).host;
      const bare = await postToken(`${dashboard.url}tasks/${id}/pause`, {});
      expect(bare.status).toBe(403);
      expect(bare.body).toContain('Neither Origin nor Sec-Fetch-Site');
      expect((await store.getTask(id))?.status).toBe('pending');
      const otherPort = await postToken(`${dashboard.url}tasks/${id}/pause`, { Origin: 'http://127.0.0.1:1' });
      expect(otherPort.status).toBe(403);
      expect((await store.getTask(id))?.status).toBe('pending');

      // curl -H "Origin: http://127.0.0.1:<port>" -d token=… : the same origin, so it runs
      const withOrigin = await postToken(`${dashboard.url}tasks/${id}/pause`, { Origin: `http://${host}` });
      expect(withOrigin.status).toBe(303);
      expect((await store.getTask(id))?.status).toBe('paused');
      // a browser that sends only Sec-Fetch-Site: same-origin
      const fetchSite = await postToken(`${dashboard.url}tasks/${id}/resume`, { 'Sec-Fetch-Site': 'same-origin' });
      expect(fetchSite.status).toBe(303);
      expect((await store.getTask(id))?.status).toBe('pending');
    } finally {
      await dashboard.close();
      await store.close();
    }
  });

  env.test('the schedules page lists each managed schedule with its expression or interval, status and task; the nav links to it', async () => {
    const tm = await env.isolated();
    const nightly = await tm.schedule('report', 'nightly', { cron: '0 3 * * *', tz: 'Europe/Paris' });
    const tick = await tm.schedule('sync-tenant', 'tenant-<42>', { every: 300 });
    const store: Store = await env.db().openPeerStore();
    const dashboard = await serveDashboard({ store });
    try {
      const { status, body } = await raw(`${dashboard.url}schedules`);
      expect(status).toBe(200);
      expect(body).toContain('<title>Schedules · taskmill</title>');
      expect(body).toContain('2 schedules.');
      expect(body).toContain(`<td>nightly</td><td>report</td><td>0 3 * * * (Europe/Paris)</td>`);
      expect(body).toContain(`<a href="/tasks/${nightly.task_id}">#${nightly.task_id}</a>`);
      // values are escaped
      expect(body).toContain(`<td>tenant-&#60;42&#62;</td><td>sync-tenant</td><td>every 300s</td>`);
      expect(body).toContain(`<a href="/tasks/${tick.task_id}">`);
      expect((await raw(dashboard.url)).body).toContain('<a href="/schedules">Schedules</a>');
      await tm.unschedule('report', 'nightly');
      expect((await raw(`${dashboard.url}schedules`)).body).toContain('1 schedule.');
      expect((await raw(`${dashboard.url}schedules?cursor=bogus`)).status).toBe(409);
    } finally {
      await dashboard.close();
      await store.close();
    }
  });

  env.test('a mounted createDashboard without allowedHosts answers only loopback host names; serveDashboard also its own address', async () => {
    await env.isolated();
    const store: Store = await env.db().openPeerStore();
    const mounted = createDashboard({ store, basePath: '/taskmill' });
    const named = createDashboard({ store, basePath: '/named', allowedHosts: ['dash.internal'] });
    const server = createServer((req, res) => void (req.url?.startsWith('/named') ? named(req, res) : mounted(req, res)));
    const own = await serveDashboard({ store, host: '127.0.0.2' });
    try {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      const at = (host: string, path = '/taskmill/') => raw(`http://127.0.0.1:${port}${path}`, { headers: { Host: host } }).then((r) => r.status);
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`, 'localhost']) {
        expect(await at(host), host).toBe(200);
      }
      for (const host of [`evil.example:${port}`, `localhost.evil.example:${port}`, `dash.internal:${port}`]) {
        expect(await at(host), host).toBe(421);
      }
      // allowedHosts replaces the default
      expect(await at(`dash.internal:${port}`, '/named/')).toBe(200);
      expect(await at(`localhost:${port}`, '/named/')).toBe(421);

      // serveDashboard on an address of its own: that address and the loopback names, nothing else
      const ownPort = new URL(own.url).port;
      const atOwn = (host: string) => raw(own.url, { headers: { Host: host } }).then((r) => r.status);
      expect(await atOwn(`127.0.0.2:${ownPort}`)).toBe(200);
      expect(await atOwn(`localhost:${ownPort}`)).toBe(200);
      expect(await atOwn(`evil.example:${ownPort}`)).toBe(421);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await own.close();
      await store.close();
    }
  });
});

describeBackends('dashboard task page of waiting tasks', sharedBackends(), (env) => {
  env.test('a sleeping task shows when it wakes, a signal wait what it waits for, and a resumed one the signal it received', async () => {
    const tm = await env.isolated();
    tm.use('sleeper', (task) => (task.stage === 0 ? task.sleep(3600) : null));
    tm.use('waiter', (task) => (task.stage === 0 ? task.waitForSignal('approved') : task.stage === 1 ? task.waitForSignal('approved', { timeout: 3600 }) : null));
    const [sleeper, waiter] = [await tm.async('sleeper'), await tm.async('waiter')];
    await tm.start();
    await waitForStatus(tm, sleeper, 'suspended');
    await waitForStatus(tm, waiter, 'suspended');
    const store: Store = await env.db().openPeerStore();
    const dashboard = await serveDashboard({ store });
    try {
      const pageOf = async (id: number) => (await raw(`${dashboard.url}tasks/${id}`)).body;
      expect(await pageOf(sleeper)).toMatch(/<dd id="waiting">sleep until <[^>]+>in (59|60) min/);
      expect(await pageOf(waiter)).toMatch(/<dd id="waiting">signal <code>approved<\/code> \(no timeout\)<\/dd>/);
      await tm.signal(waiter, 'approved', { by: 'ana' });
      await waitFor(async () => (await tm.getTask(waiter))?.stage === 1 && (await tm.getTask(waiter))?.status === 'suspended', { what: 'the second wait' });
      const second = await pageOf(waiter);
      expect(second).toMatch(/<dd id="waiting">signal <code>approved<\/code>, timeout <[^>]+>in (59|60) min/);
      expect(second).not.toMatch(/id="received-signal"/); // cleared while the next signal wait is on
      await tm.signal(waiter, 'approved', { by: 'bo' });
      await waitForStatus(tm, waiter, 'completed');
      const done = await pageOf(waiter);
      expect(done).not.toMatch(/id="waiting"/);
      expect(done).toMatch(/<pre id="received-signal">[^<]*&#34;by&#34;: &#34;bo&#34;/);
    } finally {
      await dashboard.close();
      await store.close();
    }
  });
});

describeBackends('web dashboard in Chromium', sharedBackends(), (env) => {
  env.test(
    'overview, task and workflow pages, actions with the token, refused actions, hostile text as text',
    async () => {
      const tm = await env.isolated();
      const store: Store = await env.db().openPeerStore();
      const name = env.backend.name.replace(/[^a-z0-9]+/gi, '-');
      tm.use('hostile', () => {
        throw new Error(`boom ${HOSTILE_TEXT}`);
      });
      tm.use('later', () => null);
      const root = await workflow(tm);
      const hostile = await tm.async('hostile', { note: HOSTILE_TEXT }, { tag: HOSTILE_TAG, max_retries: 1 });
      const later = await tm.async('later', {}, { delay: 3600 });
      // 202 tasks in one workflow
      tm.use('wide', (task, next) => (task.stage === 0 ? next(Array.from({ length: 201 }, () => ({ name: 'wide-child', payload: {} }))) : 'done'));
      tm.use('wide-child', () => null);
      const wide = await tm.async('wide', {});
      await tm.start();
      await waitForStatus(tm, root, 'completed', 30_000);
      await waitForStatus(tm, wide, 'completed', 30_000);
      await waitForStatus(tm, hostile, 'permanently_failed');
      // stopped, so a resumed task stays pending for the checks below (the worker stays in the registry)
      await tm.stop();

      const dashboard: RunningDashboard = await serveDashboard({ store, actionsToken: TOKEN });
      const readOnly: RunningDashboard = await serveDashboard({ store });
      const { page, dialogs } = await openPage();
      try {
        expect(dashboard.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);

        // overview
        await page.goto(dashboard.url);
        expect(await page.title()).toBe('Overview · taskmill');
        const byStatus = await page.locator('#by-status').innerText();
        expect(byStatus).toMatch(/completed/);
        expect(await page.locator('#by-name').innerText()).toMatch(/root/);
        await page.screenshot({ path: `${SHOTS}${name}-overview.png`, fullPage: true });

        // a task page with hostile text: rendered literally, nothing injected, nothing ran
        await page.goto(`${dashboard.url}tasks/${hostile}`);
        expect(await page.locator('#status').innerText()).toBe('permanently_failed');
        expect(await page.locator('#tag').innerText()).toBe(HOSTILE_TAG);
        expect(await page.locator('#payload').innerText()).toContain(HOSTILE_TEXT.replace(/"/g, '\\"'));
        expect(await page.locator('#error').innerText()).toContain(`boom ${HOSTILE_TEXT}`);
        expect(await page.locator('img').count()).toBe(0);
        // the one script is the dashboard's own file, none inline
        expect(await page.locator('script').evaluateAll((all) => all.map((s) => [s.getAttribute('src'), s.textContent]))).toEqual([['/assets/live.js', '']]);
        expect(await page.locator('#events tr').count()).toBeGreaterThan(2);
        expect(await page.locator('#attempts').innerText()).toMatch(/failed/);
        await page.screenshot({ path: `${SHOTS}${name}-task.png`, fullPage: true });

        // the task list, searched by the hostile tag, and by id
        await page.goto(`${dashboard.url}tasks?q=${encodeURIComponent(HOSTILE_TAG)}`);
        expect(await page.locator('#tasks').innerText()).toContain(HOSTILE_TAG);
        expect(await page.locator('#tasks a').first().innerText()).toBe(`#${hostile}`);
        await page.screenshot({ path: `${SHOTS}${name}-tasks.png`, fullPage: true });
        await page.goto(`${dashboard.url}tasks?q=${root}`);
        expect(page.url()).toBe(`${dashboard.url}tasks/${root}`);

        // the workflow page: tree and critical path root → slow → leaf
        await page.click('#workflow-link');
        expect(page.url()).toBe(`${dashboard.url}workflows/${root}`);
        expect(await page.locator('#tree li').count()).toBe(4);
        const path = await page.locator('#critical-path li').allInnerTexts();
        expect(path.map((line) => line.split(' #')[0])).toEqual(['root', 'slow', 'leaf']);
        expect(await page.locator('#critical-path-timeline rect').count()).toBe(3);
        // every task on one timeline: the root ran, was suspended for its children, and ran again; the critical path marked
        const rows = page.locator('#workflow-timeline g.timeline-row');
        expect(await rows.count()).toBe(4);
        const rootRow = page.locator(`#workflow-timeline g[data-task="${root}"]`);
        expect(await rootRow.locator('rect.seg-running').count()).toBe(2);
        expect(await rootRow.locator('rect.seg-suspended').count()).toBe(1);
        expect(await page.locator('#workflow-timeline g.cp text').allTextContents()).toEqual(expect.arrayContaining([`★ root #${root}`]));
        expect(await page.locator('#workflow-timeline g.cp').count()).toBe(3);
        expect(await page.locator('#workflow-timeline g:not(.cp) text').allTextContents()).toEqual([expect.stringMatching(/^fast #\d+$/)]);
        expect(await page.locator('#timeline-table').textContent()).toMatch(/suspended \d/);
        await page.screenshot({ path: `${SHOTS}${name}-workflow.png`, fullPage: true });
        // a wide workflow's timeline comes in pages of 200 tasks
        await page.goto(`${dashboard.url}workflows/${wide}`);
        expect(await page.locator('#workflow-timeline g.timeline-row').count()).toBe(200);
        await page.click('#timeline-next');
        expect(page.url()).toBe(`${dashboard.url}workflows/${wide}?page=2`);
        expect(await page.locator('#workflow-timeline g.timeline-row').count()).toBe(2);
        expect(await page.locator('#timeline-next').count()).toBe(0);
        expect(await page.locator('#timeline-prev').count()).toBe(1);
        expect((await page.request.get(`${dashboard.url}workflows/${wide}?page=0`)).status()).toBe(400);

        // pause → resume through the UI, confirmed with the token
        await page.goto(`${dashboard.url}tasks/${later}`);
        await page.click('#actions >> text=Pause');
        await page.fill('input[name=token]', TOKEN);
        await Promise.all([page.waitForURL(`${dashboard.url}tasks/${later}`, { timeout: 10_000 }), page.click('#confirm-button')]);
        expect(await page.locator('#status').innerText()).toBe('paused');
        expect((await store.getTask(later))?.status).toBe('paused');
        await page.screenshot({ path: `${SHOTS}${name}-paused.png`, fullPage: true });
        await page.click('#actions >> text=Resume');
        await page.fill('input[name=token]', TOKEN);
        await Promise.all([page.waitForURL(`${dashboard.url}tasks/${later}`, { timeout: 10_000 }), page.click('#confirm-button')]);
        expect(await page.locator('#status').innerText()).toBe('pending');
        expect((await store.getTask(later))?.status).toBe('pending');

        // refused: a wrong token, a cross-site form post, and any action on the read-only dashboard
        await page.goto(`${dashboard.url}tasks/${later}/pause`);
        await page.fill('input[name=token]', 'not the token');
        await Promise.all([page.waitForLoadState('load'), page.click('#confirm-button')]);
        await page.locator('#message').waitFor();
        expect(await page.locator('#message').innerText()).toBe('Wrong or missing actions token.');
        const crossSite = await page.request.post(`${dashboard.url}tasks/${later}/pause`, {
          form: { token: TOKEN },
          headers: { Origin: 'http://evil.example' },
          maxRedirects: 0,
        });
        expect(crossSite.status()).toBe(403);
        expect(await crossSite.text()).toContain('Cross-site request refused.');
        const noToken = await page.request.post(`${readOnly.url}tasks/${later}/pause`, { form: { token: TOKEN }, maxRedirects: 0 });
        expect(noToken.status()).toBe(403);
        await page.goto(`${readOnly.url}tasks/${later}`);
        expect(await page.locator('#actions').innerText()).toBe('Read-only dashboard: no actions.');
        await page.screenshot({ path: `${SHOTS}${name}-read-only.png`, fullPage: true });
        expect((await store.getTask(later))?.status).toBe('pending');

        // DNS rebinding: a request naming another host is refused, even for reading
        const rebound = await new Promise<number>((resolve, reject) => {
          const target = new URL(dashboard.url);
          request({ host: target.hostname, port: target.port, path: `/tasks/${hostile}`, headers: { Host: `evil.example:${target.port}` } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
            .on('error', reject)
            .end();
        });
        expect(rebound).toBe(421);
        await page.goto(dashboard.url.replace('127.0.0.1', 'localhost'));
        expect(await page.title()).toBe('Overview · taskmill');

        // security headers on every page
        const response = await page.request.get(dashboard.url);
        expect(response.headers()['content-security-policy']).toContain("default-src 'none'");
        expect(response.headers()['content-security-policy']).not.toContain('unsafe');
        expect(response.headers()['x-frame-options']).toBe('DENY');

        // workers page
        await page.goto(`${dashboard.url}workers`);
        expect(await page.locator('#workers').innerText()).toContain(tm.options.worker_id);
        await page.screenshot({ path: `${SHOTS}${name}-workers.png`, fullPage: true });

        expect(dialogs).toEqual([]);
      } finally {
        await page.close();
        await dashboard.close();
        await readOnly.close();
        await store.close();
      }
    },
    120_000,
  );
});

describeBackends('dashboard flow control in Chromium', sharedBackends(), (env) => {
  env.test(
    'the overview shows paused and limited names with their waiting tasks; a name is paused and resumed with the token; a hostile name is text',
    async () => {
      const tm = await env.isolated();
      const store: Store = await env.db().openPeerStore();
      tm.use('send', { handler: () => null, rate_limit: { max: 1, per: 3600 } });
      tm.use('mail', () => null);
      const sends = await tm.asyncMany([{ name: 'send' }, { name: 'send' }, { name: 'send' }]);
      const mail = await tm.async('mail', {});
      await tm.start();
      const dashboard: RunningDashboard = await serveDashboard({ store, actionsToken: TOKEN });
      const readOnly: RunningDashboard = await serveDashboard({ store });
      const { page, dialogs } = await openPage();
      try {
        await waitForStatus(tm, mail, 'completed');
        // one send an hour: one ran, two wait for the window
        await waitForStatus(tm, sends[0], 'completed');
        await page.goto(dashboard.url);
        expect(await page.locator('#limited-names').innerText()).toMatch(/send\s+rate 1\/3600s\s+2/);
        expect(await page.locator('#no-paused-names').innerText()).toBe('No name is paused.');

        // pause `mail` through the form, with the token
        await page.click('#pause-name-link');
        await page.fill('input[name=name]', 'mail');
        await page.fill('input[name=reason]', `outage ${HOSTILE_TEXT}`);
        await page.fill('input[name=token]', TOKEN);
        await Promise.all([page.waitForURL(dashboard.url, { timeout: 10_000 }), page.click('#confirm-button')]);
        expect((await store.listPausedNames()).map((p) => [p.name, p.paused_by, p.reason])).toEqual([['mail', 'dashboard', `outage ${HOSTILE_TEXT}`]]);
        const held = await tm.async('mail', {});
        await page.reload();
        expect(await page.locator('#paused-names').innerText()).toMatch(/mail/);
        expect(await page.locator('#paused-names').innerText()).toContain(`outage ${HOSTILE_TEXT}`);
        expect(await page.locator('img').count()).toBe(0);
        await sleep(300);
        expect((await tm.getTask(held))?.status).toBe('pending');
        await page.screenshot({ path: `${SHOTS}${env.backend.name.replace(/[^a-z0-9]+/gi, '-')}-flow.png`, fullPage: true });

        // refused: a wrong token, a cross-site post, the read-only dashboard, a bad name (nothing written)
        const before = await store.listPausedNames();
        await page.goto(`${dashboard.url}names/pause?name=other`);
        await page.fill('input[name=token]', 'not the token');
        await Promise.all([page.waitForLoadState('load'), page.click('#confirm-button')]);
        expect(await page.locator('#message').innerText()).toBe('Wrong or missing actions token.');
        const crossSite = await page.request.post(`${dashboard.url}names/pause`, { form: { token: TOKEN, name: 'other' }, headers: { Origin: 'http://evil.example' }, maxRedirects: 0 });
        expect(crossSite.status()).toBe(403);
        const readOnlyPost = await page.request.post(`${readOnly.url}names/pause`, { form: { token: TOKEN, name: 'other' }, maxRedirects: 0 });
        expect(readOnlyPost.status()).toBe(403);
        const badName = await page.request.post(`${dashboard.url}names/pause`, { form: { token: TOKEN, name: '' }, headers: { Origin: new URL(dashboard.url).origin }, maxRedirects: 0 });
        expect(badName.status()).toBe(409);
        expect(await store.listPausedNames()).toEqual(before);
        await page.goto(readOnly.url);
        expect(await page.locator('#pause-name-link').count()).toBe(0);

        // resume from the overview's row
        await page.goto(dashboard.url);
        await page.click('#paused-names >> text=Resume');
        await page.fill('input[name=token]', TOKEN);
        await Promise.all([page.waitForURL(dashboard.url, { timeout: 10_000 }), page.click('#confirm-button')]);
        expect(await store.listPausedNames()).toEqual([]);
        await waitForStatus(tm, held, 'completed', 10_000);
        expect((await store.queryNameEvents({})).items.map((e) => [e.event_type, (e.metadata as { by: string }).by])).toEqual([
          ['name_paused', 'dashboard'],
          ['name_resumed', 'dashboard'],
        ]);
        expect(dialogs).toEqual([]);
      } finally {
        await page.close();
        await dashboard.close();
        await readOnly.close();
        await tm.stop();
        await store.close();
      }
    },
    120_000,
  );
});

describeBackends('dashboard bulk actions in Chromium', sharedBackends(), (env) => {
  env.test(
    'a bulk action from the task list: the form, a confirmation with the count (nothing written), then the POST with the token; refusals write nothing',
    async () => {
      const tm = await env.isolated();
      const store: Store = await env.db().openPeerStore();
      tm.use('mail', () => null);
      tm.use('other', () => null);
      const mails = await tm.asyncMany([{ name: 'mail' }, { name: 'mail' }, { name: 'mail', options: { tag: HOSTILE_TAG } }]);
      const other = await tm.async('other', {});
      const dashboard: RunningDashboard = await serveDashboard({ store, actionsToken: TOKEN });
      const readOnly: RunningDashboard = await serveDashboard({ store });
      const { page, dialogs } = await openPage();
      const statuses = async () => (await Promise.all([...mails, other].map((id) => tm.getTask(id)))).map((t) => t?.status);
      try {
        await page.goto(`${dashboard.url}tasks?name=mail`);
        await page.click('#bulk-link');
        expect(await page.inputValue('input[name=name]')).toBe('mail');
        await page.selectOption('#bulk-action', 'pause');
        await page.click('#bulk-preview');
        expect(await page.locator('#bulk-count').innerText()).toMatch(/^3 task\(s\) in running, pending, failed, timeout match: name mail\.$/);
        expect(await statuses()).toEqual(['pending', 'pending', 'pending', 'pending']);
        await page.screenshot({ path: `${SHOTS}${env.backend.name.replace(/[^a-z0-9]+/gi, '-')}-bulk-confirm.png`, fullPage: true });

        // refused: a wrong token, a cross-site post, the read-only dashboard, an empty filter without "all"
        const confirmUrl = page.url();
        await page.fill('input[name=token]', 'not the token');
        await Promise.all([page.waitForLoadState('load'), page.click('#confirm-button')]);
        expect(await page.locator('#message').innerText()).toBe('Wrong or missing actions token.');
        const form = { token: TOKEN, action: 'cancel', name: 'mail' };
        const crossSite = await page.request.post(`${dashboard.url}bulk`, { form, headers: { Origin: 'http://evil.example' }, maxRedirects: 0 });
        expect(crossSite.status()).toBe(403);
        expect((await page.request.post(`${readOnly.url}bulk`, { form, maxRedirects: 0 })).status()).toBe(403);
        expect((await page.request.get(`${readOnly.url}bulk`)).status()).toBe(403);
        const origin = { Origin: new URL(dashboard.url).origin };
        const unfiltered = await page.request.post(`${dashboard.url}bulk`, { form: { token: TOKEN, action: 'cancel' }, headers: origin, maxRedirects: 0 });
        expect(unfiltered.status()).toBe(409);
        expect(await unfiltered.text()).toContain('pass all: true');
        const badDate = await page.request.get(`${dashboard.url}bulk/confirm?action=cancel&created_before=yesterday`);
        expect(badDate.status()).toBe(409);
        expect(await statuses()).toEqual(['pending', 'pending', 'pending', 'pending']);

        // confirmed with the token: the three mails are paused, the other task is not
        await page.goto(confirmUrl);
        await page.fill('input[name=token]', TOKEN);
        await Promise.all([page.waitForURL(/\/bulk\/done\?/, { timeout: 30_000 }), page.click('#confirm-button')]);
        expect(await page.locator('#bulk-result').innerText()).toBe('pause: 3 task(s) changed, 0 skipped, in 1 batch(es).');
        expect(await statuses()).toEqual(['paused', 'paused', 'paused', 'pending']);
        const paused = (await tm.getTaskEvents(mails[2])).find((e) => e.event_type === 'task_paused');
        expect(paused?.metadata).toMatchObject({ bulk: true });
        // and resumed again from the form, every task the action applies to
        await page.goto(`${dashboard.url}bulk?action=resume&all=on`);
        await page.click('#bulk-preview');
        expect(await page.locator('#bulk-count').innerText()).toMatch(/^3 task\(s\) in .* match: every task\.$/);
        await page.fill('input[name=token]', TOKEN);
        await Promise.all([page.waitForURL(/\/bulk\/done\?/, { timeout: 30_000 }), page.click('#confirm-button')]);
        expect(await statuses()).toEqual(['pending', 'pending', 'pending', 'pending']);
        expect(dialogs).toEqual([]);
      } finally {
        await page.close();
        await dashboard.close();
        await readOnly.close();
        await store.close();
      }
    },
    120_000,
  );
});

/** The little of the page's DOM the tests read inside the page (the e2e package compiles without the DOM library). */
type DomElement = { textContent: string | null; getAttribute(name: string): string | null };
type Dom = {
  document: { querySelector(selector: string): DomElement | null; activeElement: DomElement | null; documentElement: { scrollWidth: number } };
  getComputedStyle(element: unknown): { backgroundColor: string };
};

/** `n` tasks of `name` due at `due`, claimed at `start` and finished at `end` (completed, or failed for good), through the store with these times. */
async function history(store: Store, name: string, n: number, times: { due: number; start: number; end: number }, outcome: 'completed' | 'failed'): Promise<void> {
  const ids = await store.createTasks(
    Array.from({ length: n }, () => ({ ...NEW_TASK, name, next_run_time: times.due })),
    times.due,
  );
  const claimed = await store.claimTasks({ worker_id: 'w-history', now: times.start, limit: n, names: [name] });
  expect(claimed.map((t) => t.id).sort((a, b) => a - b)).toEqual(ids);
  for (const task of claimed) {
    const fence = { task_id: task.id, worker_id: 'w-history', attempt: task.attempt };
    await store.finishAttempt(fence, outcome === 'completed' ? { kind: 'completed', result: null } : { kind: 'failed', status: 'failed', error: `boom ${HOSTILE_TEXT}` }, times.end);
  }
}

/** The values of a chart's data table, oldest bucket first. */
function chartValues(page: Page, id: string): Promise<string[]> {
  return page.locator(`#${id} tbody tr td:nth-child(2)`).allTextContents();
}

describeBackends('live dashboard in Chromium', sharedBackends(), (env) => {
  env.test(
    'queue health and charts against known data, a live update without a reload, badges and relative times, keyboard actions, hostile names as text, light and dark at desktop and phone widths',
    async () => {
      await env.isolated();
      const store: Store = await env.db().openPeerStore();
      const shot = `${SHOTS}${env.backend.name.replace(/[^a-z0-9]+/gi, '-')}-live`;
      // known history on the database's clock: in the 15 min window's 1-min buckets, which end with
      // the current minute (the page is read within seconds: wait for a minute's first 40 s),
      // 3 completions and 2 failures end in bucket 9 and 1 completion in 13
      let ref = 0;
      await waitFor(async () => (ref = await store.serverTime()) % 60_000 < 40_000, { what: 'the first 40 s of a minute', timeout: 30_000, interval: 250 });
      const minute = ref - (ref % 60_000);
      await history(store, 'chart', 3, { due: minute - 355_000, start: minute - 295_000, end: minute - 285_000 }, 'completed');
      await history(store, HOSTILE_NAME, 2, { due: minute - 355_000, start: minute - 295_000, end: minute - 285_000 }, 'failed');
      await history(store, 'chart', 1, { due: minute - 60_000, start: minute - 55_000, end: minute - 50_000 }, 'completed');
      const [later] = await store.createTasks([{ ...NEW_TASK, name: 'later', next_run_time: ref + 3_600_000 }], ref);

      const dashboard = await serveDashboard({ store, actionsToken: TOKEN, refreshSeconds: 1 });
      const { page, dialogs } = await openPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      try {
        const response = await page.goto(`${dashboard.url}?window=15m`);
        const csp = response!.headers()['content-security-policy'];
        expect(csp).toContain("script-src 'self'");
        expect(csp).toContain("connect-src 'self'");
        expect(csp).not.toContain('unsafe');
        expect(await page.locator('#window-15m').getAttribute('aria-current')).toBe('page');

        // the charts' data tables and bars
        const zeros = (n: number) => Array.from({ length: n }, () => '0');
        expect(await chartValues(page, 'chart-completed')).toEqual([...zeros(9), '3', ...zeros(3), '1', '0']);
        expect(await chartValues(page, 'chart-failed')).toEqual([...zeros(9), '2', ...zeros(5)]);
        const waits = await chartValues(page, 'chart-wait');
        // a wait is read as the middle of its bin of at most 5% (5,000 ms of [5,000, 5,100) as 5,050)
        expect([waits[9], waits[13]]).toEqual(['1 min', '5.1 s']);
        expect(waits.filter((w, i) => i !== 9 && i !== 13).every((w) => w === '–')).toBe(true);
        const heights = await page.locator('#chart-completed rect').evaluateAll((all) => all.map((r) => Number(r.getAttribute('height'))));
        expect(heights).toHaveLength(15);
        expect(heights[13]).toBeCloseTo(heights[9] / 3, 0);
        expect(heights.filter((h, i) => i !== 9 && i !== 13).every((h) => h === 0)).toBe(true);
        expect(await page.locator('#chart-completed svg').getAttribute('role')).toBe('img');
        expect(await page.locator('#chart-completed desc').textContent()).toMatch(/^Completions per 1 min from .* peak 3\.$/);

        // queue health per name; the hostile name is text
        const row = (name: string) => page.locator('#health-rows tr').filter({ has: page.locator('th', { hasText: name }) });
        expect(await row('chart').locator('td').allTextContents()).toEqual(['0', '0', '0', '0', '', '4', '0', '1 min', '1 min', '10.5 s', '10.5 s']);
        expect(await row('later').locator('td').allTextContents()).toEqual(['1', '0', '0', '0', '', '0', '0', '', '', '', '']);
        expect(await page.locator('#health-rows th').allTextContents()).toEqual(['chart', HOSTILE_NAME, 'later']);
        const hostileRow = page.locator('#health-rows tr').nth(1);
        expect(await hostileRow.getAttribute('class')).toBe('alert');
        expect(await hostileRow.locator('td').nth(3).textContent()).toBe('2');
        expect(await page.locator('img').count()).toBe(0);

        // badges: colour and text
        expect(await page.locator('#by-status th .badge-bad').allTextContents()).toEqual(['failed', 'timeout', 'permanently_failed']);

        // a live update arrives without a reload
        await page.evaluate(() => ((globalThis as unknown as { notReloaded: boolean }).notReloaded = true));
        const completed = page.locator('#by-status [data-count=completed]');
        expect(await completed.textContent()).toBe('4');
        const now = await store.serverTime();
        await history(store, 'chart', 1, { due: now, start: now, end: now }, 'completed');
        await page.waitForFunction(() => (globalThis as unknown as Dom).document.querySelector('#by-status [data-count=completed]')?.textContent === '5', undefined, { timeout: 15_000 });
        await waitFor(async () => (await row('chart').locator('td').nth(5).textContent()) === '5', { what: 'the health row updated in place' });
        expect(await page.evaluate(() => (globalThis as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
        expect(await page.locator('#live-status').textContent()).toMatch(/^Live: updated \d\d:\d\d:\d\d UTC$/);
        expect(await page.locator('#health-rows th').allTextContents()).toContain(HOSTILE_NAME);
        expect(await page.locator('img').count()).toBe(0);

        // screenshots, light and dark, desktop and phone
        for (const scheme of ['light', 'dark'] as const) {
          await page.emulateMedia({ colorScheme: scheme });
          for (const [label, width] of [['desktop', 1280], ['phone', 390]] as const) {
            await page.setViewportSize({ width, height: 900 });
            // nothing wider than the viewport but the tables' own scroll boxes
            expect(await page.evaluate(() => (globalThis as unknown as Dom).document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
            await page.screenshot({ path: `${shot}-overview-${scheme}-${label}.png`, fullPage: true });
          }
        }
        await page.emulateMedia({ colorScheme: 'dark' });
        expect(await page.locator('body').evaluate((body) => (globalThis as unknown as Dom).getComputedStyle(body).backgroundColor)).toBe('rgb(18, 22, 28)');
        await page.emulateMedia({ colorScheme: 'light' });
        await page.setViewportSize({ width: 1280, height: 900 });

        // a task page: its badge, relative times with the absolute one on hover
        await page.goto(`${dashboard.url}tasks/${later}`);
        expect(await page.locator('#status').getAttribute('class')).toBe('badge badge-wait');
        const due = page.locator('#task time').nth(1);
        expect(await due.textContent()).toMatch(/^in (59|60) min$/);
        expect(await due.getAttribute('title')).toBe(`${new Date(ref + 3_600_000).toISOString().replace('T', ' ').replace('Z', '')} UTC`);

        // keyboard only: Tab to Pause, Enter; Tab to the token, type it, Enter
        const tabTo = async (check: () => boolean | Promise<boolean>, what: string) => {
          for (let i = 0; i < 40; i++) {
            await page.keyboard.press('Tab');
            if (await check()) return;
          }
          throw new Error(`Tab never reached ${what}`);
        };
        await tabTo(() => page.evaluate(() => (globalThis as unknown as Dom).document.activeElement?.textContent === 'Pause'), 'Pause');
        await Promise.all([page.waitForURL(`${dashboard.url}tasks/${later}/pause`), page.keyboard.press('Enter')]);
        await tabTo(() => page.evaluate(() => (globalThis as unknown as Dom).document.activeElement?.getAttribute('name') === 'token'), 'the token field');
        await page.keyboard.type(TOKEN);
        await Promise.all([page.waitForURL(`${dashboard.url}tasks/${later}`), page.keyboard.press('Enter')]);
        expect(await page.locator('#status').textContent()).toBe('paused');
        expect(await page.locator('#status').getAttribute('class')).toBe('badge badge-stop');
        expect((await store.getTask(later))?.status).toBe('paused');

        // the task page is live too: resumed elsewhere, its badge changes without a reload
        await store.resumeTask(later, {}, await store.serverTime());
        await page.waitForFunction(() => (globalThis as unknown as Dom).document.querySelector('#status')?.textContent === 'pending', undefined, { timeout: 15_000 });
        expect(await page.locator('#status').getAttribute('class')).toBe('badge badge-wait');
        for (const scheme of ['light', 'dark'] as const) {
          await page.emulateMedia({ colorScheme: scheme });
          for (const [label, width] of [['desktop', 1280], ['phone', 390]] as const) {
            await page.setViewportSize({ width, height: 900 });
            await page.screenshot({ path: `${shot}-task-${scheme}-${label}.png`, fullPage: true });
          }
        }

        // the JSON: read-only GETs under the same host check; a bad window is refused
        const json = await page.request.get(`${dashboard.url}api/overview.json?window=24h`);
        expect(json.headers()['content-type']).toBe('application/json; charset=utf-8');
        const body = (await json.json()) as { health: { name: string }[]; window: string };
        expect(body.window).toBe('24h');
        expect(body.health.map((h) => h.name)).toContain(HOSTILE_NAME);
        expect((await page.request.get(`${dashboard.url}api/overview.json?window=2h`)).status()).toBe(400);
        expect((await page.request.get(`${dashboard.url}?window=<b>`)).status()).toBe(400);
        expect((await raw(`${dashboard.url}api/overview.json`, { headers: { Host: 'evil.example' } })).status).toBe(421);
        expect((await page.request.post(`${dashboard.url}api/overview.json`, { maxRedirects: 0 })).status()).toBe(404);
        expect(() => createDashboard({ store, refreshSeconds: 0.5 })).toThrow(/refreshSeconds/);

        expect(dialogs).toEqual([]);
        expect(errors).toEqual([]);
      } finally {
        await page.close();
        await dashboard.close();
        await store.close();
      }
    },
    120_000,
  );
});
