import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ConfigurationError, ERROR_CODES, isStore, isTaskmillError, parseTaskId, TASK_ACTIONS, type Store, type TaskAction } from '@taskmill/contracts';
import { bulkOptions, DbClock, openStoreForConnection, runBulkAction, runTaskAction } from '@taskmill/core';
import { bulkConfirmPage, bulkDonePage, bulkFormPage, bulkRequest } from './bulk.js';
import { FAVICON, html, page, STYLE } from './html.js';
import { overviewData, overviewJson, windowOf, WINDOWS } from './health.js';
import { LIVE_SCRIPT, taskJson } from './live.js';
import { confirmPage, nameActionPage, overview, schedulesPage, taskList, taskPage, workersPage, workflowPage, type PageContext } from './pages.js';

/** Options of {@link createDashboard}. */
export interface DashboardOptions {
  /** The store to read and act on (any taskmill store). */
  store: Store;
  /**
   * Enables pause, resume, cancel and retry, and bulk actions by filter: each is a POST that must carry this token (typed on
   * the confirmation page) and come from the dashboard's own origin (`Origin` of this host, or
   * `Sec-Fetch-Site: same-origin`; a POST with neither header is refused). Without it the
   * dashboard is read-only. At least 8 characters.
   */
  actionsToken?: string;
  /** Path the dashboard is mounted at in a larger server, e.g. `/taskmill`. (Default: '') */
  basePath?: string;
  /**
   * Host names (without port; any port is accepted) the dashboard answers to; other `Host`
   * headers get a 421. Guards against DNS rebinding, where a hostile site's name resolves to this
   * machine and its pages read the dashboard. Mounted in a server reached by other names, list
   * them here. (Default: 127.0.0.1, localhost and ::1; `serveDashboard` on a specific address also
   * that address)
   */
  allowedHosts?: readonly string[];
  /**
   * Seconds between live updates of the overview and task pages: the dashboard's own script
   * (`/assets/live.js`) polls their JSON (`/api/overview.json`, `/api/tasks/<id>.json`) and
   * updates the figures in place. 0 serves the pages without the script. An integer from 0 to
   * 3600. (Default: 5)
   */
  refreshSeconds?: number;
}

/** This machine's own names: a hostile site's name cannot be made to send them as its Host. */
const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '::1'];
/** Listen addresses meaning every interface: they name no host the dashboard is reached by. */
const WILDCARD_ADDRESSES = ['0.0.0.0', '::'];

/** A host name as compared: without IPv6 brackets, lower-cased. */
function bareHost(host: string): string {
  return host.replace(/^\[|\]$/g, '').toLowerCase();
}

/** The host name of a Host header (`[::1]:8080` → `::1`), lower-cased. */
function hostName(header: string | undefined): string {
  if (!header) return '';
  try {
    return bareHost(new URL(`http://${header}`).hostname);
  } catch {
    return '';
  }
}

/**
 * The host names a dashboard answers to when not given `allowedHosts`: the loopback names and,
 * when it listens on a specific address (`serveDashboard`'s `host`), that address too. A mounted
 * dashboard does not know where its server listens, so it gets the loopback names alone: answering
 * any name would let a rebound hostile name read it.
 */
function defaultAllowedHosts(listenHost?: string): string[] {
  const own = listenHost === undefined ? '' : bareHost(listenHost);
  return own === '' || LOOPBACK_HOSTS.includes(own) || WILDCARD_ADDRESSES.includes(own) ? LOOPBACK_HOSTS : [...LOOPBACK_HOSTS, own];
}

/** `/tasks/<id>/<action>`: the confirmation page on GET, the action itself on POST. */
const ACTION_PATH = new RegExp(`^/tasks/([^/]+)/(${TASK_ACTIONS.join('|')})$`);

/** `/names/pause` and `/names/resume`: the form on GET, the action on POST (the name in the form). */
const NAME_ACTION_PATH = /^\/names\/(pause|resume)$/;

/** The text the dashboard records with the actions that take one. */
const REASONS: Partial<Record<TaskAction, string>> = { resume: 'dashboard', cancel: 'Cancelled from the dashboard' };

/** Every response: no script but the dashboard's own file (live.ts) may run, it may fetch only from this origin; no framing, no sniffing, no referrer to other sites (same-origin keeps the Origin header of our own form posts, which the cross-site check reads). */
const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

