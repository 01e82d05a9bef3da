import { execFile, spawn } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { TaskManager } from '@taskmill/core';
import { connectionUrl as dbUrl, sharedBackends, type BackendDb } from '../src/backends.js';
import { describeBackends, waitFor } from '../src/harness.js';

/*
 * The operator's tools on a machine whose clock is off: the built `taskmill` bin (and the dashboard
 * it serves) run in a child process whose `Date.now()` is 30 s ahead of or behind the host's (the
 * skew-clock preload). What they write (due times, event times) and what they judge against stored
 * times (due now, ages, lease expiry, the retention cutoff) must be on the database's clock, which
 * is this test process's: the databases run on this host.
 */

const BIN = fileURLToPath(new URL('../node_modules/@taskmill/cli/dist/bin.js', import.meta.url));
const SKEW_PRELOAD = fileURLToPath(new URL('../src/skew-clock.mjs', import.meta.url));
const SKEW_MS = 30_000;
const SKEWS = [SKEW_MS, -SKEW_MS] as const;
/** Process start-up and one round trip fit in it many times over; a 30 s skew does not. */
const MARGIN_MS = 2000;
const TOKEN = 'correct horse battery staple';

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The node arguments and environment of a process whose `Date.now()` is `skew` ms off. */
function skewed(skew: number): { args: string[]; env: NodeJS.ProcessEnv } {
  const env: NodeJS.ProcessEnv = { ...process.env, TASKMILL_TEST_CLOCK_SKEW_MS: String(skew) };
  delete env.TASKMILL_DB;
  return { args: ['--import', SKEW_PRELOAD, BIN], env };
}

