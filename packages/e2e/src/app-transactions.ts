import type { Backend, BackendDb } from './backends.js';

/*
 * The application's own transaction on a test database, with the application's own connection
 * (its copy of the driver, not the store's): for `tm.within(tx)`. One per shared backend:
 * better-sqlite3 `db.transaction(fn)` (synchronous), postgres-js `sql.begin`, a mysql2
 * connection after `beginTransaction()`. Also raw row counts through that connection.
 */

/** Thrown inside an application transaction to roll it back. */
const ROLLBACK = new Error('roll back');

export interface AppDatabase {
  /** The transaction function is synchronous (better-sqlite3): `during` cannot run inside it. */
  sync: boolean;
  /**
   * Open a transaction, call `body` with its handle (for a sync kind, `body` must do its work
   * during the call), await `during` while it is open (async kinds), then commit or roll back by
   * throwing inside it. Resolves to what `body`'s promise resolved to.
   */
  run<T>(outcome: 'commit' | 'rollback', body: (tx: unknown) => Promise<T>, during?: () => Promise<void>): Promise<T>;
  /** Rows of taskmill_tasks, taskmill_task_events and taskmill_task_attempts. */
  counts(): Promise<{ tasks: number; events: number; attempts: number }>;
  close(): Promise<void>;
}

const TABLES = ['taskmill_tasks', 'taskmill_task_events', 'taskmill_task_attempts'] as const;

/** The application's connection to `db` of `backend` (not for sqlite-memory, whose database only its store can reach). */
export async function appDatabase(backend: Backend, db: BackendDb): Promise<AppDatabase> {
  const connection = db.processConnection;
  if (backend.name === 'sqlite-file' && connection.kind === 'string') {
    const { default: Database } = await import('better-sqlite3');
    const sqlite = new Database(connection.url.slice('sqlite:'.length));
    sqlite.pragma('busy_timeout = 5000');
    return {
      sync: true,
      async run(outcome, body) {
        let result!: Promise<Awaited<ReturnType<typeof body>>>;
        try {
          sqlite.transaction(() => {
            result = body(sqlite) as never;
            if (outcome === 'rollback') throw ROLLBACK;
          })();
        } catch (error) {
          if (error !== ROLLBACK) throw error;
        }
        return result;
      },
      async counts() {
        const [tasks, events, attempts] = TABLES.map((t) => Number((sqlite.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n));
        return { tasks, events, attempts };
      },
      async close() {
        sqlite.close();
      },
    };
  }
  if (backend.name === 'postgres' && connection.kind === 'postgres') {
    const { default: pg } = await import('postgres');
    const sql = pg(connection.url, { max: 2, onnotice: () => {} });
    return {
      sync: false,
      async run(outcome, body, during) {
        let result!: Awaited<ReturnType<typeof body>>;
        try {
          await sql.begin(async (tx) => {
            result = await body(tx);
            await during?.();
            if (outcome === 'rollback') throw ROLLBACK;
          });
        } catch (error) {
          if (error !== ROLLBACK) throw error;
        }
        return result;
      },
      async counts() {
        const [tasks, events, attempts] = await Promise.all(
          TABLES.map(async (t) => Number((await sql`SELECT COUNT(*) AS n FROM ${sql(`${connection.schema}.${t}`)}`)[0].n)),
        );
        return { tasks, events, attempts };
      },
      close: () => sql.end({ timeout: 1 }),
    };
  }
  if (backend.name === 'mysql' && connection.kind === 'string') {
    const { default: my } = await import('mysql2/promise');
    const conn = await my.createConnection({ uri: connection.url });
    return {
      sync: false,
      async run(outcome, body, during) {
        await conn.beginTransaction();
        try {
          const result = await body(conn);
          await during?.();
          await (outcome === 'commit' ? conn.commit() : conn.rollback());
          return result;
        } catch (error) {
          await conn.rollback();
          throw error;
        }
      },
      async counts() {
        const out: number[] = [];
        for (const t of TABLES) {
          const [rows] = await conn.query(`SELECT COUNT(*) AS n FROM ${t}`);
          out.push(Number((rows as Array<{ n: number }>)[0].n));
        }
        return { tasks: out[0], events: out[1], attempts: out[2] };
      },
      close: () => conn.end(),
    };
  }
  throw new Error(`no application transaction for backend ${backend.name}`);
}
