/*
 * An application outside the workspace that uses taskmill as users get it: the built packages
 * are packed with `pnpm pack` (workspace:* ranges become versions, only `files` ship) and
 * installed from the tarballs with npm in a fresh temp directory, everything else (drizzle-orm,
 * cron-parser, …) from the npm registry. Used by test/packed-app.test.ts.
 */
import { execFile, fork, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const WORKSPACE = fileURLToPath(new URL('../../..', import.meta.url));
const WORKER_SCRIPT = fileURLToPath(new URL('./packed-app-worker.mjs', import.meta.url));
/** The packages the app installs from tarballs, dependencies first. */
const PACKED = ['contracts', 'store-kit', 'audit', 'retention', 'core', 'store-postgres'] as const;

/** An installed app in a temp directory. */
export interface PackedApp {
  /** The app's directory (its node_modules holds the installed tarballs). */
  dir: string;
  /** Remove the temp directory. */
  cleanup(): void;
}

function run(cmd: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeout: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { ...options, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${cmd} ${args.join(' ')} failed in ${options.cwd}: ${error.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/**
 * The environment of a process in the app, without what pnpm, vitest or tsx put in ours
 * (npm_config_* settings meant for pnpm, NODE_OPTIONS loaders, the source export condition).
 */
function appEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|pnpm_|NODE_OPTIONS$|INIT_CWD$|VITEST|TSX)/i.test(key)) continue;
    env[key] = value;
  }
  return env;
}

/**
 * Pack the built @taskmill/contracts, store-kit, audit, retention, core and store-postgres, and
 * install the tarballs with npm into a fresh app in the OS temp directory. `overrides` make every
 * @taskmill/* dependency (also core's own dependencies on contracts, audit and retention, and the
 * store's on store-kit) resolve to a tarball, never the registry.
 */
export async function createPackedApp(): Promise<PackedApp> {
  const root = mkdtempSync(join(tmpdir(), 'taskmill-packed-'));
  const cleanup = () => rmSync(root, { recursive: true, force: true });
  try {
    for (const name of PACKED) {
      // turbo runs the e2e tests after `^build`; a direct vitest run needs `pnpm build` first
      if (!existsSync(join(WORKSPACE, 'packages', name, 'dist/index.js'))) {
        throw new Error(`packages/${name}/dist is missing: build the packages first (pnpm build)`);
      }
    }
    const tarballs = join(root, 'tarballs');
    mkdirSync(tarballs);
    const specs: Record<string, string> = {};
    for (const name of PACKED) {
      await run('pnpm', ['pack', '--pack-destination', tarballs], { cwd: join(WORKSPACE, 'packages', name), timeout: 120_000 });
      const file = readdirSync(tarballs).find((f) => f.startsWith(`taskmill-${name}-`) && f.endsWith('.tgz'));
      if (!file) throw new Error(`pnpm pack left no tarball for @taskmill/${name} in ${tarballs}`);
      specs[`@taskmill/${name}`] = `file:${join(tarballs, file)}`;
    }
    const dir = join(root, 'app');
    mkdirSync(dir);
    const overrides = Object.fromEntries(Object.keys(specs).map((name) => [name, `$${name}`]));
    writeFileSync(
      join(dir, 'package.json'),
      `${JSON.stringify({ name: 'taskmill-packed-app', private: true, type: 'module', dependencies: specs, overrides }, null, 2)}\n`,
    );
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], { cwd: dir, env: appEnv(), timeout: 240_000 });
    copyFileSync(WORKER_SCRIPT, join(dir, 'worker.mjs'));
    return { dir, cleanup };
  } catch (error) {
    cleanup();
    throw error;
  }
}

/** Run an ESM script in the app (its own node_modules only); resolves to what it printed on stdout. */
export async function runInApp(app: PackedApp, script: string, args: string[] = []): Promise<string> {
  const file = join(app.dir, `script-${process.pid}-${Date.now()}.mjs`);
  writeFileSync(file, script);
  try {
    return await run(process.execPath, [file, ...args], { cwd: app.dir, env: appEnv(), timeout: 60_000 });
  } finally {
    rmSync(file, { force: true });
  }
}

/** A worker process running in the app. */
export interface PackedWorker {
  child: ChildProcess;
  /** Everything it printed so far, stdout and stderr interleaved. */
  output(): string;
  /** Exit code, or the signal's name; null while it runs. */
  exit(): number | string | null;
  /** Resolves once it exits. */
  exited: Promise<number | string | null>;
  /** Ask it to stop gracefully; resolves with its exit code (kills it after `timeout` ms). */
  stop(timeout?: number): Promise<number | string | null>;
}

/** Start the app's worker (packed-app-worker.mjs) on `schema`; resolves once it has started. */
export function startPackedWorker(app: PackedApp, connection: { url: string; schema: string }): Promise<PackedWorker> {
  const child = fork(join(app.dir, 'worker.mjs'), [JSON.stringify(connection)], {
    cwd: app.dir,
    env: appEnv(),
    execArgv: [],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  let exitState: number | string | null = null;
  const exited = new Promise<number | string | null>((resolve) => {
    child.once('exit', (code, signal) => {
      exitState = code ?? signal ?? 'unknown';
      resolve(exitState);
    });
  });
  const worker: PackedWorker = {
    child,
    output: () => output,
    exit: () => exitState,
    exited,
    async stop(timeout = 30_000) {
      if (exitState !== null) return exitState;
      child.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`packed worker did not start within 60 s:\n${output}`));
    }, 60_000);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`packed worker exited with ${code} before it started:\n${output}`));
    });
    child.on('message', (message: { type?: string }) => {
      if (message?.type !== 'ready') return;
      clearTimeout(timer);
      resolve(worker);
    });
  });
}