function cli(args: string[], skew: number): Promise<CliResult> {
  const run = skewed(skew);
  return new Promise((resolve) => {
    execFile(process.execPath, [...run.args, ...args], { env: run.env, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function json<T = any>(result: CliResult): T {
  expect(result.code, result.stderr).toBe(0);
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout) as T;
}


/** `value` lies in [from, to], widened by the margin. */
function expectWithin(value: number, from: number, to: number, what: string): void {
  expect(value, `${what}: ${value - from} ms after the start, ${value - to} ms after the end`).toBeGreaterThanOrEqual(from - MARGIN_MS);
  expect(value, `${what}: ${value - from} ms after the start, ${value - to} ms after the end`).toBeLessThanOrEqual(to + MARGIN_MS);
}

function side(skew: number): string {
  return skew > 0 ? 'ahead' : 'behind';
}

/** A form POST of the actions token with this dashboard's own Origin, as curl would send it. */
function post(url: string): Promise<number> {
  const target = new URL(url);
  const body = new URLSearchParams({ token: TOKEN }).toString();
  return new Promise((resolve, reject) => {
    request(
      { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: { Origin: `http://${target.host}`, 'Content-Type': 'application/x-www-form-urlencoded' } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    )
      .on('error', reject)
      .end(body);
  });
}

describeBackends('taskmill CLI and dashboard on a machine whose clock is off', sharedBackends(), (env) => {
  async function migrated(): Promise<{ url: string; tm: TaskManager<any> }> {
    const tm = await env.isolated();
    tm.use('job', () => null);
    const url = dbUrl(env.db());
    expect(await cli(['migrate', '--db', url], 0)).toMatchObject({ code: 0, stderr: '' });
    return { url, tm };
  }

  env.test('pause, resume, cancel and retry write the database’s time: a resumed or retried task is due now, not 30 s off', async () => {
    const { url, tm } = await migrated();
    for (const skew of SKEWS) {
      const id = await tm.async('job', {}, { delay: 3600 });
      const from = Date.now();
      json(await cli(['pause', String(id), '--json', '--db', url], skew));
      const resumed = json(await cli(['resume', String(id), '--json', '--db', url], skew));
      expectWithin(resumed.next_run_time, from, Date.now(), `resumed from a clock ${side(skew)}`);
      json(await cli(['cancel', String(id), '--json', '--db', url], skew));
      const retried = json(await cli(['retry', String(id), '--json', '--db', url], skew));
      const to = Date.now();
      expectWithin(retried.next_run_time, from, to, `retried from a clock ${side(skew)}`);
      const events = (await tm.getTaskEvents(id, {})).slice(1);
      expect(events.map((e) => e.event_type)).toEqual(['task_paused', 'task_status_changed', 'task_permanently_failed', 'task_retry_scheduled']);
      for (const event of events) expectWithin(event.event_time, from, to, `${event.event_type} from a clock ${side(skew)}`);
    }
  });

  env.test('status counts as due now only what is due on the database’s clock, and ages the oldest pending task by it', async () => {
    const { url, tm } = await migrated();
    const due = await tm.async('job', {});
    await tm.async('job', {}, { delay: 10 });
    for (const skew of SKEWS) {
      const from = Date.now();
      const report = json(await cli(['status', '--json', '--db', url], skew));
      const to = Date.now();
      expect(report.due_now, `due now, from a clock ${side(skew)}`).toBe(1);
      expectWithin(report.now, from, to, `the report's time from a clock ${side(skew)}`);
      expect(report.oldest_pending).toMatchObject({ task_id: due });
      const created = (await tm.getTask(due))!.created_at;
      expect(report.oldest_pending.age_seconds * 1000, `age from a clock ${side(skew)}`).toBeLessThanOrEqual(to - created + MARGIN_MS);
      expect(report.oldest_pending.age_seconds * 1000, `age from a clock ${side(skew)}`).toBeGreaterThanOrEqual(from - created - MARGIN_MS);
    }
  });

  env.test('workers shows a live worker as just seen with its lease running, not 30 s silent or expired', async () => {
    const tm = await env.isolated({ worker_heartbeat_timeout: 10_000 });
    const url = dbUrl(env.db());
    expect(await cli(['migrate', '--db', url], 0)).toMatchObject({ code: 0 });
    tm.use('job', () => null);
    await tm.start();
    const workerId = tm.options.worker_id;
    await waitFor(async () => (await tm.getWorker(workerId))?.status === 'active', { what: 'the worker registered' });
    for (const skew of SKEWS) {
      const result = await cli(['workers', '--db', url], skew);
      expect(result.code, result.stderr).toBe(0);
      const row = result.stdout.split('\n').find((line) => line.startsWith(workerId));
      expect(row, result.stdout).toBeDefined();
      const ago = Number(/Z \(([\d.]+)s ago\)/.exec(row!)?.[1]);
      expect(ago, `last seen from a clock ${side(skew)}: ${row}`).toBeLessThan(5);
      expect(row, `lease from a clock ${side(skew)}`).not.toContain('expired');
      const left = Number(/Z \(in ([\d.]+)s\)$/.exec(row!)?.[1]);
      expect(left, `lease left from a clock ${side(skew)}: ${row}`).toBeGreaterThan(0);
      expect(left, `lease left from a clock ${side(skew)}: ${row}`).toBeLessThanOrEqual(10 + MARGIN_MS / 1000);
    }
  });

  env.test('retention run cuts off by the database’s clock: nothing younger than --expire-time goes, older tasks do', async () => {
    const { url, tm } = await migrated();
    // from a clock 30 s ahead, a task cancelled just now must not look 30 s idle
    const fresh = await tm.async('job', {});
    await tm.cancelTask(fresh);
    const ahead = json(await cli(['retention', 'run', '--json', '--expire-time', '10', '--db', url], SKEW_MS));
    expect(ahead.tasks_deleted).toBe(0);
    expect((await tm.getTask(fresh))?.status).toBe('permanently_failed');
    // from a clock 30 s behind, a task idle for 1.5 s is older than --expire-time 1
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const behind = json(await cli(['retention', 'run', '--json', '--expire-time', '1', '--db', url], -SKEW_MS));
    expect(behind.tasks_deleted).toBe(1);
    expect(await tm.getTask(fresh)).toBeNull();
  });

  env.test('a clock more than 1 s off gets one warning line on stderr after a successful command; none with --json, none over an error', async () => {
    const { url } = await migrated();
    for (const skew of SKEWS) {
      const human = await cli(['status', '--db', url], skew);
      expect(human.code).toBe(0);
      expect(human.stdout).toContain('Due now: 0');
      const lines = human.stderr.trimEnd().split('\n');
      expect(lines, human.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^taskmill: warning: this machine's clock is \\d+ ms ${skew > 0 ? 'ahead of' : 'behind'} the database's; `));
      expect(Math.abs(Number(/is (\d+) ms/.exec(lines[0])![1]) - SKEW_MS)).toBeLessThan(MARGIN_MS);
      expect(json(await cli(['status', '--json', '--db', url], skew)).due_now).toBe(0);
      const failed = await cli(['pause', '987654321', '--db', url], skew);
      expect(failed.code).toBe(4);
      expect(failed.stderr).toBe('taskmill: Task 987654321 not found\n');
    }
  });

  env.test('the dashboard served from a machine whose clock is off resumes and retries tasks due now on the database’s clock', async () => {
    const { url, tm } = await migrated();
    for (const skew of SKEWS) {
      const id = await tm.async('job', {}, { delay: 3600 });
      await tm.pauseTask(id);
      const run = skewed(skew);
      const child = spawn(process.execPath, [...run.args, 'dashboard', '--db', url, '--port', '0', '--actions-token', TOKEN], { env: run.env, stdio: ['ignore', 'pipe', 'pipe'] });
      try {
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk) => (stdout += chunk));
        child.stderr.on('data', (chunk) => (stderr += chunk));
        const address = await waitFor(() => /on (http:\/\/127\.0\.0\.1:\d+\/) \(actions enabled\)/.exec(stdout)?.[1], { timeout: 30_000, what: 'the dashboard URL' });
        const from = Date.now();
        expect(await post(`${address}tasks/${id}/resume`)).toBe(303);
        expectWithin((await tm.getTask(id))!.next_run_time!, from, Date.now(), `resumed from a dashboard ${side(skew)}`);
        expect(await post(`${address}tasks/${id}/cancel`)).toBe(303);
        expect(await post(`${address}tasks/${id}/retry`)).toBe(303);
        const to = Date.now();
        const task = (await tm.getTask(id))!;
        expect(task.status).toBe('pending');
        expectWithin(task.next_run_time!, from, to, `retried from a dashboard ${side(skew)}`);
        for (const event of (await tm.getTaskEvents(id, {})).slice(2)) expectWithin(event.event_time, from, to, `${event.event_type} from a dashboard ${side(skew)}`);
        await waitFor(() => stderr.includes('warning'), { timeout: 10_000, what: 'the clock warning' });
        expect(stderr).toMatch(new RegExp(`^taskmill: warning: this machine's clock is \\d+ ms ${skew > 0 ? 'ahead of' : 'behind'} the database's; `));
      } finally {
        const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
        child.kill('SIGINT');
        expect(await exited).toBe(0);
      }
    }
  });
});
