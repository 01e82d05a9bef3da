import { NotOwnerError, StoreError, StoreUnavailableError } from '@taskmill/contracts';
import { TRANSACTION_RETRY } from '@taskmill/store-kit';
import { describe, expect, it } from 'vitest';
import type { Connection } from '../src/connection.js';
import { toStoreError } from '../src/errors.js';
import { write } from '../src/transaction.js';

const pgError = (code: string) => Object.assign(new Error(`pg ${code}`), { code });

describe('error mapping', () => {
  it('maps connection failures to StoreUnavailableError and keeps the cause', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECT_TIMEOUT', '57P01', '57P03', '08006']) {
      const cause = pgError(code);
      const mapped = toStoreError(cause, 'op');
      expect(mapped, code).toBeInstanceOf(StoreUnavailableError);
      expect(mapped.cause).toBe(cause);
    }
  });

  it('maps other driver errors to StoreError and lets typed errors through', () => {
    const cause = pgError('23505');
    const mapped = toStoreError(cause, 'op');
    expect(mapped).toBeInstanceOf(StoreError);
    expect(mapped.cause).toBe(cause);
    const typed = new NotOwnerError(1, 'w');
    expect(toStoreError(typed, 'op')).toBe(typed);
  });
});

describe('transaction retry', () => {
  function fakeConnection(failures: string[]): { connection: Connection; calls: () => number; modes: string[] } {
    let calls = 0;
    const modes: string[] = [];
    const sql = {
      begin: async (mode: string, fn: (tx: unknown) => Promise<unknown>) => {
        calls++;
        modes.push(mode);
        const code = failures.shift();
        if (code) throw pgError(code);
        return fn({});
      },
    };
    return { connection: { sql } as unknown as Connection, calls: () => calls, modes };
  }

  it('reruns a transaction after deadlocks and serialization failures', async () => {
    const { connection, calls, modes } = fakeConnection(['40P01', '40001']);
    await expect(write(connection, 'op', async () => 'done')).resolves.toBe('done');
    expect(calls()).toBe(3);
    expect(modes).toEqual(Array(3).fill('isolation level read committed'));
  });

  it('gives up after a bounded number of attempts with a StoreError', async () => {
    const { connection, calls } = fakeConnection(Array(10).fill('40P01'));
    await expect(write(connection, 'op', async () => 'done')).rejects.toBeInstanceOf(StoreError);
    expect(calls()).toBe(TRANSACTION_RETRY.retries + 1);
  });

  it('does not rerun on other errors', async () => {
    const { connection, calls } = fakeConnection(['23505']);
    await expect(write(connection, 'op', async () => 'done')).rejects.toBeInstanceOf(StoreError);
    expect(calls()).toBe(1);
  });
});
