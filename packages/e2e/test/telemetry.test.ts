import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ConfigurationError, TaskManager } from '@taskmill/core';
import { backends, sharedBackends } from '../src/backends.js';
import { describeBackends, waitFor, waitForStatus } from '../src/harness.js';
import { installOtel, type Metrics, type Otel } from '../src/otel.js';
import { enqueueInChildProcess } from '../src/telemetry-process.js';

/*
 * OpenTelemetry (issue 13): metrics and spans through @opentelemetry/api, read back from the SDK's
 * in-memory exporter and a reader collected on demand, on every store. Each test registers the SDK
 * as the global providers before it builds its manager and takes it down after.
 */

let otel: Otel;
beforeEach(() => {
  otel = installOtel();
});
afterEach(async () => {
  await otel.uninstall();
});

const app = () => trace.getTracer('app');

/** Run `fn` inside an active span of the application; returns its result and the span. */
async function inSpan<T>(name: string, fn: () => Promise<T>): Promise<{ value: T; span: Span }> {
  return app().startActiveSpan(name, async (span) => {
    try {
      return { value: await fn(), span };
    } finally {
      span.end();
    }
  });
}

function spansNamed(name: string): ReadableSpan[] {
  return otel.spans().filter((s) => s.name === name);
}

function waitForSpans(name: string, count: number): Promise<ReadableSpan[]> {
  return waitFor(() => (spansNamed(name).length >= count ? spansNamed(name) : null), { what: `${count} span(s) "${name}"` });
}

function waitForMetrics(check: (m: Metrics) => boolean, what: string): Promise<Metrics> {
  return waitFor(async () => {
    const m = await otel.collect();
    return check(m) ? m : null;
  }, { what });
}

function traceContextOf(task: unknown): { traceparent?: string; tracestate?: string; baggage?: string } | null {
  const text = (task as { trace_context?: string | null }).trace_context;
  return text ? JSON.parse(text) : null;
}

const byAttempt = (a: ReadableSpan, b: ReadableSpan) => Number(a.attributes['taskmill.task.attempt']) - Number(b.attributes['taskmill.task.attempt']);

