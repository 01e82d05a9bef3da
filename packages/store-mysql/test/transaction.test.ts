import { StoreError, StoreUnavailableError, TaskNotFoundError } from '@taskmill/contracts';
import type { Pool, PoolConnection } from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import type { MysqlConnection } from '../src/connection.js';
import { inPacket, inTransaction, withConnection } from '../src/transaction.js';

/*
 * The transaction wrapper against a scripted fake pool: which failures are retried, which are
 * not, and what reaches the caller. (The real-server behaviour is covered in mysql-store.test.ts.)
 */

function driverError(code: string, errno: number, message = code): Error {
  return Object.assign(new Error(message), { code, errno });
}

interface FakeConn {
  statements: string[];
  released: boolean;
  destroyed: boolean;
}

/**
 * A source whose connections log every statement and answer it with `answer` (which may throw),
 * from a server that says it is MariaDB unless `mariadb` is false.
 */
function scriptedSource(
  answer: (sql: string) => unknown,
  config: Pick<MysqlConnection, 'deadlockRetries' | 'multipleStatements'>,
  mariadb = true,
): { source: MysqlConnection; conns: FakeConn[] } {
  const conns: FakeConn[] = [];
  const pool = {
    async getConnection() {
      const log: FakeConn = { statements: [], released: false, destroyed: false };
      conns.push(log);
      return {
        connection: { _isMariaDB: mariadb },
        async query(sql: string) {
          log.statements.push(sql);
          return [answer(sql), []];
        },
        release() {
          log.released = true;
        },
        destroy() {
          log.destroyed = true;
        },
      } as unknown as PoolConnection;
    },
  } as unknown as Pool;
  return { conns, source: { pool: () => pool, close: async () => {}, ownsPool: false, migrationLockTimeout: 60, wakeProbeInterval: 0, openBell: null, wakeBellWait: 1000, ring: () => {}, ...config } };
}

/** A source whose connections log statements and fail `COMMIT` as scripted. */
function fakeSource(failCommitWith?: Error): { source: MysqlConnection; conns: FakeConn[] } {
  return scriptedSource(
    (sql) => {
      if (sql === 'COMMIT' && failCommitWith) throw failCommitWith;
      return [];
    },
    { deadlockRetries: 5, multipleStatements: false },
  );
}

describe('inTransaction', () => {
  it('runs at READ COMMITTED and commits', async () => {
    const { source, conns } = fakeSource();
    expect(await inTransaction(source, 'test', async () => 42)).toBe(42);
    expect(conns[0].statements).toEqual(['SET TRANSACTION ISOLATION LEVEL READ COMMITTED', 'START TRANSACTION', 'COMMIT']);
    expect(conns[0].released).toBe(true);
  });

  it('runs the work again after a deadlock or lock wait timeout', async () => {
    const { source, conns } = fakeSource();
    let calls = 0;
    const out = await inTransaction(source, 'test', async () => {
      calls += 1;
      if (calls === 1) throw driverError('ER_LOCK_DEADLOCK', 1213);
      if (calls === 2) throw driverError('ER_LOCK_WAIT_TIMEOUT', 1205);
      return 'done';
    });
    expect(out).toBe('done');
    expect(calls).toBe(3);
    expect(conns[0].statements).toContain('ROLLBACK');
  });

  it('gives up after the configured number of deadlock retries with a StoreError', async () => {
    const { source } = fakeSource();
    let calls = 0;
    const error = await inTransaction(source, 'test', async () => {
      calls += 1;
      throw driverError('ER_LOCK_DEADLOCK', 1213);
    }).catch((e: unknown) => e);
    expect(calls).toBe(6);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).cause).toMatchObject({ errno: 1213 });
  });

  it('passes taskmill errors through untouched, after rolling back', async () => {
    const { source, conns } = fakeSource();
    const thrown = new TaskNotFoundError(7);
    await expect(inTransaction(source, 'test', async () => Promise.reject(thrown))).rejects.toBe(thrown);
    expect(conns[0].statements.at(-1)).toBe('ROLLBACK');
  });

  it('retries a lost connection before COMMIT on a fresh connection, discarding the dead one', async () => {
    const { source, conns } = fakeSource();
    let calls = 0;
    await inTransaction(source, 'test', async () => {
      calls += 1;
      if (calls === 1) throw driverError('PROTOCOL_CONNECTION_LOST', 0, 'Connection lost: The server closed the connection.');
    });
    expect(calls).toBe(2);
    expect(conns[0].destroyed).toBe(true);
    expect(conns[1].released).toBe(true);
  });

  it('never retries a connection lost during COMMIT (outcome unknown): StoreUnavailableError', async () => {
    const { source } = fakeSource(driverError('ER_CONNECTION_KILLED', 1927, 'Connection was killed'));
    let calls = 0;
    const error = await inTransaction(source, 'test', async () => {
      calls += 1;
    }).catch((e: unknown) => e);
    expect(calls).toBe(1);
    expect(error).toBeInstanceOf(StoreUnavailableError);
  });
});

