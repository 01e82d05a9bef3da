import { connect } from 'node:net';
import type { ProcessConnection } from './backends.js';

/*
 * A PostgreSQL session in the state a process frozen in postgres-js's describe round trip leaves
 * (see store-postgres/src/frozen-sessions.ts), made on purpose: a transaction that locked a row
 * and then sent Parse, Describe and Flush but no Sync. The server waits on `ClientRead` with the
 * session `active`, where no server timeout ends it. Spoken in the wire protocol directly, so that
 * no driver's timing decides when it happens.
 */

/** A session holding a row lock mid-statement; `end()` closes its socket (the server then rolls back). */
export interface MidStatementSession {
  end(): void;
}

function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

const cstr = (s: string) => Buffer.from(`${s}\0`, 'utf8');

/**
 * Open a session on `connection` (trust authentication, as on the test servers) that runs `lock`
 * (SQL that takes the row locks) in an open transaction, then describes `describe` without a Sync
 * and stops there.
 */
export function holdMidStatement(connection: Extract<ProcessConnection, { kind: 'postgres' }>, lock: string, describe: string): Promise<MidStatementSession> {
  const url = new URL(connection.url);
  const socket = connect({ host: url.hostname, port: Number(url.port || 5432) });
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    let step: 'startup' | 'locking' | 'describing' | 'held' = 'startup';
    const fail = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.on('error', fail);
    socket.on('connect', () => {
      const params = Buffer.concat([
        cstr('user'), cstr(decodeURIComponent(url.username) || 'postgres'),
        cstr('database'), cstr(url.pathname.slice(1) || 'postgres'),
        cstr('application_name'), cstr(connection.schema),
        Buffer.from([0]),
      ]);
      const head = Buffer.alloc(8);
      head.writeInt32BE(params.length + 8, 0);
      head.writeInt32BE(196608, 4); // protocol 3.0
      socket.write(Buffer.concat([head, params]));
    });
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 5) {
        const type = String.fromCharCode(buffer[0]);
        const length = buffer.readInt32BE(1);
        if (buffer.length < length + 1) return;
        const body = buffer.subarray(5, length + 1);
        buffer = buffer.subarray(length + 1);
        if (type === 'E') return fail(new Error(`server error while ${step}: ${body.toString('utf8').replace(/\0/g, ' ')}`));
        if (type === 'R' && body.readInt32BE(0) !== 0) return fail(new Error('holdMidStatement needs trust authentication'));
        if (type === 'Z' && step === 'startup') {
          step = 'locking';
          socket.write(message('Q', cstr(`BEGIN; ${lock}`)));
        } else if (type === 'Z' && step === 'locking') {
          if (String.fromCharCode(body[0]) !== 'T') return fail(new Error('the locking statements left no open transaction'));
          step = 'describing';
          const parse = message('P', Buffer.concat([cstr(''), cstr(describe), Buffer.from([0, 0])]));
          socket.write(Buffer.concat([parse, message('D', Buffer.concat([Buffer.from('S'), cstr('')])), message('H', Buffer.alloc(0))]));
        } else if ((type === 'T' || type === 'n') && step === 'describing') {
          step = 'held';
          resolve({ end: () => socket.destroy() });
        }
      }
    });
  });
}
