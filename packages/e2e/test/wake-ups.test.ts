import { expect, onTestFinished } from 'vitest';
import type { Store } from '@taskmill/core';
import { sharedBackends } from '../src/backends.js';
import { describeBackends, waitFor } from '../src/harness.js';

/*
 * Wake-ups between managers (docs/behaviour.md#wake-ups): a task enqueued elsewhere starts at once, not at the
 * consumer's next poll. The consumer polls every 60 s, so only a wake-up (NOTIFY on PostgreSQL,
 * the WAL watch on SQLite, the doorbell on MariaDB) can start the task within the wait below.
 * sqlite-memory is left out: its database lives in one connection, there is no "elsewhere".
 */

const SLOW_POLL = { poll_interval: 60_000 };
/** Far below SLOW_POLL, far above any wake-up's delay on a busy machine. */
const WITHIN_MS = 10_000;

describeBackends('wake-ups between managers', sharedBackends(), (env) => {
  env.test('a task enqueued by a manager on a connection of its own starts long before the next poll', async () => {
    const consumer = await env.isolated(SLOW_POLL);
    const started: number[] = [];
    consumer.use('t', () => void started.push(Date.now()));
    await consumer.start();
    // registered (an enqueue needs the handler) but never started: only the consumer claims
    const producer = env.manager({ ...SLOW_POLL, dbConnection: await env.db().peerConnection() });
    producer.use('t', () => null);
    const enqueued = Date.now();
    await producer.async('t', {});
    await waitFor(() => started.length === 1, { timeout: WITHIN_MS, what: 'the consumer to start the task' });
    expect(started[0] - enqueued).toBeLessThan(WITHIN_MS);
  });

  env.test('two managers sharing one store object wake each other', async () => {
    await env.isolated();
    const store: Store = await env.db().openPeerStore();
    onTestFinished(() => store.close().catch(() => undefined));
    const consumer = env.manager({ ...SLOW_POLL, dbConnection: store });
    const started: number[] = [];
    consumer.use('t', () => void started.push(Date.now()));
    await consumer.start();
    // registered but never started: its enqueues wake only itself, so the consumer hears of them
    // through the store they share
    const producer = env.manager({ ...SLOW_POLL, dbConnection: store });
    producer.use('t', () => null);
    await producer.async('t', {});
    await waitFor(() => started.length === 1, { timeout: WITHIN_MS, what: 'the consumer to start the task' });
    // and again once both are idle: every wake-up is delivered, not only the first
    await producer.async('t', {});
    await waitFor(() => started.length === 2, { timeout: WITHIN_MS, what: 'the consumer to start the second task' });
  });
});
