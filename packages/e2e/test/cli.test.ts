import { execFile, spawn } from 'node:child_process';
import { request } from 'node:http';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { TaskManager } from '@taskmill/core';
import { connectionUrl as dbUrl, sharedBackends, type BackendDb } from '../src/backends.js';
import { describeBackends, waitFor, waitForStatus } from '../src/harness.js';

/*
 * The `taskmill` command line, run as its real built bin in a child process against every store.
 * State is set up with a TaskManager, the CLI runs, and the database is checked through a
 * TaskManager again: output, exit code, and (for refused or malformed input) that nothing changed.
 */

const BIN = fileURLToPath(new URL('../node_modules/@taskmill/cli/dist/bin.js', import.meta.url));

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const childEnv = { ...process.env, ...env };
  if (!('TASKMILL_DB' in env)) delete childEnv.TASKMILL_DB;
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: childEnv, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A failed command: the given exit code, nothing on stdout, exactly one `taskmill: …` line on stderr. */
function expectOneLineError(result: CliResult, code: number, message: RegExp): void {
  expect(result.code, result.stderr).toBe(code);
  expect(result.stdout).toBe('');
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^taskmill: /);
  expect(lines[0]).toMatch(message);
  expect(lines[0]).not.toMatch(/\bat .*\.(js|ts):\d+/); // no stack frame
}


/** Every task row and every event, to prove a command changed nothing. */
async function snapshot(tm: TaskManager<any>): Promise<unknown> {
  const tasks = (await tm.queryTasks({})).items;
  const events = [];
  for (const task of tasks) events.push(await tm.getTaskEvents(task.id, {}));
  return { tasks, events };
}

/** Register do-nothing handlers (enqueueing needs a handler; these managers never start). */
function handlers<M extends TaskManager<any>>(tm: M, ...names: string[]): M {
  for (const name of names) tm.use(name, () => null);
  return tm;
}

function json<T = any>(result: CliResult): T {
  expect(result.code, result.stderr).toBe(0);
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout) as T;
}

