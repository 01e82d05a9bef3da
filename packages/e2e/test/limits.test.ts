import { expect } from 'vitest';
import { InvalidCronError, LIMITS, LimitExceededError, SerializationError, TaskManager, ValidationError, type TaskContext } from '@taskmill/core';
import { backends } from '../src/backends.js';
import { describeBackends, waitFor, waitForStatus } from '../src/harness.js';

/*
 * Sizes and strings at the edges of what a store can hold: every store must accept the same
 * values and refuse the same ones, with the same typed error, before anything is written.
 */

/** A JSON string value whose serialized form is exactly `bytes` long; made of quotes, the worst case for SQL escaping. */
function quotesPayload(bytes: number): string {
  // JSON.stringify('"'.repeat(n)) is `"` + n × `\"` + `"`: 2n + 2 bytes
  return '"'.repeat((bytes - 2) / 2);
}

const bytesOf = (s: string) => Buffer.byteLength(s, 'utf8');

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i += 1) value = [value];
  return value;
}

describeBackends('stored sizes and strings', backends(), (env) => {
  env.test('a payload beyond LIMITS.max_payload_bytes is a LimitExceededError and writes nothing', async () => {
    const tm = await env.isolated();
    tm.use('t', () => 1);
    const big = quotesPayload(LIMITS.max_payload_bytes + 2);
    await expect(tm.async('t', big)).rejects.toThrow(LimitExceededError);
    await expect(tm.async('t', big)).rejects.toMatchObject({ code: 'TASKMILL_LIMIT_EXCEEDED', limit: 'max_payload_bytes' });
    await expect(tm.asyncMany([{ name: 't' }, { name: 't', payload: big }])).rejects.toThrow(LimitExceededError);
    await expect(tm.cron('t', '* * * * *', big)).rejects.toThrow(LimitExceededError);
    // 50 MB, the size that was accepted by one store and refused by another
    await expect(tm.async('t', { blob: 'x'.repeat(50_000_000) })).rejects.toThrow(LimitExceededError);
    expect(await tm.getTasks()).toEqual([]);
  }, 60_000);

  env.test('a payload and a result of exactly their limit, all quotes, are stored and read back unchanged', async () => {
    const tm = await env.isolated();
    tm.use('t', (task) => task.payload);
    const payload = quotesPayload(LIMITS.max_payload_bytes);
    expect(bytesOf(JSON.stringify(payload))).toBe(LIMITS.max_payload_bytes);
    expect(LIMITS.max_result_bytes).toBe(LIMITS.max_payload_bytes);
    const id = await tm.async('t', payload);
    expect((await tm.getTask(id))!.payload).toBe(payload);
    await tm.start();
    const done = await waitForStatus(tm, id, ['completed', 'permanently_failed', 'failed']);
    expect(done.error).toBeNull();
    expect(done.result).toBe(payload);
  }, 60_000);

  env.test('a handler result beyond LIMITS.max_result_bytes fails the attempt with a clear error; the worker carries on', async () => {
    const tm = await env.isolated();
    tm.use('big', () => quotesPayload(LIMITS.max_result_bytes + 2));
    tm.use('small', () => 'ok');
    const big = await tm.async('big', {}, { max_retries: 1 });
    await tm.start();
    const failed = await waitForStatus(tm, big, ['permanently_failed', 'completed']);
    expect(failed.status).toBe('permanently_failed');
    expect(failed.result).toBeNull();
    expect(failed.error).toMatch(/LimitExceededError: .*max_result_bytes/);
    const attempts = await tm.getTaskAttempts(big);
    expect(attempts.map((a) => a.outcome)).toEqual(['failed']);
    const small = await tm.async('small');
    expect((await waitForStatus(tm, small, 'completed')).result).toBe('ok');
  }, 60_000);

  env.test('an error beyond LIMITS.max_error_bytes is cut to the limit, NULs and lone surrogates replaced, the same on every store', async () => {
    const tm = await env.isolated();
    tm.use('t', () => {
      throw new Error(`bad\u0000byte \ud800 ${'é'.repeat(LIMITS.max_error_bytes)}`);
    });
    const id = await tm.async('t', {}, { max_retries: 1 });
    await tm.start();
    const task = await waitForStatus(tm, id, 'permanently_failed');
    const error = task.error!;
    expect(bytesOf(error)).toBeLessThanOrEqual(LIMITS.max_error_bytes);
    expect(bytesOf(error)).toBeGreaterThan(LIMITS.max_error_bytes - 100);
    expect(error.startsWith('Error: bad\ufffdbyte \ufffd éé')).toBe(true);
    expect(error).toMatch(/\[truncated: \d+ more bytes\]$/);
    const [attempt] = await tm.getTaskAttempts(id);
    expect(attempt.error).toBe(error);
  }, 60_000);

  env.test('NUL and lone surrogates in names, tags, unique keys, time zones and reasons are ValidationErrors and write nothing', async () => {
    const tm = await env.isolated();
    tm.use('t', () => 1);
    expect(() => tm.use('bad\u0000name', () => 1)).toThrow(ValidationError);
    for (const bad of ['a\u0000b', 'a\ud800b', 'a\udc00']) {
      await expect(tm.async('t', {}, { tag: bad }), JSON.stringify(bad)).rejects.toThrow(ValidationError);
      await expect(tm.async('t', {}, { unique_key: bad }), JSON.stringify(bad)).rejects.toThrow(ValidationError);
      await expect(tm.cron('t', '* * * * *', {}, { tz: bad }), JSON.stringify(bad)).rejects.toThrow(ValidationError);
      await expect(tm.asyncMany([{ name: 't' }, { name: 't', options: { tag: bad } }])).rejects.toThrow(ValidationError);
    }
    expect(await tm.getTasks()).toEqual([]);
    const id = await tm.async('t', {}, { delay: 3600 });
    const before = await tm.getTaskEvents(id);
    await expect(tm.cancelTask(id, { reason: 'no\u0000' })).rejects.toThrow(ValidationError);
    await expect(tm.cancelTask(id, { reason: 'x'.repeat(LIMITS.max_text_bytes + 1) })).rejects.toThrow(LimitExceededError);
    await tm.pauseTask(id);
    const paused = await tm.getTaskEvents(id);
    await expect(tm.resumeTask(id, { resume_reason: '\ud800' })).rejects.toThrow(ValidationError);
    expect((await tm.getTask(id))!.status).toBe('paused');
    expect(await tm.getTaskEvents(id)).toEqual(paused);
    expect(paused.length).toBe(before.length + 1);
    // filters are checked the same way, so a query cannot fail on one store and answer on another
    await expect(tm.getTasksByTag('a\u0000b')).rejects.toThrow(ValidationError);
    await expect(tm.getTasks({ name: 'a\u0000b' })).rejects.toThrow(ValidationError);
  });

  env.test('names, tags and unique keys of 255 UTF-16 units with 4-byte characters are stored unchanged; 256 are refused', async () => {
    const tm = await env.isolated();
    const name = `${'😀'.repeat(127)}n`;
    expect(name.length).toBe(LIMITS.max_name_length);
    tm.use(name, () => 1);
    const tag = `${'𝄞'.repeat(127)}t`;
    const key = `${'🀄'.repeat(127)}k`;
    const id = await tm.async(name, { emoji: '😀' }, { tag, unique_key: key });
    expect(await tm.getTask(id)).toMatchObject({ name, tag, unique_key: key, payload: { emoji: '😀' } });
    expect((await tm.getTasksByTag(tag)).map((t) => t.id)).toEqual([id]);
    await expect(tm.async(name, {}, { tag: `${tag}x` })).rejects.toThrow(ValidationError);
    await expect(tm.async(name, {}, { unique_key: `${key}x` })).rejects.toThrow(ValidationError);
    expect(() => tm.use(`${name}x`, () => 1)).toThrow(ValidationError);
    expect((await tm.getTasks()).length).toBe(1);
  });

  env.test('payload strings with NUL, lone surrogates, dates and -0 read back identically on every store', async () => {
    const tm = await env.isolated();
    let seen: unknown;
    tm.use('t', (task) => {
      seen = task.payload;
      return task.payload;
    });
    const payload = {
      nul: 'a\u0000b',
      lone: 'x\ud800y\udfffz',
      [`key\u0000`]: 1,
      emoji: '𝄞😀',
      when: new Date(Date.UTC(2024, 1, 29, 12, 0, 0)),
      zero: -0,
      big: 1.7976931348623157e308,
      tiny: 5e-324,
    };
    const expected = {
      nul: 'a\u0000b',
      lone: 'x\ud800y\udfffz',
      [`key\u0000`]: 1,
      emoji: '𝄞😀',
      when: '2024-02-29T12:00:00.000Z',
      zero: 0,
      big: 1.7976931348623157e308,
      tiny: 5e-324,
    };
    const id = await tm.async('t', payload);
    expect((await tm.getTask(id))!.payload).toStrictEqual(expected);
    await tm.start();
    const done = await waitForStatus(tm, id, ['completed', 'permanently_failed', 'failed']);
    expect(done.status).toBe('completed');
    expect(seen).toStrictEqual(expected);
    expect(done.result).toStrictEqual(expected);
  });

  env.test('NaN, Infinity and BigInt are SerializationErrors; nesting beyond LIMITS.max_json_depth is a LimitExceededError; nothing is written', async () => {
    const tm = await env.isolated();
    tm.use('t', () => 1);
    for (const bad of [{ n: Number.NaN }, { n: Number.POSITIVE_INFINITY }, { n: -Infinity }, { n: 10n }]) {
      await expect(tm.async('t', bad)).rejects.toThrow(SerializationError);
    }
    await expect(tm.async('t', nested(LIMITS.max_json_depth + 1))).rejects.toThrow(LimitExceededError);
    await expect(tm.async('t', nested(100_000))).rejects.toThrow(LimitExceededError);
    expect(await tm.getTasks()).toEqual([]);
    const id = await tm.async('t', nested(LIMITS.max_json_depth));
    expect((await tm.getTask(id))!.payload).toStrictEqual(nested(LIMITS.max_json_depth));
  });

  env.test('a cron expression longer than LIMITS.max_cron_expr_length is an InvalidCronError and writes nothing', async () => {
    const tm = await env.isolated();
    tm.use('t', () => 1);
    const minutes = Array.from({ length: 60 }, (_, i) => i).join(',');
    const expr = `${minutes} * * * *`;
    expect(expr.length).toBeGreaterThan(LIMITS.max_cron_expr_length);
    await expect(tm.cron('t', expr)).rejects.toThrow(InvalidCronError);
    expect(await tm.getTasks()).toEqual([]);
  });

  env.test('notes and suspensions beyond their limits are refused in the handler and write nothing', async () => {
    const tm = await env.isolated();
    const outcomes: Record<string, string> = {};
    const attempt = async (what: string, write: () => Promise<unknown>) => {
      try {
        await write();
        outcomes[what] = 'written';
      } catch (error) {
        outcomes[what] = (error as Error).name;
      }
    };
    tm.use('notes', async (task: TaskContext) => {
      await attempt('stage_name', () => task.progress({ stage_name: 's'.repeat(LIMITS.max_name_length + 1) }));
      await attempt('progress_text', () => task.progress('p'.repeat(LIMITS.max_text_bytes + 1)));
      await attempt('progress NUL', () => task.progress('a\u0000b'));
      await attempt('checkpoint code NUL', () => task.audit('c\u0000'));
      await attempt('checkpoint message', () => task.audit({ code: 'c', message: 'é'.repeat(LIMITS.max_text_bytes / 2 + 1) }));
      await attempt('metadata', () => task.audit({ code: 'c', metadata: { m: 'x'.repeat(LIMITS.max_metadata_bytes) } }));
      return 'done';
    });
    tm.use('suspend', (task: TaskContext) => task.suspend({ reason: 'r'.repeat(LIMITS.max_name_length + 1) }));
    const id = await tm.async('notes');
    const suspended = await tm.async('suspend', {}, { max_retries: 1 });
    await tm.start();
    await waitForStatus(tm, id, 'completed');
    expect(outcomes).toEqual({
      stage_name: 'ValidationError',
      progress_text: 'LimitExceededError',
      'progress NUL': 'ValidationError',
      'checkpoint code NUL': 'ValidationError',
      'checkpoint message': 'LimitExceededError',
      metadata: 'LimitExceededError',
    });
    const types = (await tm.getTaskEvents(id)).map((e) => e.event_type);
    expect(types).not.toContain('task_progress');
    expect(types).not.toContain('task_checkpoint');
    const task = await waitForStatus(tm, suspended, ['permanently_failed', 'suspended']);
    expect(task.status).toBe('permanently_failed');
    expect(task.error).toMatch(/reason/);
    await waitFor(async () => (await tm.getTaskAttempts(suspended)).every((a) => a.ended_at !== null));
  });

  env.test('worker_id and pod_id with NUL are ConfigurationErrors', async () => {
    await env.isolated();
    const dbConnection = env.db().dbConnection;
    expect(() => new TaskManager({ dbConnection, worker_id: 'w\u0000' })).toThrow(/worker_id/);
    expect(() => new TaskManager({ dbConnection, pod_id: 'p\ud800' })).toThrow(/pod_id/);
  });
});