describeBackends('telemetry', backends(), (ctx) => {
  ctx.test('an attempt span is linked to, and a child of, the span that enqueued the task; the handler runs inside it', async () => {
    const tm = await ctx.isolated({ max_retries: 1 });
    let handlerSpanParent: string | undefined;
    tm.use('work', () => {
      const inner = app().startSpan('inside the handler');
      handlerSpanParent = (inner as unknown as ReadableSpan).parentSpanContext?.spanId;
      inner.end();
      return { ok: true };
    });
    const { value: id, span: request } = await inSpan('request', () => tm.async('work', { n: 1 }));

    const [enqueue] = spansNamed('enqueue work');
    expect(enqueue, 'an enqueue span').toBeDefined();
    expect(enqueue.kind).toBe(SpanKind.PRODUCER);
    expect(enqueue.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(enqueue.spanContext().traceId).toBe(request.spanContext().traceId);
    expect(enqueue.attributes['taskmill.task.id']).toBe(id);
    expect(enqueue.attributes['taskmill.task.name']).toBe('work');

    // the enqueuing span's context is persisted on the row (W3C traceparent)
    const stored = traceContextOf(await tm.getTask(id));
    expect(stored?.traceparent).toBe(`00-${enqueue.spanContext().traceId}-${enqueue.spanContext().spanId}-01`);

    await tm.start();
    await waitForStatus(tm, id, 'completed');
    const [attempt] = await waitForSpans('process work', 1);
    expect(attempt.kind).toBe(SpanKind.CONSUMER);
    expect(attempt.links.map((l) => l.context.spanId)).toEqual([enqueue.spanContext().spanId]);
    expect(attempt.links[0].context.traceId).toBe(enqueue.spanContext().traceId);
    expect(attempt.spanContext().traceId).toBe(request.spanContext().traceId);
    expect(attempt.parentSpanContext?.spanId).toBe(enqueue.spanContext().spanId);
    expect(attempt.attributes).toMatchObject({
      'taskmill.task.id': id,
      'taskmill.task.name': 'work',
      'taskmill.task.attempt': 1,
      'taskmill.task.retry_count': 0,
      'taskmill.worker.id': tm.options.worker_id,
      'taskmill.task.outcome': 'completed',
    });
    expect(attempt.status.code).toBe(SpanStatusCode.OK);
    expect(handlerSpanParent, 'a span the handler starts is a child of the attempt span').toBe(attempt.spanContext().spanId);
  });

  ctx.test('a failing then succeeding task: failed 1, retried 1, completed 1; two attempt spans, ERROR then OK; histograms and claims', async () => {
    const tm = await ctx.isolated({ max_retries: 3, retry_interval: 0 });
    tm.use('flaky', (task) => {
      if (task.attempt === 1) throw new Error('boom on the first attempt');
      return 'fine';
    });
    const { value: id, span: request } = await inSpan('request', () => tm.async('flaky'));
    await tm.start();
    await waitForStatus(tm, id, 'completed');
    const m = await waitForMetrics((m) => m.sum('taskmill.tasks.completed') === 1, 'completed = 1');

    expect(m.sum('taskmill.tasks.enqueued', { 'taskmill.task.name': 'flaky', 'taskmill.task.type': 'async' })).toBe(1);
    expect(m.sum('taskmill.tasks.claimed', { 'taskmill.task.name': 'flaky' })).toBe(2);
    expect(m.sum('taskmill.tasks.failed', { 'taskmill.task.name': 'flaky', 'taskmill.task.status': 'failed' })).toBe(1);
    expect(m.sum('taskmill.tasks.failed')).toBe(1);
    expect(m.sum('taskmill.tasks.retried', { 'taskmill.task.name': 'flaky' })).toBe(1);
    expect(m.sum('taskmill.tasks.completed', { 'taskmill.task.name': 'flaky' })).toBe(1);
    expect(m.histogram('taskmill.task.run.duration', { 'taskmill.task.outcome': 'failed' }).count).toBe(1);
    expect(m.histogram('taskmill.task.run.duration', { 'taskmill.task.outcome': 'completed' }).count).toBe(1);
    expect(m.histogram('taskmill.task.wait.duration', { 'taskmill.task.name': 'flaky' }).count).toBe(2);
    expect(m.metric('taskmill.task.run.duration')?.descriptor.unit).toBe('s');
    expect(m.metric('taskmill.task.wait.duration')?.descriptor.unit).toBe('s');
    const run = m.histogram('taskmill.task.run.duration');
    expect(run.sum).toBeGreaterThanOrEqual(0);
    expect(run.sum, 'durations are seconds, not ms').toBeLessThan(60);

    const attempts = (await waitForSpans('process flaky', 2)).sort(byAttempt);
    expect(attempts.map((s) => s.status.code)).toEqual([SpanStatusCode.ERROR, SpanStatusCode.OK]);
    expect(attempts[0].status.message).toContain('boom on the first attempt');
    expect(attempts[0].attributes['taskmill.task.outcome']).toBe('failed');
    expect(attempts[0].events.map((e) => e.name)).toContain('exception');
    expect(attempts[1].attributes).toMatchObject({ 'taskmill.task.attempt': 2, 'taskmill.task.retry_count': 1, 'taskmill.task.outcome': 'completed' });
    const enqueueSpanId = spansNamed('enqueue flaky')[0].spanContext().spanId;
    for (const attempt of attempts) {
      expect(attempt.links[0]?.context.spanId).toBe(enqueueSpanId);
      expect(attempt.spanContext().traceId).toBe(request.spanContext().traceId);
    }
  });

  ctx.test('a timed-out attempt counts as failed with status timeout and ends its span with ERROR', async () => {
    const tm = await ctx.isolated({ max_retries: 1 });
    tm.use('slow', async (task) => {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 5000);
        task.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()));
      });
      return task.id;
    });
    const id = await tm.async('slow', {}, { timeout: 0.2 });
    await tm.start();
    await waitForStatus(tm, id, 'permanently_failed');
    const m = await waitForMetrics((m) => m.sum('taskmill.tasks.failed') === 1, 'failed = 1');
    expect(m.sum('taskmill.tasks.failed', { 'taskmill.task.name': 'slow', 'taskmill.task.status': 'timeout' })).toBe(1);
    expect(m.sum('taskmill.tasks.retried'), 'no attempts left: nothing retried').toBe(0);
    const [span] = await waitForSpans('process slow', 1);
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes['taskmill.task.outcome']).toBe('timeout');
  });

  ctx.test('children of next() are enqueued in a PRODUCER span under the parent attempt, and their attempts join the trace', async () => {
    const tm = await ctx.isolated();
    tm.use('child', (task) => (task.payload as { i: number }).i);
    tm.use('parent', (task, next) => (task.stage === 0 ? next([{ name: 'child', payload: { i: 1 } }, { name: 'child', payload: { i: 2 } }]) : 'done'));
    const { value: id, span: request } = await inSpan('request', () => tm.async('parent'));
    await tm.start();
    await waitForStatus(tm, id, 'completed');
    const parents = (await waitForSpans('process parent', 2)).sort(byAttempt);
    expect(parents.map((s) => s.attributes['taskmill.task.outcome'])).toEqual(['spawned', 'completed']);
    const [spawn] = spansNamed('enqueue child');
    expect(spawn.kind).toBe(SpanKind.PRODUCER);
    expect(spawn.parentSpanContext?.spanId).toBe(parents[0].spanContext().spanId);
    expect(spawn.attributes['messaging.batch.message_count']).toBe(2);
    const children = await waitForSpans('process child', 2);
    for (const child of children) {
      expect(child.parentSpanContext?.spanId).toBe(spawn.spanContext().spanId);
      expect(child.links[0]?.context.spanId).toBe(spawn.spanContext().spanId);
      expect(child.spanContext().traceId).toBe(request.spanContext().traceId);
      expect(child.attributes['taskmill.task.parent_id']).toBe(id);
    }
    for (const row of await tm.getChildTasks(id)) {
      expect(traceContextOf(row)?.traceparent).toContain(spawn.spanContext().spanId);
    }
    const m = await waitForMetrics((m) => m.sum('taskmill.tasks.completed') === 3, 'completed = 3');
    expect(m.sum('taskmill.tasks.enqueued', { 'taskmill.task.name': 'parent' })).toBe(1);
    expect(m.sum('taskmill.tasks.enqueued', { 'taskmill.task.name': 'child' })).toBe(2);
  });

  ctx.test('a cron run is linked to the span that registered it but starts a trace of its own', async () => {
    const tm = await ctx.isolated();
    tm.use('tick', () => 'ticked');
    const { value: id, span: request } = await inSpan('request', () => tm.cron('tick', '* * * * * *'));
    await tm.start();
    const [run] = await waitForSpans('process tick', 1);
    const [enqueue] = spansNamed('enqueue tick');
    expect(enqueue.attributes['taskmill.task.type']).toBe('cron');
    expect(run.links[0]?.context.spanId).toBe(enqueue.spanContext().spanId);
    expect(run.parentSpanContext, 'not parented by the registration').toBeUndefined();
    expect(run.spanContext().traceId).not.toBe(request.spanContext().traceId);
    expect(run.attributes).toMatchObject({ 'taskmill.task.id': id, 'taskmill.task.outcome': 'completed' });
  });

  ctx.test('queue depth by name and status and active workers, read at most once per gauge_cache_ms', async () => {
    const tm = await ctx.isolated({ telemetry: { gauge_cache_ms: 60_000 } });
    tm.use('a', () => 1);
    tm.use('b', () => 2);
    await tm.asyncMany([
      ...[1, 2, 3].map(() => ({ name: 'a', options: { delay: 3600 } })),
      ...[1, 2].map(() => ({ name: 'b', options: { delay: 3600 } })),
    ]);
    const m = await otel.collect();
    expect(m.points('taskmill.queue.depth'), 'a manager that is not running reports no gauges').toEqual([]);
    await tm.start();
    const first = await otel.collect();
    expect(first.sum('taskmill.queue.depth', { 'taskmill.task.name': 'a', 'taskmill.task.status': 'pending' })).toBe(3);
    expect(first.sum('taskmill.queue.depth', { 'taskmill.task.name': 'b', 'taskmill.task.status': 'pending' })).toBe(2);
    expect(first.sum('taskmill.workers.active')).toBe(1);
    // within gauge_cache_ms a collection answers from the last reading
    await tm.async('a', {}, { delay: 3600 });
    const cached = await otel.collect();
    expect(cached.sum('taskmill.queue.depth', { 'taskmill.task.name': 'a', 'taskmill.task.status': 'pending' })).toBe(3);

    if (ctx.backend.name === 'sqlite-memory') return; // its database is private to one manager
    // a second manager with its own meter provider and no cache reads the database at each collection
    const own = installOtel({ global: false });
    try {
      const peer = ctx.manager({ telemetry: { meterProvider: own.meterProvider, gauge_cache_ms: 0 } });
      peer.use('a', () => 1);
      await peer.start();
      const fresh = await own.collect();
      expect(fresh.sum('taskmill.queue.depth', { 'taskmill.task.name': 'a', 'taskmill.task.status': 'pending' })).toBe(4);
      expect(fresh.sum('taskmill.workers.active')).toBe(2);
      await peer.deleteTasks({ name: 'b' });
      const after = await own.collect();
      expect(after.points('taskmill.queue.depth')).toContainEqual({ attributes: { 'taskmill.task.name': 'b', 'taskmill.task.status': 'pending' }, value: 0 });
      await peer.stop();
    } finally {
      await own.uninstall();
    }
  });

  ctx.test('telemetry: false records nothing and persists no trace context', async () => {
    const tm = await ctx.isolated({ telemetry: false });
    tm.use('quiet', () => 'ok');
    const { value: id } = await inSpan('request', () => tm.async('quiet'));
    expect(traceContextOf(await tm.getTask(id))).toBeNull();
    await tm.start();
    await waitForStatus(tm, id, 'completed');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(otel.spans().map((s) => s.name)).toEqual(['request']);
    const m = await otel.collect();
    expect(m.metric('taskmill.tasks.enqueued')).toBeUndefined();
    expect(m.metric('taskmill.tasks.completed')).toBeUndefined();
  });

  ctx.test('without an active span the enqueue span is a root; without a tracer provider nothing is persisted, and metrics still count', async () => {
    const tm = await ctx.isolated();
    tm.use('plain', () => 'ok');
    const id = await tm.async('plain');
    const [enqueue] = spansNamed('enqueue plain');
    expect(enqueue.parentSpanContext).toBeUndefined();
    expect(traceContextOf(await tm.getTask(id))?.traceparent).toBe(`00-${enqueue.spanContext().traceId}-${enqueue.spanContext().spanId}-01`);
    await tm.stop();

    trace.disable(); // metrics and propagation stay: the tracer is the API's no-op one
    const quiet = ctx.manager();
    quiet.use('plain', () => 'ok');
    const second = await inSpan('request', () => quiet.async('plain'));
    expect(traceContextOf(await quiet.getTask(second.value))).toBeNull();
    await quiet.start();
    await waitForStatus(quiet, second.value, 'completed');
    const m = await waitForMetrics((m) => m.sum('taskmill.tasks.completed') >= 1, 'completed');
    expect(m.sum('taskmill.tasks.enqueued', { 'taskmill.task.name': 'plain' })).toBe(2);
    expect(otel.spans()).toEqual([enqueue]);
  });
});