const JSON_TYPE = 'application/json; charset=utf-8';

function send(res: ServerResponse, status: number, body: string, type = 'text/html; charset=utf-8', headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, ...headers });
  res.end(body);
}

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Where a POST comes from: `unknown` when it carries neither Sec-Fetch-Site nor Origin, `cross`
 * when the browser says another site sent it or its Origin is not this host, else `same`.
 * Browsers send at least one of the two headers with every POST, so a request with neither is no
 * form of ours, and taking it for same-site would let a client that drops them (or a proxy that
 * strips them) past the check; a non-browser client sends `Origin: http://<host>` itself.
 */
function postOrigin(req: IncomingMessage): 'same' | 'cross' | 'unknown' {
  const site = req.headers['sec-fetch-site'];
  const origin = req.headers.origin;
  if (site === undefined && origin === undefined) return 'unknown';
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return 'cross';
  if (origin === undefined) return 'same';
  try {
    return new URL(origin).host === req.headers.host ? 'same' : 'cross';
  } catch {
    return 'cross';
  }
}

async function readForm(req: IncomingMessage, max = 4096): Promise<URLSearchParams> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw new RangeError('request body too large');
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/**
 * The database's clock as this dashboard knows it (see docs/failure-model.md, "Clocks"): measured
 * at the first request that needs it, then refreshed by `DbClock` itself once a minute, so a
 * dashboard served from a machine whose clock is off still writes due times workers judge right.
 */
async function dbNow(clock: DbClock, store: Store): Promise<number> {
  if (!clock.synced) await clock.sync(store);
  return clock.now();
}

/**
 * The dashboard as a request handler, mountable in any Node HTTP server: requests outside
 * `basePath` get a 404. Server-rendered pages with every value escaped and no scripts.
 */