describeBackends('taskmill CLI', sharedBackends(), (env) => {
  /** A fresh database with the schema set up by the CLI itself; returns its URL and a reading manager. */
  async function migrated(): Promise<{ url: string; tm: TaskManager<any> }> {
    const tm = await env.isolated();
    const url = dbUrl(env.db());
    const first = await cli(['migrate', '--db', url]);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toMatch(/^Schema is up to date \((sqlite|postgres|mysql)\)\.\n$/);
    return { url, tm };
  }

  /** Run tasks to a final state with a started manager, then stop it; returns a fresh manager for reads. */
  async function runToEnd(tm: TaskManager<any>, until: () => Promise<unknown>): Promise<TaskManager<any>> {
    await tm.start();
    await until();
    await tm.stop();
    return env.manager();
  }

  env.test('migrate creates the schema (TASKMILL_DB works as --db), is idempotent, and --json reports it', async () => {
    const tm = await env.isolated();
    const url = dbUrl(env.db());
    // before: no schema (SQLite: no file), so a read fails with one line and creates nothing
    const early = await cli(['tasks', '--db', url]);
    expect([2, 3]).toContain(early.code);
    expectOneLineError(early, early.code, /not found|not exist|doesn't exist|unavailable|failed/i);
    expect(await cli(['migrate'], { TASKMILL_DB: url })).toMatchObject({ code: 0, stderr: '' });
    expect(json(await cli(['tasks', '--json', '--db', url]))).toMatchObject({ total: 0, items: [] });
    expect(json(await cli(['migrate', '--json', '--db', url]))).toEqual({ migrated: true, dialect: expect.stringMatching(/sqlite|postgres|mysql/) });
    // the schema the CLI made is the one a TaskManager uses
    const id = await handlers(tm, 'job').async('job', {});
    expect((await tm.getTask(id))?.status).toBe('pending');
  });

  env.test('status: counts by name and status, due now, oldest pending, workers by status', async () => {
    const { url, tm } = await migrated();
    tm.use('boom', () => {
      throw new Error('boom');
    });
    tm.use('ok', () => 'fine');
    const failed = await tm.async('boom', {}, { max_retries: 1 });
    const done = await tm.async('ok', {});
    const reader = await runToEnd(tm, async () => {
      await waitForStatus(tm, failed, 'permanently_failed');
      await waitForStatus(tm, done, 'completed');
    });
    const oldest = await handlers(reader, 'later').async('later', {});
    await reader.async('later', {});
    await reader.async('later', {}, { delay: 3600 });

    const report = json(await cli(['status', '--json', '--db', url]));
    expect(report.tasks).toEqual([
      { name: 'boom', status: 'permanently_failed', count: 1 },
      { name: 'later', status: 'pending', count: 3 },
      { name: 'ok', status: 'completed', count: 1 },
    ]);
    expect(report.by_status).toMatchObject({ pending: 3, completed: 1, permanently_failed: 1, running: 0 });
    expect(report.due_now).toBe(2);
    expect(report.oldest_pending).toMatchObject({ task_id: oldest, name: 'later' });
    expect(report.oldest_pending.age_seconds).toBeGreaterThanOrEqual(0);
    expect(report.workers).toEqual({ active: 0, superseded: 0, dead: 1 });

    const human = await cli(['status', '--db', url]);
    expect(human).toMatchObject({ code: 0, stderr: '' });
    expect(human.stdout).toContain('Tasks: 5  pending 3  completed 1  permanently_failed 1');
    expect(human.stdout).toContain('Due now: 2');
    expect(human.stdout).toContain(`Oldest pending: task ${oldest} (later)`);
    expect(human.stdout).toContain('Workers: active 0  superseded 0  dead 1');
    expect(human.stdout).toMatch(/^NAME\s+STATUS\s+COUNT$/m);
    expect(human.stdout).toMatch(/^later\s+pending\s+3$/m);
  });

  env.test('retention run deletes expired finished tasks with their events and attempts, and only those', async () => {
    const { url, tm } = await migrated();
    tm.use('ok', () => 'fine');
    tm.use('boom', () => {
      throw new Error('boom');
    });
    const done = [await tm.async('ok', {}), await tm.async('ok', {})];
    const failed = await tm.async('boom', {}, { max_retries: 1 });
    const reader = await runToEnd(tm, async () => {
      for (const id of done) await waitForStatus(tm, id, 'completed');
      await waitForStatus(tm, failed, 'permanently_failed');
    });
    const pending = await handlers(reader, 'later').async('later', {});
    // nothing is a day old: the default expire time deletes nothing
    const before = await snapshot(reader);
    expect(json(await cli(['retention', 'run', '--json', '--db', url]))).toEqual({
      tasks_deleted: 0,
      events_deleted: 0,
      attempts_deleted: 0,
      expire_time: 86_400,
      statuses: ['completed', 'permanently_failed'],
    });
    expect(await snapshot(reader)).toEqual(before);

    await new Promise((resolve) => setTimeout(resolve, 20));
    const events = (await reader.getTaskEvents(done[0], {})).length + (await reader.getTaskEvents(done[1], {})).length;
    const human = await cli(['retention', 'run', '--db', url, '--expire-time', '0.01', '--status', 'completed', '--batch-size', '1']);
    expect(human).toMatchObject({ code: 0, stderr: '' });
    expect(human.stdout).toBe(`Deleted 2 tasks (completed, idle for more than 0.01 s) with ${events} events and 2 attempts.\n`);
    for (const id of done) expect(await reader.getTask(id)).toBeNull();
    expect(await reader.getTaskEvents(done[0], {})).toEqual([]);
    expect((await reader.getTask(failed))?.status).toBe('permanently_failed');
    expect((await reader.getTask(pending))?.status).toBe('pending');
  });

  env.test('retention run refuses bad input with one line and exit 2, deleting nothing', async () => {
    const { url, tm } = await migrated();
    tm.use('ok', () => 'fine');
    const id = await tm.async('ok', {});
    const reader = await runToEnd(tm, () => waitForStatus(tm, id, 'completed'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const before = await snapshot(reader);
    for (const [args, message] of [
      [['--expire-time', '-1'], /--expire-time.*positive number of seconds/],
      [['--expire-time', '0'], /--expire-time.*positive number of seconds/],
      [['--expire-time', '1e9999'], /--expire-time.*positive number of seconds/],
      [['--expire-time', '0.01', '--status', 'running'], /--status.*running.*invalid|Allowed choices/],
      [['--expire-time', '0.01', '--batch-size', '20000'], /batch_size must be a positive integer, at most 10000/],
      [['--expire-time', '0.01', '--batch-size', '0'], /--batch-size.*positive integer/],
    ] as const) {
      expectOneLineError(await cli(['retention', 'run', '--db', url, ...args]), 2, message);
    }
    expect(await snapshot(reader)).toEqual(before);
  });

  env.test('retention run on a terminal redraws a progress line per batch on stderr and ends it', async () => {
    const { url, tm } = await migrated();
    tm.use('ok', () => 'fine');
    const ids = await tm.asyncMany([{ name: 'ok', payload: {} }, { name: 'ok', payload: {} }, { name: 'ok', payload: {} }]);
    const reader = await runToEnd(tm, async () => {
      for (const id of ids) await waitForStatus(tm, id, 'completed');
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const { run } = await import('@taskmill/cli');
    const out: string[] = [];
    const lines: { line: string; done: boolean }[] = [];
    const code = await run(['retention', 'run', '--db', url, '--expire-time', '0.01', '--batch-size', '1'], {
      out: (text) => out.push(text),
      err: (text) => out.push(`ERR ${text}`),
      progress: (line, done = false) => lines.push({ line, done }),
    });
    expect(code).toBe(0);
    expect(out.join('')).toMatch(/^Deleted 3 tasks /);
    // a batch of 1 per task, then the empty batch that finds nothing left, then the closing line
    expect(lines.length).toBeGreaterThanOrEqual(4);
    expect(lines.slice(0, -1).every((l) => !l.done && /^\[[ #]{24}\] \d+ tasks, \d+ events, \d+ attempts deleted \(\d+ batches/.test(l.line))).toBe(true);
    expect(lines.map((l) => Number(/ (\d+) tasks/.exec(l.line)?.[1]))).toEqual([...lines.map((l) => Number(/ (\d+) tasks/.exec(l.line)?.[1]))].sort((a, b) => a - b));
    expect(lines[lines.length - 1]).toMatchObject({ done: true, line: expect.stringMatching(/^done: 3 tasks, /) });
    for (const id of ids) expect(await reader.getTask(id)).toBeNull();
  });

  env.test('bulk retry --dry-run prints the count and writes nothing; the run retries them and prints a summary', async () => {
    const { url, tm } = await migrated();
    tm.use('mail', () => {
      throw new Error('smtp down');
    });
    tm.use('other', () => {
      throw new Error('down');
    });
    const ids = await tm.asyncMany([1, 2, 3].map(() => ({ name: 'mail', options: { max_retries: 1 } })));
    const other = await tm.async('other', {}, { max_retries: 1 });
    const reader = await runToEnd(tm, async () => {
      for (const id of [...ids, other]) await waitForStatus(tm, id, 'permanently_failed');
    });
    const before = await snapshot(reader);
    const dry = await cli(['bulk', 'retry', '--db', url, '--name', 'mail', '--status', 'permanently_failed', '--dry-run']);
    expect(dry).toEqual({ code: 0, stdout: 'Dry run: retry would take 3 tasks; nothing was written.\n', stderr: '' });
    expect(json(await cli(['bulk', 'retry', '--json', '--db', url, '--name', 'mail', '--dry-run']))).toMatchObject({ total: 3, changed: 0, dry_run: true });
    expect(await snapshot(reader)).toEqual(before);
    const done = await cli(['bulk', 'retry', '--db', url, '--name', 'mail', '--batch-size', '2']);
    expect(done).toEqual({ code: 0, stdout: '3 tasks retried in 2 batches.\n', stderr: '' });
    for (const id of ids) expect((await reader.getTask(id))?.status).toBe('pending');
    expect((await reader.getTask(other))?.status).toBe('permanently_failed');
    const cancelled = json(await cli(['bulk', 'cancel', '--json', '--db', url, '--created-after', '2000-01-01', '--reason', 'cleanup']));
    expect(cancelled).toMatchObject({ action: 'cancel', total: 3, changed: 3, skipped: 0, dry_run: false });
    expect(await reader.getTask(ids[0])).toMatchObject({ status: 'permanently_failed', error: 'cleanup' });
    const deleted = await cli(['bulk', 'delete', '--db', url, '--all']);
    expect(deleted).toEqual({ code: 0, stdout: '4 tasks deleted in 1 batches.\n', stderr: '' });
    expect(await reader.getTasks()).toEqual([]);
  });

  env.test('bulk refuses bad input with one line and exit 2, writing nothing', async () => {
    const { url, tm } = await migrated();
    const id = await handlers(tm, 'job').async('job', {});
    await tm.pauseTask(id);
    const before = await snapshot(tm);
    for (const [args, message] of [
      [['explode', '--all'], /argument 'explode' is invalid|Allowed choices/],
      [['cancel'], /needs a filter .* or --all/],
      [['cancel', '--status', 'finished'], /--status.*finished.*invalid|Allowed choices/],
      [['retry', '--status', 'paused'], /retry does not apply to paused tasks/],
      [['cancel', '--created-before', '2026-02-30'], /--created-before.*ISO 8601/],
      [['cancel', '--created-after', 'yesterday'], /--created-after.*ISO 8601/],
      [['cancel', '--created-after', '2026-01-02', '--created-before', '2026-01-01'], /created_after is later than created_before/],
      [['cancel', '--root', '0'], /--root.*positive integer/],
      [['cancel', '--all', '--batch-size', '20000'], /batch_size must be an integer from 1 to 10000/],
      [['pause', '--all', '--reason', 'why'], /bulk pause takes no reason/],
      [['resume', '--name', ''], /name must be a non-empty string/],
    ] as const) {
      expectOneLineError(await cli(['bulk', ...args, '--db', url]), 2, message);
    }
    expect(await snapshot(tm)).toEqual(before);
  });

  env.test('bulk on a terminal redraws a progress line per batch on stderr and ends it', async () => {
    const { url, tm } = await migrated();
    const ids = await handlers(tm, 'job').asyncMany([{ name: 'job' }, { name: 'job' }, { name: 'job' }]);
    const { run } = await import('@taskmill/cli');
    const out: string[] = [];
    const lines: { line: string; done: boolean }[] = [];
    const code = await run(['bulk', 'pause', '--db', url, '--name', 'job', '--batch-size', '1'], {
      out: (text) => out.push(text),
      err: (text) => out.push(`ERR ${text}`),
      progress: (line, done = false) => lines.push({ line, done }),
    });
    expect(code).toBe(0);
    expect(out.join('')).toBe('3 tasks paused in 4 batches.\n');
    // the count, a line per batch (three of 1, then the empty one), then the closing line
    expect(lines.map((l) => l.line.replace(/, [0-9.]+ s\)$/, ')'))).toEqual([
      'pause: 0 / 3 tasks (0 paused, 0 skipped, 0 batches)',
      'pause: 1 / 3 tasks (1 paused, 0 skipped, 1 batches)',
      'pause: 2 / 3 tasks (2 paused, 0 skipped, 2 batches)',
      'pause: 3 / 3 tasks (3 paused, 0 skipped, 3 batches)',
      'pause: 3 / 3 tasks (3 paused, 0 skipped, 4 batches)',
      'pause: 3 / 3 tasks (3 paused, 0 skipped, 4 batches)',
    ]);
    expect(lines.map((l) => l.done)).toEqual([false, false, false, false, false, true]);
    for (const id of ids) expect((await tm.getTask(id))?.status).toBe('paused');
  });

  env.test('dashboard serves the web dashboard on 127.0.0.1 until interrupted; a short actions token is refused', async () => {
    const { url, tm } = await migrated();
    const id = await handlers(tm, 'job').async('job', {}, { tag: 'from-cli' });
    const child = spawn(process.execPath, [BIN, 'dashboard', '--db', url, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let stdout = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      const address = await waitFor(() => /on (http:\/\/127\.0\.0\.1:\d+\/) \(read-only\)/.exec(stdout)?.[1], { timeout: 30_000, what: 'the dashboard URL' });
      const overview = await fetch(address);
      expect(overview.status).toBe(200);
      expect(await overview.text()).toContain('<h1>Overview</h1>');
      const task = await (await fetch(`${address}tasks/${id}`)).text();
      expect(task).toContain('from-cli');
      expect(task).toContain('Read-only dashboard: no actions.');
      expect((await fetch(`${address}tasks/${id}/pause`, { method: 'POST', body: 'token=x' })).status).toBe(403);
    } finally {
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    }
    expect((await tm.getTask(id))?.status).toBe('pending');
    expectOneLineError(await cli(['dashboard', '--db', url, '--port', '0', '--actions-token', 'short']), 2, /actionsToken must be a string of at least 8 characters/);
  });

  env.test('dashboard --refresh sets how often open pages update themselves (0: no live script); a bad value is refused', async () => {
    const { url } = await migrated();
    for (const [refresh, expected] of [
      ['17', 'data-refresh="17"'],
      ['0', null],
    ] as const) {
      const child = spawn(process.execPath, [BIN, 'dashboard', '--db', url, '--port', '0', '--refresh', refresh], { stdio: ['ignore', 'pipe', 'pipe'] });
      try {
        let stdout = '';
        child.stdout.on('data', (chunk) => (stdout += chunk));
        const address = await waitFor(() => /on (http:\/\/127\.0\.0\.1:\d+\/) /.exec(stdout)?.[1], { timeout: 30_000, what: 'the dashboard URL' });
        const overview = await (await fetch(address)).text();
        if (expected) {
          expect(overview).toContain(expected);
          expect(overview).toContain('assets/live.js');
        } else {
          expect(overview).not.toContain('data-refresh');
          expect(overview).not.toContain('assets/live.js');
        }
      } finally {
        const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
        child.kill('SIGINT');
        expect(await exited).toBe(0);
      }
    }
    for (const bad of ['3601', '-1', '1.5', 'soon', '05']) {
      expectOneLineError(await cli(['dashboard', '--db', url, '--port', '0', '--refresh', bad]), 2, /--refresh.*expected whole seconds from 0 \(no live updates\) to 3600/);
    }
  });

  env.test('dashboard answers the loopback names and its --host address; --allowed-host names the hosts instead', async () => {
    const { url } = await migrated();
    /** The status of a GET of `address` sent with `Host: <host>:<port>`. */
    const statusAs = (address: string, host: string) =>
      new Promise<number>((resolve, reject) => {
        const target = new URL(address);
        request({ host: target.hostname, port: target.port, path: '/', headers: { Host: `${host}:${target.port}` } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
          .on('error', reject)
          .end();
      });
    const cases = [
      { args: ['--host', '127.0.0.2'], answered: ['127.0.0.2', 'localhost', '127.0.0.1'], refused: ['evil.example'] },
      { args: ['--host', '127.0.0.2', '--allowed-host', 'dash.internal', 'Other.Internal'], answered: ['dash.internal', 'other.internal'], refused: ['127.0.0.2', 'evil.example'] },
    ];
    for (const { args, answered, refused } of cases) {
      const child = spawn(process.execPath, [BIN, 'dashboard', '--db', url, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      try {
        let stdout = '';
        child.stdout.on('data', (chunk) => (stdout += chunk));
        const address = await waitFor(() => /on (http:\/\/127\.0\.0\.2:\d+\/) /.exec(stdout)?.[1], { timeout: 30_000, what: 'the dashboard URL' });
        for (const host of answered) expect(await statusAs(address, host), `${args.join(' ')}: ${host}`).toBe(200);
        for (const host of refused) expect(await statusAs(address, host), `${args.join(' ')}: ${host}`).toBe(421);
      } finally {
        const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
        child.kill('SIGINT');
        expect(await exited).toBe(0);
      }
    }
  });

  env.test('a command on a database that was never migrated says to run taskmill migrate (exit 3) and creates nothing', async () => {
    await env.isolated();
    const url = dbUrl(env.db());
    // SQLite: an existing, empty database file (a missing one is refused before opening, see below)
    if (url.startsWith('sqlite:')) writeFileSync(url.slice('sqlite:'.length), '');
    for (const command of ['status', 'tasks', 'workers']) {
      expectOneLineError(await cli([command, '--db', url]), 3, /The taskmill tables do not exist in .*run taskmill migrate/);
    }
    // still not migrated: none of them created the schema
    expectOneLineError(await cli(['status', '--db', url]), 3, /do not exist in .*run taskmill migrate/);
  });

  env.test('tasks: filters, limit/offset/cursor/order paging through the audit queries, and bad options refused', async () => {
    const { url, tm } = await migrated();
    const ids: number[] = [];
    handlers(tm, 'even', 'odd');
    for (let i = 0; i < 5; i++) ids.push(await tm.async(i % 2 === 0 ? 'even' : 'odd', { i }, { tag: i < 2 ? 'first' : 'rest' }));
    await tm.pauseTask(ids[4]);

    expect(json(await cli(['tasks', '--json', '--db', url])).items.map((t: any) => t.id)).toEqual(ids);
    expect(json(await cli(['tasks', '--json', '--name', 'even', '--db', url])).items.map((t: any) => t.id)).toEqual([ids[0], ids[2], ids[4]]);
    expect(json(await cli(['tasks', '--json', '--tag', 'first', '--db', url])).items.map((t: any) => t.id)).toEqual([ids[0], ids[1]]);
    expect(json(await cli(['tasks', '--json', '--status', 'paused', '--db', url])).items.map((t: any) => t.id)).toEqual([ids[4]]);
    expect(json(await cli(['tasks', '--json', '--type', 'cron', '--db', url])).total).toBe(0);
    const desc = json(await cli(['tasks', '--json', '--order', 'desc', '--limit', '2', '--offset', '1', '--db', url]));
    expect(desc).toMatchObject({ total: 5, limit: 2, offset: 1, has_more: true });
    expect(desc.items.map((t: any) => t.id)).toEqual([ids[3], ids[2]]);

    // keyset paging: the printed next cursor continues the listing
    const first = json(await cli(['tasks', '--json', '--limit', '3', '--db', url]));
    expect(first.items.map((t: any) => t.id)).toEqual(ids.slice(0, 3));
    expect(typeof first.next_cursor).toBe('string');
    const second = json(await cli(['tasks', '--json', '--limit', '3', '--cursor', first.next_cursor, '--db', url]));
    expect(second.items.map((t: any) => t.id)).toEqual(ids.slice(3));
    expect(second.next_cursor).toBeNull();

    const human = await cli(['tasks', '--limit', '3', '--db', url]);
    expect(human).toMatchObject({ code: 0, stderr: '' });
    expect(human.stdout).toMatch(/^ID\s+NAME\s+TYPE\s+STATUS\s+TAG/m);
    expect(human.stdout).toMatch(new RegExp(`^${ids[1]}\\s+odd\\s+async\\s+pending\\s+first\\s`, 'm'));
    expect(human.stdout).toContain(`1-3 of 5; next page: --cursor ${first.next_cursor}`);

    const before = await snapshot(tm);
    expectOneLineError(await cli(['tasks', '--limit', '-5', '--db', url]), 2, /--limit.*'-5' is invalid/);
    expectOneLineError(await cli(['tasks', '--limit', '0', '--db', url]), 2, /--limit/);
    expectOneLineError(await cli(['tasks', '--offset', 'x', '--db', url]), 2, /--offset/);
    expectOneLineError(await cli(['tasks', '--status', 'bogus', '--db', url]), 2, /'bogus' is invalid\. Allowed choices are pending/);
    expectOneLineError(await cli(['tasks', '--order', 'sideways', '--db', url]), 2, /--order/);
    expectOneLineError(await cli(['tasks', '--root', '1 OR 1=1', '--db', url]), 2, /--root/);
    expectOneLineError(await cli(['tasks', '--cursor', 'garbage', '--limit', '2', '--db', url]), 2, /cursor/i);
    expectOneLineError(await cli(['tasks', '--cursor', first.next_cursor, '--offset', '1', '--limit', '3', '--db', url]), 2, /offset/i);
    expectOneLineError(await cli(['tasks', '--bogus', '--db', url]), 2, /unknown option '--bogus'/);
    expect(await snapshot(tm)).toEqual(before);
  });

  env.test('inspect: a task with its timeline and attempts; a workflow root with its tree and critical path', async () => {
    const { url, tm } = await migrated();
    tm.use('root', (task, next) => {
      if (task.stage === 0) return next([{ name: 'leaf', payload: { ms: 150 } }, { name: 'leaf', payload: { ms: 5 } }]);
      return 'all done';
    });
    tm.use('leaf', async (task) => {
      await new Promise((r) => setTimeout(r, (task.payload as { ms: number }).ms));
      return 'leaf done';
    });
    tm.use('flaky', () => {
      throw new Error('flaky\nsecond line \u001b[31mred');
    });
    const root = await tm.async('root', {});
    const flaky = await tm.async('flaky', {}, { max_retries: 2, retry_interval: 0 });
    const reader = await runToEnd(tm, async () => {
      await waitForStatus(tm, root, 'completed');
      await waitForStatus(tm, flaky, 'permanently_failed');
    });
    const leaves = (await reader.queryTasks({ parent_id: root })).items.map((t) => t.id);
    expect(leaves).toHaveLength(2);

    const view = json(await cli(['inspect', String(root), '--json', '--db', url]));
    expect(view.task).toMatchObject({ id: root, status: 'completed', stage: 1 });
    expect(view.events.map((e: any) => e.event_type)).toEqual((await reader.getTaskEvents(root, {})).map((e) => e.event_type));
    expect(view.attempts.map((a: any) => a.outcome)).toEqual(['suspended', 'completed']);
    expect(view.workflow.tasks.map((t: any) => t.id)).toEqual([root, ...leaves]);
    expect(view.workflow.summary.critical_path.nodes.map((n: any) => n.task_id)).toEqual([root, leaves[0]]);

    const human = await cli(['inspect', String(root), '--db', url]);
    expect(human).toMatchObject({ code: 0, stderr: '' });
    expect(human.stdout).toMatch(new RegExp(`^Task ${root}  root  async  completed$`, 'm'));
    expect(human.stdout).toMatch(/^Timeline$/m);
    expect(human.stdout).toMatch(/^\s+\S+Z\s+\+0s\s+task_created\s+-> pending/m);
    expect(human.stdout).toMatch(/task_subtasks_created/);
    expect(human.stdout).toMatch(/^Attempts$/m);
    expect(human.stdout).toMatch(/^\s+1\s+\S+\s+\S+Z\s+\S+Z\s+[\d.]+s\s+suspended$/m);
    expect(human.stdout).toContain(`Workflow\n  ${root} root [completed]\n  ├─ ${leaves[0]} leaf [completed]\n  └─ ${leaves[1]} leaf [completed]\n`);
    expect(human.stdout).toMatch(/^Critical path \([\d.]+s; workflow [\d.]+s\)$/m);
    expect(human.stdout).toMatch(new RegExp(`^\\s+${leaves[0]}\\s+leaf\\s+completed\\s+1\\s+[\\d.]+s\\s`, 'm'));

    // a plain task: no workflow part; a multi-line hostile error stays on one line, escapes escaped
    const plain = await cli(['inspect', String(flaky), '--db', url]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).not.toMatch(/^Workflow$/m);
    // the stored error is the stack: the header shows it line by line, the attempts table its first line
    expect(plain.stdout).toContain('  error Error: flaky\n        second line \\u001b[31mred\n        at ');
    expect(plain.stdout).not.toContain('\u001b');
    expect(plain.stdout).toMatch(/^\s+2\s+\S+\s+\S+Z\s+\S+Z\s+[\d.]+s\s+failed\s+Error: flaky$/m);

    expectOneLineError(await cli(['inspect', '987654321', '--db', url]), 4, /^taskmill: Task 987654321 not found$/);
    expectOneLineError(await cli(['inspect', '1 OR 1=1', '--db', url]), 2, /invalid task id "1 OR 1=1"/);
    expectOneLineError(await cli(['inspect', '--db', url]), 2, /missing required argument 'id'/);
  });

  env.test('pause, resume and cancel act through the store; refused and malformed ones change nothing', async () => {
    const { url, tm } = await migrated();
    const id = await handlers(tm, 'job').async('job', {});
    const other = await tm.async('job', {});

    const paused = await cli(['pause', String(id), '--db', url]);
    expect(paused).toMatchObject({ code: 0, stderr: '', stdout: `Task ${id} (job) paused: now paused.\n` });
    expect((await tm.getTask(id))?.status).toBe('paused');
    expect((await tm.getTaskEvents(id, {})).pop()?.event_type).toBe('task_paused');

    let before = await snapshot(tm);
    expectOneLineError(await cli(['pause', String(id), '--db', url]), 1, /Current status: paused.*cannot move from paused to paused/);
    expectOneLineError(await cli(['pause', '987654321', '--db', url]), 4, /Task 987654321 not found/);
    expectOneLineError(await cli(['pause', '1 OR 1=1', '--db', url]), 2, /invalid task id/);
    expectOneLineError(await cli(['pause', '-1', '--db', url]), 2, /unknown option '-1'|invalid task id/);
    expectOneLineError(await cli(['pause', String(id), '--db', 'nosuch://x']), 2, /Unsupported dbConnection/);
    expect(await snapshot(tm)).toEqual(before);

    const resumed = json(await cli(['resume', String(id), '--json', '--reason', 'ops', '--db', url]));
    expect(resumed).toMatchObject({ id, status: 'pending', retry_count: 0 });
    expect(await tm.getTask(id)).toEqual(resumed);

    const cancelled = await cli(['cancel', String(id), '--reason', 'not needed', '--db', url]);
    expect(cancelled).toMatchObject({ code: 0, stdout: `Task ${id} (job) cancelled: now permanently_failed.\n` });
    expect(await tm.getTask(id)).toMatchObject({ status: 'permanently_failed', error: 'not needed' });
    expect((await tm.getTaskEvents(id, {})).pop()).toMatchObject({ event_type: 'task_permanently_failed', metadata: { cancelled: true, error: 'not needed' } });

    before = await snapshot(tm);
    expectOneLineError(await cli(['resume', String(id), '--db', url]), 1, /cannot move from permanently_failed to pending/);
    expectOneLineError(await cli(['cancel', String(id), '--db', url]), 1, /cannot move from permanently_failed to permanently_failed/);
    expect(await snapshot(tm)).toEqual(before);
    expect((await tm.getTask(other))?.status).toBe('pending');
  });

  env.test('signal sends a signal: a waiting task resumes with its data, otherwise it is kept; bad ones change nothing', async () => {
    const { url, tm } = await migrated();
    // a worker of its own puts the tasks in place and stops; `tm` only reads
    const worker = env.manager();
    worker.use('finished', () => null);
    worker.use('waiter', (task) => (task.stage === 0 ? task.waitForSignal('shipped') : task.received_signal));
    const [waiting, finished] = [await worker.async('waiter', {}), await worker.async('finished', {})];
    await worker.start();
    await waitForStatus(tm, waiting, 'suspended');
    await waitForStatus(tm, finished, 'completed');
    await worker.stop();
    const waitingEvents = (await tm.getTaskEvents(waiting, {})).length;

    const before = await snapshot(tm);
    expectOneLineError(await cli(['signal', String(finished), 'shipped', '--db', url]), 1, /has finished \(completed\) and takes no signals/);
    expectOneLineError(await cli(['signal', '987654321', 'shipped', '--db', url]), 4, /Task 987654321 not found/);
    expectOneLineError(await cli(['signal', 'x', 'shipped', '--db', url]), 2, /invalid task id/);
    expectOneLineError(await cli(['signal', String(waiting), 'x'.repeat(256), '--db', url]), 2, /Signal name must be at most 255 characters/);
    expectOneLineError(await cli(['signal', String(waiting), 'shipped', '--data', '{nope', '--db', url]), 2, /--data is not JSON/);
    expect(await snapshot(tm)).toEqual(before);

    const sent = await cli(['signal', String(waiting), 'shipped', '--data', '{"tracking":"JD1"}', '--db', url]);
    expect(sent).toMatchObject({ code: 0, stderr: '', stdout: expect.stringMatching(new RegExp(`^Signal shipped \\(#\\d+\\) sent to task ${waiting}: it was waiting for it and resumed\\.\\n$`)) });
    expect(await tm.getTask(waiting)).toMatchObject({ status: 'pending', stage: 1, received_signal: { name: 'shipped', data: { tracking: 'JD1' }, timed_out: false } });
    expect((await tm.getTaskEvents(waiting, {})).slice(waitingEvents).map((e) => e.event_type)).toEqual(['task_signal_received', 'task_resumed']);
    // the task waits for nothing now: a signal is kept for a later wait
    expect(json(await cli(['signal', String(waiting), 'later', '--json', '--db', url]))).toEqual({ signal_id: expect.any(Number), resumed: false });
    expect((await tm.getTask(waiting))?.status).toBe('pending');
  });

  env.test('pause-name and resume-name pause a task name cluster-wide; status shows paused and limited names with their due tasks', async () => {
    const { url, tm } = await migrated();
    tm.use('send', { handler: () => null, rate_limit: { max: 1, per: 3600 } });
    tm.use('mail', () => null);
    const paused = json(await cli(['pause-name', 'mail', '--reason', 'provider down', '--by', 'ops', '--json', '--db', url]));
    expect(paused).toMatchObject({ changed: true, pause: { name: 'mail', paused_by: 'ops', reason: 'provider down' } });
    expect(await cli(['pause-name', 'mail', '--db', url])).toMatchObject({ code: 0, stderr: '', stdout: expect.stringMatching(/^Name mail was already paused/) });
    const mails = [await tm.async('mail', {}), await tm.async('mail', {})];
    const sends = await tm.asyncMany([{ name: 'send' }, { name: 'send' }, { name: 'send' }]);
    await tm.start();
    try {
      // one start an hour: the first send runs, the other two wait for the window; mail waits for the resume
      await waitFor(async () => (await tm.getTasks({ name: 'send', status: 'completed' })).length === 1, { timeout: 30_000, what: 'one send completed' });
      const report = json(await cli(['status', '--json', '--db', url]));
      expect(report.paused_names).toEqual([{ name: 'mail', paused_at: expect.any(Number), paused_by: 'ops', reason: 'provider down', due_waiting: 2 }]);
      expect(report.limited_names).toEqual([{ name: 'send', limits: { rate_limit: { max: 1, per: 3600 } }, due_waiting: 2 }]);
      const human = await cli(['status', '--db', url]);
      expect(human.stdout).toMatch(/^Paused name: mail since .* by ops \(provider down\), 2 due waiting$/m);
      expect(human.stdout).toMatch(/^Limited name: send: rate 1\/3600s, 2 due waiting$/m);
      for (const id of mails) expect((await tm.getTask(id))?.status).toBe('pending');

      expectOneLineError(await cli(['pause-name', '', '--db', url]), 2, /Task name must be a non-empty string/);
      expectOneLineError(await cli(['pause-name', 'x'.repeat(256), '--db', url]), 2, /at most 255 characters/);
      expect(await cli(['resume-name', 'mail', '--by', 'ops', '--db', url])).toMatchObject({ code: 0, stderr: '', stdout: 'Name mail resumed: workers claim its tasks again.\n' });
      for (const id of mails) await waitForStatus(tm, id, 'completed', 30_000);
      expect(json(await cli(['resume-name', 'mail', '--json', '--db', url]))).toEqual({ changed: false });
      expect((await tm.queryNameEvents()).items.map((e) => e.event_type)).toEqual(['name_paused', 'name_resumed']);
      // the rate window still holds the other two sends back
      expect((await Promise.all(sends.map((id) => tm.getTask(id)))).filter((t) => t?.status === 'pending')).toHaveLength(2);
    } finally {
      await tm.stop();
    }
  });

  env.test('schedules: set creates then updates one row in place, lists it, remove stops it; bad input exits 2 writing nothing', async () => {
    const { url, tm } = await migrated();
    const created = json(await cli(['schedules', 'set', 'nightly', '--name', 'report', '--cron', '0 3 * * *', '--tz', 'Europe/Paris', '--payload', '{"to":"ops"}', '--json', '--db', url]));
    expect(created).toMatchObject({ created: true, key: 'nightly', name: 'report', cron: '0 3 * * *', tz: 'Europe/Paris', every: null, payload: { to: 'ops' }, status: 'pending' });
    // payload only: same row, same next run
    const payload = json(await cli(['schedules', 'set', 'nightly', '--name', 'report', '--cron', '0 3 * * *', '--tz', 'Europe/Paris', '--payload', '{"to":"dev"}', '--json', '--db', url]));
    expect(payload).toMatchObject({ created: false, task_id: created.task_id, next_run_time: created.next_run_time, payload: { to: 'dev' } });
    const human = await cli(['schedules', 'set', 'nightly', '--name', 'report', '--every', '600', '--db', url]);
    expect(human).toMatchObject({ code: 0, stderr: '' });
    expect(human.stdout).toMatch(new RegExp(`^Schedule nightly of report updated: every 600s, next run .* \\(task ${created.task_id}\\)\\.\n$`));
    expect(await tm.getTasks({ name: 'report' })).toMatchObject([{ id: created.task_id, cron_expr: '@every 600s', payload: {} }]);
    const list = await cli(['schedules', '--db', url]);
    expect(list).toMatchObject({ code: 0, stderr: '' });
    expect(list.stdout).toMatch(/^KEY +NAME +SCHEDULE +TZ +STATUS/);
    expect(list.stdout).toMatch(new RegExp(`^nightly +report +every 600s +pending +\\S+ +${created.task_id}$`, 'm'));
    expect(json(await cli(['schedules', 'list', '--name', 'other', '--json', '--db', url]))).toMatchObject({ items: [], total: 0 });
    const before = await snapshot(tm);
    expectOneLineError(await cli(['schedules', 'set', 'k', '--name', 'report', '--cron', 'nope', '--db', url]), 2, /Invalid cron expression: nope/);
    expectOneLineError(await cli(['schedules', 'set', 'k', '--name', 'report', '--db', url]), 2, /exactly one of cron .* and every/);
    expectOneLineError(await cli(['schedules', 'set', 'k', '--name', 'report', '--cron', '* * * * *', '--every', '5', '--db', url]), 2, /exactly one of cron/);
    expectOneLineError(await cli(['schedules', 'set', 'k', '--name', 'report', '--every', '0', '--db', url]), 2, /positive integer/);
    expectOneLineError(await cli(['schedules', 'set', 'k', '--name', 'report', '--every', '5', '--payload', '{nope', '--db', url]), 2, /--payload must be JSON/);
    expectOneLineError(await cli(['schedules', 'set', 'k', '--name', 'report', '--cron', '* * * * *', '--tz', 'Mars/Base', '--db', url]), 2, /unknown time zone/);
    expectOneLineError(await cli(['schedules', 'set', '', '--name', 'report', '--every', '5', '--db', url]), 2, /schedule key must be a non-empty string/);
    expectOneLineError(await cli(['schedules', 'set', 'k', '--every', '5', '--db', url]), 2, /--name/);
    expect(await snapshot(tm)).toEqual(before);
    expect(await cli(['schedules', 'remove', 'nightly', '--name', 'report', '--db', url])).toMatchObject({ code: 0, stderr: '', stdout: 'Schedule nightly of report removed: no further runs.\n' });
    expect(json(await cli(['schedules', 'remove', 'nightly', '--name', 'report', '--json', '--db', url]))).toEqual({ removed: false });
    expect(await tm.getTask(created.task_id)).toMatchObject({ status: 'permanently_failed', error: 'Schedule removed' });
    expect((await cli(['schedules', '--db', url])).stdout).toBe('No schedules (0 match).\n');
  });

  env.test('retry: a failed task runs now, a permanently failed one starts over; others are refused', async () => {
    const { url, tm } = await migrated();
    tm.use('boom', () => {
      throw new Error('boom');
    });
    const exhausted = await tm.async('boom', {}, { max_retries: 1 });
    const waiting = await tm.async('boom', {}, { max_retries: 3, retry_interval: 3600 });
    const reader = await runToEnd(tm, async () => {
      await waitForStatus(tm, exhausted, 'permanently_failed');
      await waitForStatus(tm, waiting, 'failed');
    });
    const pending = await handlers(reader, 'job').async('job', {});

    const waitingBefore = (await reader.getTask(waiting))!;
    expect(waitingBefore.next_run_time).toBeGreaterThan(Date.now() + 3_000_000);
    const r1 = json(await cli(['retry', String(waiting), '--json', '--db', url]));
    expect(r1).toMatchObject({ id: waiting, status: 'pending', retry_count: 1 });
    expect(r1.next_run_time).toBeLessThanOrEqual(Date.now());
    expect(await reader.getTask(waiting)).toEqual(r1);

    const r2 = await cli(['retry', String(exhausted), '--db', url]);
    expect(r2).toMatchObject({ code: 0, stderr: '', stdout: `Task ${exhausted} (boom) retried: now pending.\n` });
    expect(await reader.getTask(exhausted)).toMatchObject({ status: 'pending', retry_count: 0, stage: 0 });
    expect((await reader.getTaskEvents(exhausted, {})).pop()).toMatchObject({
      event_type: 'task_retry_scheduled',
      from_status: 'permanently_failed',
      to_status: 'pending',
      metadata: { manual: true, retry_count: 0, previous_status: 'permanently_failed' },
    });

    const before = await snapshot(reader);
    expectOneLineError(await cli(['retry', String(pending), '--db', url]), 1, /cannot move from pending to pending/);
    expectOneLineError(await cli(['retry', '987654321', '--db', url]), 4, /Task 987654321 not found/);
    expectOneLineError(await cli(['retry', "1'; DROP TABLE taskmill_tasks; --", '--db', url]), 2, /invalid task id/);
    expect(await snapshot(reader)).toEqual(before);

    // the retried tasks really run again
    const runner = env.manager();
    let runs = 0;
    runner.use('boom', () => {
      runs++;
      return 'ok now';
    });
    runner.use('job', () => 1);
    await runner.start();
    await waitForStatus(runner, exhausted, 'completed');
    await waitForStatus(runner, waiting, 'completed');
    expect(runs).toBe(2);
  });

  env.test('workers: the registry with each worker’s running tasks', async () => {
    const { url, tm } = await migrated();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    tm.use('hold', () => gate);
    const held = await tm.async('hold', {});
    await tm.start();
    await waitForStatus(tm, held, 'running');
    const workerId = (await tm.getTask(held))!.worker_id!;
    try {
      const list = json(await cli(['workers', '--json', '--db', url]));
      expect(list).toEqual([expect.objectContaining({ worker_id: workerId, status: 'active', running_tasks: 1, pid: process.pid })]);
      expect(json(await cli(['workers', '--json', '--status', 'dead', '--db', url]))).toEqual([]);
      const human = await cli(['workers', '--db', url]);
      expect(human).toMatchObject({ code: 0, stderr: '' });
      expect(human.stdout).toMatch(/^WORKER\s+POD\s+STATUS\s+HOST\s+PID\s+RUNNING/m);
      expect(human.stdout).toMatch(new RegExp(`^${workerId}\\s+active\\s+\\S+\\s+${process.pid}\\s+1\\s`, 'm'));
      expectOneLineError(await cli(['workers', '--status', 'zombie', '--db', url]), 2, /'zombie' is invalid/);
    } finally {
      release();
    }
    await waitForStatus(tm, held, 'completed');
    await tm.stop();
    await waitFor(async () => (await cli(['workers', '--json', '--status', 'dead', '--db', url])).stdout.includes(workerId), { what: 'worker marked dead' });
  });
});

describeBackends('taskmill CLI on PostgreSQL schemas', sharedBackends().filter((b) => b.name === 'postgres'), (env) => {
  env.test('--schema picks the schema like ?schema= does; contradicting them is refused', async () => {
    const tm = handlers(await env.isolated(), 'job');
    const conn = env.db().processConnection;
    if (conn.kind !== 'postgres') throw new Error('expected a PostgreSQL connection');
    expect(await cli(['migrate', '--db', conn.url, '--schema', conn.schema])).toMatchObject({ code: 0 });
    const id = await tm.async('job', {});
    expect(json(await cli(['tasks', '--json', '--db', conn.url, '--schema', conn.schema])).items.map((t: any) => t.id)).toEqual([id]);
    expectOneLineError(await cli(['tasks', '--db', `${conn.url}&schema=other`, '--schema', conn.schema]), 2, /contradicts/);
    expectOneLineError(await cli(['tasks', '--db', conn.url, '--schema', 'bad-name;drop']), 2, /Invalid PostgreSQL schema name/);
  });
});

describe('taskmill CLI without a reachable database', () => {
  it('an unreachable server, a bad URL or no URL: one clear line, a non-zero exit', async () => {
    expectOneLineError(await cli(['status', '--db', 'postgres://postgres@127.0.0.1:1/x']), 3, /PostgreSQL is unavailable/);
    expectOneLineError(await cli(['pause', '1', '--db', 'mysql://root@127.0.0.1:1/x']), 3, /MySQL is unavailable/);
    expectOneLineError(await cli(['tasks', '--db', 'postgres://']), 2, /PostgreSQL/);
    expectOneLineError(await cli(['tasks', '--db', 'redis://127.0.0.1']), 2, /Unsupported dbConnection/);
    expectOneLineError(await cli(['tasks', '--db', 'sqlite::memory:']), 2, /database file/);
    expectOneLineError(await cli(['tasks', '--schema', 'x', '--db', 'mysql://root@127.0.0.1:1/x']), 2, /PostgreSQL connections only/);
    expectOneLineError(await cli(['status']), 2, /no database: pass --db <url> or set TASKMILL_DB/);
    expectOneLineError(await cli(['dashboard']), 2, /no database: pass --db <url> or set TASKMILL_DB/);
    expectOneLineError(await cli(['frobnicate']), 2, /unknown command 'frobnicate'/);
  });

  it('a misspelt command or option: one line that names the nearest one', async () => {
    expectOneLineError(await cli(['statsu']), 2, /^taskmill: unknown command 'statsu' \(did you mean 'status'\?\)$/);
    expectOneLineError(await cli(['tasks', '--stauts', 'failed']), 2, /^taskmill: unknown option '--stauts' \(did you mean '--status'\?\)$/);
  });

  it('a missing SQLite file is reported, not created (only migrate creates it)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'taskmill-cli-'));
    try {
      const file = join(dir, 'typo.db');
      expectOneLineError(await cli(['status', '--db', `sqlite:${file}`]), 2, /SQLite database file not found/);
      expect(existsSync(file)).toBe(false);
      expect((await cli(['migrate', '--db', `sqlite:${file}`])).code).toBe(0);
      expect(existsSync(file)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--help on every command and the exit codes in the main help', async () => {
    const main = await cli(['--help']);
    expect(main.code).toBe(0);
    expect(main.stdout).toContain('Exit codes:');
    for (const command of ['migrate', 'status', 'tasks', 'inspect', 'pause', 'resume', 'cancel', 'retry', 'bulk', 'workers', 'schedules list', 'schedules set', 'schedules remove']) {
      const help = await cli([...command.split(' '), '--help']);
      expect(help.code, command).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^Usage: taskmill ${command} `, 'm'));
      expect(help.stdout).toContain('--db <url>');
      expect(help.stdout).toContain('--json');
    }
    expect((await cli([])).code).toBe(2);
  });
});
