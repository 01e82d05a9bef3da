import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/*
 * Database servers of a test's own: a PostgreSQL or MariaDB instance on a free loopback port, in a
 * temporary data directory, that the test may stop and start at will. The suite's test files run
 * in parallel on the shared local servers, so a test that restarts a server must not use those.
 *
 * Every step has a timeout and fails with an error that names the step and ends with the server's
 * log. Servers still running when the process exits (a failed test, an interrupted run) are killed
 * by their pid and their directories removed.
 */

export type PrivateServerKind = 'postgres' | 'mariadb';

/** A running (or stopped) private server. */
export interface PrivateServer {
  readonly kind: PrivateServerKind;
  /** Its loopback port; kept across restarts. */
  readonly port: number;
  /** A connection string for `database` on it, as the superuser (no password). */
  url(database: string): string;
  /** Stop at once, as a crash would: no checkpoint, every session cut. Resolves once the server process is gone. */
  stop(): Promise<void>;
  /** Start it again on the same port and data; resolves once it answers queries. */
  start(): Promise<void>;
  /** Stop it (if running) and remove its directory. Safe to call twice. */
  destroy(): Promise<void>;
  /** The last lines of its log, for error messages. */
  logTail(lines?: number): string;
}

const STEP_TIMEOUT_MS = 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Null when `kind` can be started here, else why not (which binary is missing). */
export function privateServerUnavailable(kind: PrivateServerKind): string | null {
  if (kind === 'postgres') {
    if (!postgresBinDir()) return 'PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin or on PATH; install the postgresql package';
    if (isRoot() && !userExists('postgres')) return 'running as root, PostgreSQL needs the `postgres` OS user to run as, and there is none';
    if (isRoot() && !runuser()) return 'running as root, PostgreSQL must run as `postgres`, and runuser (util-linux) is missing';
    return null;
  }
  if (!mariadbBinaries()) return 'MariaDB server binaries (mariadbd, mariadb-install-db) not found; install the mariadb-server package';
  return null;
}