export function createDashboard(options: DashboardOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  if (!options || !isStore(options.store)) throw new ConfigurationError('createDashboard needs a taskmill store as options.store');
  const token = options.actionsToken;
  if (token !== undefined && (typeof token !== 'string' || token.length < 8)) {
    throw new ConfigurationError('actionsToken must be a string of at least 8 characters');
  }
  const base = (options.basePath ?? '').replace(/\/+$/, '');
  if (base !== '' && !/^\/[A-Za-z0-9/_-]*$/.test(base)) throw new ConfigurationError('basePath must be a path such as /taskmill');
  const refresh = options.refreshSeconds ?? 5;
  if (!Number.isInteger(refresh) || refresh < 0 || refresh > 3600) throw new ConfigurationError('refreshSeconds must be an integer from 0 to 3600');
  const hosts = new Set((options.allowedHosts ?? defaultAllowedHosts()).map(bareHost));
  // a failed background refresh keeps the last offset; a database that stays down fails the next
  // request's own statements, which the error page reports
  const clock = new DbClock(() => undefined);
  const ctx: PageContext = { store: options.store, base, actions: token !== undefined, refresh, now: () => clock.now() };

  return async (req, res) => {
    if (!hosts.has(hostName(req.headers.host))) return send(res, 421, simple(base, 'Refused', 'Unknown host name.'));
    const url = new URL(req.url ?? '/', 'http://dashboard');
    if (base !== '' && url.pathname !== base && !url.pathname.startsWith(`${base}/`)) return send(res, 404, simple(base, 'Not found', 'No such page.'));
    const path = url.pathname.slice(base.length) || '/';
    try {
      if (req.method === 'POST') {
        const nameAction = NAME_ACTION_PATH.exec(path);
        const m = ACTION_PATH.exec(path);
        const bulkPost = path === '/bulk';
        if (!m && !nameAction && !bulkPost) return send(res, 404, simple(base, 'Not found', 'No such action.'));
        if (!token) return send(res, 403, simple(base, 'Refused', 'This dashboard is read-only: it was started without an actions token.'));
        const from = postOrigin(req);
        if (from === 'unknown') {
          return send(res, 403, simple(base, 'Refused', 'Neither Origin nor Sec-Fetch-Site: a client other than a browser must send Origin: http://<host> of this dashboard.'));
        }
        if (from === 'cross') return send(res, 403, simple(base, 'Refused', 'Cross-site request refused.'));
        const form = await readForm(req);
        if (!sameToken(form.get('token') ?? '', token)) return send(res, 403, simple(base, 'Refused', 'Wrong or missing actions token.'));
        if (bulkPost) {
          // the filter confirmed on /bulk/confirm, validated again by the store: a bad one is a
          // ValidationError (409 below) before anything is written
          const { action, filter } = bulkRequest(form);
          const checked = bulkOptions(action, { reason: action === 'delete' ? undefined : REASONS[action] });
          await dbNow(clock, options.store);
          const result = await runBulkAction(options.store, action, filter, checked, () => clock.now());
          const done = new URLSearchParams({ action, changed: String(result.changed), skipped: String(result.skipped), batches: String(result.batches) });
          return send(res, 303, '', 'text/plain', { Location: `${base}/bulk/done?${done.toString()}` });
        }
        if (nameAction) {
          // a bad name is a ValidationError (409 below), and nothing is written
          const name = form.get('name') ?? '';
          const now = await dbNow(clock, options.store);
          if (nameAction[1] === 'pause') await options.store.pauseName(name, { reason: form.get('reason') || null, by: 'dashboard' }, now);
          else await options.store.resumeName(name, { by: 'dashboard' }, now);
          return send(res, 303, '', 'text/plain', { Location: `${base}/` });
        }
        const id = parseTaskId(m![1]);
        if (id === null) return send(res, 404, simple(base, 'Not found', 'No such task.'));
        // `now` is on the database's clock: a resumed or retried task is due at it
        const action = m![2] as TaskAction;
        await runTaskAction(options.store, action, id, { reason: REASONS[action] }, await dbNow(clock, options.store));
        return send(res, 303, '', 'text/plain', { Location: `${base}/tasks/${id}` });
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, simple(base, 'Method not allowed', ''), undefined, { Allow: 'GET, HEAD, POST' });
      if (path === '/style.css') return send(res, 200, STYLE, 'text/css; charset=utf-8');
      if (path === '/favicon.svg') return send(res, 200, FAVICON, 'image/svg+xml');
      if (path === '/assets/live.js') return send(res, 200, LIVE_SCRIPT, 'text/javascript; charset=utf-8');
      // every page shows times relative to the database's clock
      const now = await dbNow(clock, options.store);
      if (path === '/' || path === '/api/overview.json') {
        const window = windowOf(url.searchParams);
        if (window === null) {
          const message = `Unknown window: use one of ${Object.keys(WINDOWS).join(', ')}.`;
          return path === '/' ? send(res, 400, simple(base, 'Bad request', message)) : send(res, 400, JSON.stringify({ error: message }), JSON_TYPE);
        }
        if (path === '/') return send(res, 200, await overview(ctx, now, window));
        return send(res, 200, overviewJson(await overviewData(options.store, base, window, now)), JSON_TYPE);
      }
      const taskApi = /^\/api\/tasks\/([^/]+)\.json$/.exec(path);
      if (taskApi) {
        const id = parseTaskId(taskApi[1]);
        const task = id === null ? null : await options.store.getTask(id);
        return task ? send(res, 200, taskJson(task, now), JSON_TYPE) : send(res, 404, JSON.stringify({ error: `No task ${taskApi[1]}.` }), JSON_TYPE);
      }
      const nameForm = NAME_ACTION_PATH.exec(path);
      if (nameForm) {
        if (!token) return send(res, 403, simple(base, 'Refused', 'This dashboard is read-only: it was started without an actions token.'));
        return send(res, 200, nameActionPage(ctx, nameForm[1] as 'pause' | 'resume', url.searchParams.get('name') ?? ''));
      }
      if (path === '/bulk' || path === '/bulk/confirm' || path === '/bulk/done') {
        if (!token) return send(res, 403, simple(base, 'Refused', 'This dashboard is read-only: it was started without an actions token.'));
        if (path === '/bulk') return send(res, 200, bulkFormPage(ctx, url.searchParams));
        if (path === '/bulk/done') return send(res, 200, bulkDonePage(ctx, url.searchParams));
        return send(res, 200, await bulkConfirmPage(ctx, url.searchParams));
      }
      if (path === '/tasks') {
        const result = await taskList(ctx, url.searchParams);
        return typeof result === 'string' ? send(res, 200, result) : send(res, 303, '', 'text/plain', { Location: result.redirect });
      }
      if (path === '/workers') return send(res, 200, await workersPage(ctx));
      if (path === '/schedules') return send(res, 200, await schedulesPage(ctx, url.searchParams));
      let m = /^\/tasks\/([^/]+)$/.exec(path);
      if (m) {
        const id = parseTaskId(m[1]);
        const body = id === null ? null : await taskPage(ctx, id);
        return body ? send(res, 200, body) : send(res, 404, simple(base, 'Not found', `No task ${m[1]}.`));
      }
      m = ACTION_PATH.exec(path);
      if (m) {
        if (!token) return send(res, 403, simple(base, 'Refused', 'This dashboard is read-only: it was started without an actions token.'));
        const id = parseTaskId(m[1]);
        const body = id === null ? null : await confirmPage(ctx, id, m[2] as TaskAction);
        return body ? send(res, 200, body) : send(res, 404, simple(base, 'Not found', `No task ${m[1]}.`));
      }
      m = /^\/workflows\/([^/]+)$/.exec(path);
      if (m) {
        const id = parseTaskId(m[1]);
        const pageNo = Number(url.searchParams.get('page') ?? '1');
        if (!Number.isSafeInteger(pageNo) || pageNo < 1) return send(res, 400, simple(base, 'Bad request', 'page must be a whole number from 1.'));
        const body = id === null ? null : await workflowPage(ctx, id, pageNo - 1);
        return body ? send(res, 200, body) : send(res, 404, simple(base, 'Not found', `No workflow ${m[1]}.`));
      }
      return send(res, 404, simple(base, 'Not found', 'No such page.'));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (isTaskmillError(error)) {
        const unavailable = error.code === ERROR_CODES.STORE_UNAVAILABLE || error.code === ERROR_CODES.SCHEMA_NOT_READY;
        const status = error.code === ERROR_CODES.TASK_NOT_FOUND ? 404 : unavailable ? 503 : 409;
        return send(res, status, simple(base, status === 409 ? 'Refused' : 'Error', message));
      }
      if (error instanceof RangeError) return send(res, 413, simple(base, 'Too large', message));
      return send(res, 500, simple(base, 'Error', message));
    }
  };
}

