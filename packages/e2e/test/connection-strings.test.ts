import { expect } from 'vitest';
import postgres from 'postgres';
import { TaskManager } from '@taskmill/core';
import { PG_URL, backends } from '../src/backends.js';
import { describeBackends, waitForStatus } from '../src/harness.js';

describeBackends('connection strings', backends().filter((b) => b.name === 'postgres'), (env) => {
  env.test('postgres://, postgresql:// and psql:// strings load the PostgreSQL store and work end to end', async () => {
    const name = `tm_url_${process.pid}_${Date.now().toString(36)}`;
    const admin = postgres(PG_URL, { max: 1, onnotice: () => {} });
    await admin.unsafe(`CREATE DATABASE "${name}"`);
    const url = new URL(PG_URL);
    url.pathname = `/${name}`;
    const managers: TaskManager[] = [];
    try {
      for (const scheme of ['postgres:', 'postgresql:', 'psql:']) {
        url.protocol = scheme;
        const tm = new TaskManager({ dbConnection: url.toString(), poll_interval: 50 });
        managers.push(tm);
        tm.use('hello', (task) => `hello via ${(task.payload as { scheme: string }).scheme}`);
        const id = await tm.async('hello', { scheme });
        await tm.start();
        expect((await waitForStatus(tm, id, 'completed')).result).toBe(`hello via ${scheme}`);
        await tm.stop();
      }
      const [{ count }] = await admin.unsafe(`SELECT count(*)::int AS count FROM pg_stat_activity WHERE datname = '${name}'`);
      expect(count).toBe(0); // stop() closed the pools the strings opened
    } finally {
      await Promise.all(managers.map((m) => m.stop().catch(() => undefined)));
      await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
    }
  });
});