/** Initialise a fresh data directory, start a server on a free port and wait until it answers. */
export async function startPrivateServer(kind: PrivateServerKind): Promise<PrivateServer> {
  const reason = privateServerUnavailable(kind);
  if (reason) throw new Error(`Cannot start a private ${kind} server: ${reason}`);
  const server = kind === 'postgres' ? new PostgresServer() : new MariadbServer();
  track(server);
  try {
    await server.init();
    // a free port can be taken between looking and binding: try another one then
    for (let attempt = 1; ; attempt++) {
      server.port = await freePort();
      try {
        await server.start();
        return server;
      } catch (error) {
        if (attempt >= 3 || !/address already in use|bind on tcp\/ip port/i.test(server.logTail(50))) throw error;
      }
    }
  } catch (error) {
    await server.destroy().catch(() => undefined);
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------

abstract class BaseServer implements PrivateServer {
  abstract readonly kind: PrivateServerKind;
  port = 0;
  readonly dir = mkdtempSync(join(tmpdir(), 'taskmill-private-db-'));
  protected readonly log = join(this.dir, 'server.log');
  private destroyed = false;

  abstract url(database: string): string;
  abstract init(): Promise<void>;
  abstract stop(): Promise<void>;
  abstract start(): Promise<void>;
  /** Kill the server synchronously by its pid (process exit, when nothing async runs any more). */
  abstract killNow(): void;
  /** One query on the server, or a rejection. */
  protected abstract ping(): Promise<void>;

  logTail(lines = 20): string {
    const text = existsSync(this.log) ? readFileSync(this.log, 'utf8') : '(no log written)';
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    try {
      await this.stop();
    } finally {
      live.delete(this);
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  /** Remove synchronously; after `killNow`. */
  removeNow(): void {
    this.destroyed = true;
    rmSync(this.dir, { recursive: true, force: true });
  }

  protected failure(step: string, detail: string): Error {
    return new Error(`private ${this.kind} server (port ${this.port}, ${this.dir}): ${step} failed: ${detail}\n--- server log (last lines) ---\n${this.logTail()}`);
  }

  /** Run a command to its end within the step timeout; fail naming the step, with its output and the server log. */
  protected run(step: string, file: string, args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(file, args, { timeout: STEP_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        const why = error.killed ? `timed out after ${STEP_TIMEOUT_MS} ms` : `exit code ${String(error.code)}`;
        const output = `${stdout}${stderr}`.trim().split('\n').slice(-15).join('\n');
        reject(this.failure(step, `\`${[file, ...args].join(' ')}\`: ${why}\n${output}`));
      });
    });
  }

  /** Wait until the server answers a query; stop early when `gone()` says the process died. */
  protected async waitUntilAnswers(step: string, gone: () => boolean): Promise<void> {
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    let last: unknown;
    for (;;) {
      try {
        await this.ping();
        return;
      } catch (error) {
        last = error;
      }
      if (gone()) throw this.failure(step, `the server process exited before it answered (${(last as Error).message})`);
      if (Date.now() > deadline) throw this.failure(step, `no answer within ${STEP_TIMEOUT_MS} ms (${(last as Error).message})`);
      await sleep(100);
    }
  }
}

class PostgresServer extends BaseServer {
  readonly kind = 'postgres' as const;
  private readonly bin = postgresBinDir()!;
  private readonly data = join(this.dir, 'data');

  constructor() {
    super();
    // PostgreSQL refuses to run as root: it runs as `postgres`, which must own its directories
    if (isRoot()) chownSync(this.dir, userId('postgres', '-u'), userId('postgres', '-g'));
  }

  url(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** A command of the PostgreSQL binaries, as `postgres` when this process is root. */
  private pg(step: string, tool: string, args: string[]): Promise<string> {
    const file = join(this.bin, tool);
    return isRoot() ? this.run(step, runuser()!, ['-u', 'postgres', '--', file, ...args]) : this.run(step, file, args);
  }

  async init(): Promise<void> {
    await this.pg('initdb', 'initdb', ['-D', this.data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
  }

  async start(): Promise<void> {
    // fsync off: a test's data need not survive the host, and the restarts stay quick
    const options = `-p ${this.port} -k '${this.dir}' -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
    await this.pg('start (pg_ctl start)', 'pg_ctl', ['-D', this.data, '-l', this.log, '-w', '-t', String(STEP_TIMEOUT_MS / 1000), '-o', options, 'start']);
    await this.waitUntilAnswers('start (first query)', () => this.pid() === null);
  }

  async stop(): Promise<void> {
    if (this.pid() === null) return;
    await this.pg('stop (pg_ctl stop -m immediate)', 'pg_ctl', ['-D', this.data, '-m', 'immediate', '-w', '-t', String(STEP_TIMEOUT_MS / 1000), 'stop']);
  }

  killNow(): void {
    const pid = this.pid();
    // SIGQUIT is PostgreSQL's immediate shutdown: the postmaster takes its backends down with it
    if (pid !== null) signal(pid, 'SIGQUIT');
  }

  /** The postmaster's pid from its pid file, or null when it is not running. */
  private pid(): number | null {
    const file = join(this.data, 'postmaster.pid');
    if (!existsSync(file)) return null;
    const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : null;
  }

  protected async ping(): Promise<void> {
    const { default: pg } = await import('postgres');
    const sql = pg(this.url('postgres'), { max: 1, connect_timeout: 2, onnotice: () => {} });
    try {
      await sql`select 1`;
    } finally {
      await sql.end({ timeout: 1 }).catch(() => undefined);
    }
  }
}

class MariadbServer extends BaseServer {
  readonly kind = 'mariadb' as const;
  private readonly bins = mariadbBinaries()!;
  private readonly data = join(this.dir, 'data');
  private readonly pidFile = join(this.dir, 'mariadbd.pid');
  private child: ChildProcess | undefined;

  url(database: string): string {
    return `mysql://root@127.0.0.1:${this.port}/${database}`;
  }

  async init(): Promise<void> {
    // root without a password, like the shared server; no host names (no DNS lookups)
    await this.run('mariadb-install-db', this.bins.installDb, [
      '--no-defaults',
      `--datadir=${this.data}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      '--skip-name-resolve',
      ...(isRoot() ? ['--user=root'] : []),
    ]);
  }

  async start(): Promise<void> {
    // --no-defaults: the host's my.cnf names the shared server's port, socket and data
    const args = [
      '--no-defaults',
      `--datadir=${this.data}`,
      `--port=${this.port}`,
      `--socket=${join(this.dir, 'mariadbd.sock')}`,
      '--bind-address=127.0.0.1',
      `--pid-file=${this.pidFile}`,
      `--log-error=${this.log}`,
      `--tmpdir=${this.dir}`,
      '--skip-name-resolve',
      '--character-set-server=utf8mb4',
      '--collation-server=utf8mb4_general_ci',
      '--innodb-buffer-pool-size=64M',
      '--innodb-log-file-size=16M',
      // commits reach the OS at once, so a killed server loses none of them (a crashed host could)
      '--innodb-flush-log-at-trx-commit=2',
      ...(isRoot() ? ['--user=root'] : []),
    ];
    // a second mariadbd would wait on the first one's data files while the first answers in its place
    if (this.running()) throw this.failure('start (mariadbd)', `already running (pid ${this.child!.pid})`);
    const child = spawn(this.bins.server, args, { stdio: 'ignore' });
    child.unref();
    this.child = child;
    let spawnError: Error | undefined;
    child.once('error', (error) => (spawnError = error));
    await this.waitUntilAnswers('start (mariadbd)', () => spawnError !== undefined || child.exitCode !== null || child.signalCode !== null);
  }

  private running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.running()) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    const timedOut = await Promise.race([exited.then(() => false), sleep(STEP_TIMEOUT_MS).then(() => true)]);
    if (timedOut) throw this.failure('stop (SIGKILL)', `mariadbd (pid ${child.pid}) had not exited after ${STEP_TIMEOUT_MS} ms`);
    // the pid file of a killed server stays behind; the next start must not take it for a live one
    rmSync(this.pidFile, { force: true });
  }

  killNow(): void {
    if (this.child?.pid && this.running()) signal(this.child.pid, 'SIGKILL');
  }

  protected async ping(): Promise<void> {
    const { default: my } = await import('mysql2/promise');
    const conn = await my.createConnection({ uri: this.url(''), connectTimeout: 2000 });
    try {
      await conn.query('SELECT 1');
    } finally {
      await conn.end().catch(() => undefined);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Servers still running when the process exits are killed by pid: an afterAll that never ran (a
// crash, a timeout, an interrupted run) must not leave servers behind on the machine.

const live = new Set<BaseServer>();
let hooked = false;

/** Remember a server until it is destroyed; the first one hooks process exit and the terminating signals. */
function track(server: BaseServer): void {
  live.add(server);
  if (hooked) return;
  hooked = true;
  process.once('exit', killAll);
  // a terminating signal skips 'exit' handlers: clean up, then die of the same signal as before
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAll();
      process.kill(process.pid, sig);
    });
  }
}

function killAll(): void {
  for (const server of live) {
    try {
      server.killNow();
      server.removeNow();
    } catch {
      // best effort: the process is going away
    }
  }
  live.clear();
}

// ---------------------------------------------------------------------------------------------

/** A loopback port nobody listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => (port > 0 ? resolve(port) : reject(new Error('could not read the probe socket port'))));
    });
  });
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

function userExists(name: string): boolean {
  try {
    execFileSync('id', ['-u', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function userId(name: string, flag: '-u' | '-g'): number {
  return Number(execFileSync('id', [flag, name]).toString().trim());
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** The first of `names` that is an executable file in `dirs` or on PATH. */
function findBinary(names: string[], dirs: string[]): string | null {
  const path = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const dir of [...dirs, ...path]) {
    for (const name of names) {
      const file = join(dir, name);
      if (existsSync(file)) return file;
    }
  }
  return null;
}

/** Debian's PostgreSQL binaries (the newest version installed), else the ones on PATH. */
function postgresBinDir(): string | null {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+(\.\d+)?$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) {
    const bin = join(root, version, 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl'))) return bin;
  }
  const initdb = findBinary(['initdb'], []);
  if (!initdb) return null;
  const bin = initdb.slice(0, -'/initdb'.length);
  return existsSync(join(bin, 'pg_ctl')) ? bin : null;
}

function runuser(): string | null {
  return findBinary(['runuser'], ['/usr/sbin', '/sbin']);
}

function mariadbBinaries(): { server: string; installDb: string } | null {
  const server = findBinary(['mariadbd', 'mysqld'], ['/usr/sbin']);
  const installDb = findBinary(['mariadb-install-db', 'mysql_install_db'], ['/usr/bin']);
  return server && installDb ? { server, installDb } : null;
}