describe('withConnection', () => {
  it('maps a refused connection to StoreUnavailableError', async () => {
    const pool = { getConnection: () => Promise.reject(driverError('ECONNREFUSED', -111)) } as unknown as Pool;
    const source: MysqlConnection = { pool: () => pool, close: async () => {}, ownsPool: false, migrationLockTimeout: 60, deadlockRetries: 5, wakeProbeInterval: 0, openBell: null, wakeBellWait: 1000, ring: () => {}, multipleStatements: false };
    const error = await withConnection(source, 'test', async () => 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as StoreUnavailableError).cause).toMatchObject({ code: 'ECONNREFUSED' });
  });
});

/** A MariaDB source whose packets (queries with more than one statement) fail as scripted, in turn. */
function packetSource(failures: Array<Error | null>, options: { mariadb?: boolean; rollbackFails?: boolean } = {}) {
  return scriptedSource(
    (sql) => {
      if (sql === 'ROLLBACK' && options.rollbackFails) throw driverError('ER_UNKNOWN', 1105);
      if (!sql.includes(';')) return [];
      const failure = failures.shift();
      if (failure) throw failure;
      return [{}, { fieldCount: 0 }, [{ id: 1 }], { fieldCount: 0 }];
    },
    { deadlockRetries: 2, multipleStatements: true },
    options.mariadb ?? true,
  );
}

const PACKET = [{ sql: 'START TRANSACTION' }, { sql: 'SELECT ?', params: [1] }, { sql: 'COMMIT' }];

describe('inPacket', () => {
  it('sends the statements as one query and returns their results', async () => {
    const { source, conns } = packetSource([]);
    const results = await inPacket(source, 'test', PACKET);
    expect(results?.[2]).toEqual([{ id: 1 }]);
    expect(conns[0].statements).toEqual(['START TRANSACTION;\nSELECT ?;\nCOMMIT']);
    expect(conns[0].released).toBe(true);
  });

  it('rolls back after a deadlock or lock wait timeout and sends the packet again', async () => {
    const { source, conns } = packetSource([driverError('ER_LOCK_DEADLOCK', 1213), driverError('ER_LOCK_WAIT_TIMEOUT', 1205)]);
    expect(await inPacket(source, 'test', PACKET)).not.toBeNull();
    expect(conns.map((conn) => conn.statements.length)).toEqual([2, 2, 1]);
    expect(conns.slice(0, 2).every((conn) => conn.statements[1] === 'ROLLBACK' && conn.released)).toBe(true);
  });

  it('gives up after the configured reruns with a StoreError, every connection rolled back', async () => {
    const { source, conns } = packetSource([1, 2, 3, 4].map(() => driverError('ER_LOCK_DEADLOCK', 1213)));
    const error = await inPacket(source, 'test', PACKET).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(conns).toHaveLength(3);
    expect(conns.every((conn) => conn.statements.at(-1) === 'ROLLBACK' && conn.released)).toBe(true);
  });

  it('destroys the connection when the ROLLBACK after a failed packet fails too', async () => {
    const { source, conns } = packetSource([driverError('ER_DUP_ENTRY', 1062)], { rollbackFails: true });
    expect(await inPacket(source, 'test', PACKET).catch((e: unknown) => e)).toBeInstanceOf(StoreError);
    expect(conns[0]).toMatchObject({ destroyed: true, released: false });
  });

  it('never sends again a packet whose connection was lost after it left (it may have committed)', async () => {
    const { source, conns } = packetSource([driverError('PROTOCOL_CONNECTION_LOST', 0, 'Connection lost: The server closed the connection.')]);
    expect(await inPacket(source, 'test', PACKET).catch((e: unknown) => e)).toBeInstanceOf(StoreUnavailableError);
    expect(conns).toHaveLength(1);
    expect(conns[0].destroyed).toBe(true);
  });

  it('sends it on a fresh connection when the pooled one was closed before it left', async () => {
    const { source, conns } = packetSource([new Error("Can't add new command when connection is in closed state")]);
    expect(await inPacket(source, 'test', PACKET)).not.toBeNull();
    expect(conns).toHaveLength(2);
    expect(conns[0].destroyed).toBe(true);
  });

  it('returns null without sending anything when the server is not MariaDB', async () => {
    const { source, conns } = packetSource([], { mariadb: false });
    expect(await inPacket(source, 'test', PACKET)).toBeNull();
    expect(conns[0]).toMatchObject({ statements: [], released: true });
  });
});
