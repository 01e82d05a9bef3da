import { execFileSync } from 'node:child_process';
import { MYSQL_URL, PG_URL, type Backend, type ProcessConnection } from './backends.js';
import type { WorkerProcess } from './processes.js';
import { workerRowLocked } from './row-locks.js';

/*
 * Faults to inject, shared by the fault tests and the fault matrix (`pnpm faults`, faults/run.ts).
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What names a test database's sessions on its server: the MySQL database, or the PostgreSQL schema (sent as application_name). */
export function sessionTag(connection: ProcessConnection): string {
  return connection.kind === 'string' ? new URL(connection.url).pathname.slice(1) : connection.schema;
}

/** Kill every server connection of one test database (or schema), as an outage would; returns how many. */
export async function killConnections(backend: Backend, tag: string): Promise<number> {
  if (backend.name === 'postgres') {
    const { default: pg } = await import('postgres');
    const sql = pg(PG_URL, { max: 1, onnotice: () => {} });
    try {
      const rows = await sql`SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
        WHERE pid <> pg_backend_pid() AND application_name = ${tag}`;
      return rows.length;
    } finally {
      await sql.end({ timeout: 1 });
    }
  }
  const { default: my } = await import('mysql2/promise');
  const conn = await my.createConnection({ uri: MYSQL_URL });
  try {
    const [rows] = await conn.query('SELECT id FROM information_schema.PROCESSLIST WHERE db = ? AND id <> CONNECTION_ID()', [tag]);
    for (const row of rows as Array<{ id: number }>) await conn.query(`KILL ${Number(row.id)}`).catch(() => undefined);
    return (rows as unknown[]).length;
  } finally {
    await conn.end();
  }
}

/**
 * Freeze `victim` (SIGSTOP) while one of its transactions holds its registry row locked (or what
 * `locked` looks for): stop it, look, and if not let it run a moment and try again. Resolves to when
 * it was frozen. The victim should heartbeat its lease often (every 20 ms) for this to be quick.
 */
export async function freezeInsideTransaction(
  victim: WorkerProcess,
  connection: ProcessConnection,
  locked: () => Promise<boolean> = () => workerRowLocked(connection, victim.worker_id),
): Promise<number> {
  for (let attempt = 0; attempt < 400; attempt++) {
    victim.child.kill('SIGSTOP');
    const frozenAt = Date.now();
    await sleep(20);
    if (await locked()) return frozenAt;
    victim.child.kill('SIGCONT');
    await sleep(5 + Math.random() * 25);
  }
  throw new Error('never caught the worker inside a transaction holding its registry row');
}

/**
 * True when some process holds the SQLite file's write lock right now (a write transaction of it
 * is open). Asks with `BEGIN IMMEDIATE` and no busy wait, and rolls back at once.
 */
export async function sqliteWriteLocked(url: string): Promise<boolean> {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(url.replace(/^sqlite:/, ''), { timeout: 0 });
  try {
    db.exec('BEGIN IMMEDIATE');
    db.exec('ROLLBACK');
    return false;
  } catch (error) {
    if ((error as { code?: string }).code === 'SQLITE_BUSY') return true;
    throw error;
  } finally {
    db.close();
  }
}

/**
 * Freeze `victim` (SIGSTOP) outside any transaction of its that holds a lock others need. On
 * SQLite that is the file's write lock, which no server can take back from a frozen process
 * (docs/failure-model.md): SIGSTOP, look, and if it holds the lock let it run a moment and try
 * again. On the server stores any moment will do: a session left inside a transaction is cut by
 * the store's idle limit (see freezeInsideTransaction for that case). Resolves to when it froze.
 */
export async function freezeBetweenTransactions(victim: WorkerProcess, connection: ProcessConnection): Promise<number> {
  const sqlite = connection.kind === 'string' && connection.url.startsWith('sqlite:');
  for (let attempt = 0; attempt < 400; attempt++) {
    victim.child.kill('SIGSTOP');
    const frozenAt = Date.now();
    if (!sqlite || !(await sqliteWriteLocked(connection.url))) return frozenAt;
    victim.child.kill('SIGCONT');
    await sleep(5 + Math.random() * 25);
  }
  throw new Error('never caught the worker outside a write transaction');
}

/**
 * Restart the local database server of `backend` (PostgreSQL with pg_ctlcluster, MariaDB with a
 * shutdown and a fresh mariadbd), waiting until it answers again. Every session of every database
 * on it is cut: only for the fault matrix, never inside the test suite, whose files share the server.
 */
export async function restartServer(backend: Backend): Promise<void> {
  if (backend.name === 'postgres') {
    const version = execFileSync('ls', ['/etc/postgresql']).toString().trim().split('\n')[0];
    execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart'], { stdio: 'ignore' });
  } else {
    execFileSync('mariadb-admin', ['-uroot', '-h127.0.0.1', 'shutdown'], { stdio: 'ignore' });
    // start-stop-daemon --oknodo starts nothing while the old server is still shutting down
    for (let i = 0; i < 600 && mariadbRunning(); i++) await sleep(100);
    execFileSync('start-stop-daemon', ['--start', '--oknodo', '--background', '--exec', '/usr/sbin/mariadbd'], { stdio: 'ignore' });
  }
  for (let i = 0; i < 300; i++) {
    if (backend.name === 'postgres' ? pingPostgres() : pingMariadb()) return;
    await sleep(100);
  }
  throw new Error(`${backend.name} did not come back within 30 s`);
}

function pingPostgres(): boolean {
  try {
    execFileSync('pg_isready', ['-h', '127.0.0.1', '-p', '5432', '-q'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function mariadbRunning(): boolean {
  try {
    execFileSync('pgrep', ['-x', 'mariadbd'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function pingMariadb(): boolean {
  try {
    execFileSync('mariadb-admin', ['-uroot', '-h127.0.0.1', '--connect-timeout=1', 'ping'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