function simple(base: string, title: string, message: string): string {
  return page(base, title, html`<p id="message">${message}</p>`);
}

/** Options of {@link serveDashboard}. */
export interface ServeOptions extends Omit<DashboardOptions, 'store'> {
  /** A store, or a connection string opened as a TaskManager's `dbConnection` is. */
  store: Store | string;
  /** (Default: 127.0.0.1: reachable from this machine only) */
  host?: string;
  /** (Default: 0, any free port) */
  port?: number;
}

/** A running dashboard server. */
export interface RunningDashboard {
  url: string;
  server: Server;
  /** Stop listening and close the store if this call opened it. */
  close(): Promise<void>;
}

/**
 * Serve the dashboard on its own HTTP server, bound to 127.0.0.1 unless `host` says otherwise.
 * Listening on every interface (`0.0.0.0`, `::`), it still answers only the loopback names unless
 * `allowedHosts` names the others it is reached by.
 */
export async function serveDashboard(options: ServeOptions): Promise<RunningDashboard> {
  const opened = typeof options.store === 'string' ? await openStoreForConnection(options.store) : null;
  const store = opened ?? (options.store as Store);
  try {
    // never migrates: an operator's tool may run with a read-only role, and must not change the
    // schema under the workers; a missing or old schema is a SchemaNotReadyError saying so
    if (opened) await opened.checkSchema?.();
    const host = options.host ?? '127.0.0.1';
    const handler = createDashboard({ ...options, store, allowedHosts: options.allowedHosts ?? defaultAllowedHosts(host) });
    const server = createServer((req, res) => void handler(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => resolve());
    });
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : options.port;
    const shown = host.includes(':') ? `[${host}]` : host;
    return {
      url: `http://${shown}:${port}${(options.basePath ?? '').replace(/\/+$/, '')}/`,
      server,
      async close() {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await opened?.close();
      },
    };
  } catch (error) {
    await opened?.close();
    throw error;
  }
}