describeBackends('telemetry across processes', sharedBackends(), (ctx) => {
  ctx.test('a task enqueued in another process runs in a span linked to, and in the trace of, that process\'s enqueue span', async () => {
    const tm = await ctx.isolated();
    tm.use('remote', () => 'ran here');
    await tm.setup();
    const sent = await enqueueInChildProcess(ctx.db().processConnection, 'remote');
    const row = await tm.getTask(sent.id);
    expect(traceContextOf(row)?.traceparent).toBe(`00-${sent.trace_id}-${sent.enqueue_span_id}-01`);
    await tm.start();
    await waitForStatus(tm, sent.id, 'completed');
    const [attempt] = await waitForSpans('process remote', 1);
    expect(attempt.links[0]?.context).toMatchObject({ traceId: sent.trace_id, spanId: sent.enqueue_span_id });
    expect(attempt.spanContext().traceId).toBe(sent.trace_id);
    expect(attempt.parentSpanContext).toMatchObject({ spanId: sent.enqueue_span_id, isRemote: true });
  }, 120_000);
});

describe('telemetry option', () => {
  it('refuses bad values with a ConfigurationError', () => {
    const make = (telemetry: unknown) => () => new TaskManager({ dbConnection: 'sqlite::memory:', telemetry: telemetry as never });
    expect(make('yes')).toThrow(ConfigurationError);
    expect(make(null)).toThrow(ConfigurationError);
    expect(make({ meterProvider: {} })).toThrow(/telemetry.meterProvider/);
    expect(make({ tracerProvider: 42 })).toThrow(/telemetry.tracerProvider/);
    expect(make({ gauges: 'no' })).toThrow(/telemetry.gauges/);
    expect(make({ gauge_cache_ms: -1 })).toThrow(/telemetry.gauge_cache_ms/);
    expect(make({ traces: true })).toThrow(/Unknown telemetry option "traces"/);
    expect(make(false)).not.toThrow();
    expect(make({ gauge_cache_ms: 0, gauges: false })).not.toThrow();
  });
});
