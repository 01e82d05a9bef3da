import {
  ProxyTracerProvider,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  createNoopMeter,
  isSpanContextValid,
  metrics,
  trace,
  type Attributes,
  type Context,
  type Counter,
  type Histogram,
  type Meter,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { planFailure, SWEEP_ERRORS, TaskTimeoutError, type FinishOutcome, type FinishResult, type NewTask, type Store, type Task, type TaskId } from '@taskmill/contracts';
import { QueueGauges } from './queue-gauges.js';
import { ATTRS, INSTRUMENTATION_SCOPE, METRICS, SECONDS_BUCKETS, VERSION } from './telemetry-names.js';
import type { ResolvedTelemetryOptions } from './telemetry-options.js';
import { extractContext, injectContext } from './trace-context.js';

/*
 * OpenTelemetry metrics and traces of a TaskManager, through `@opentelemetry/api` only: with no SDK
 * registered every instrument and span is the API's no-op, and the only work left per task is a
 * few empty calls. Nothing here reads the database per task; the two gauges that need the
 * database (queue-gauges.ts) read it only when a metric reader collects. The names are in
 * telemetry-names.ts, the option in telemetry-options.ts, the persisted trace context in
 * trace-context.ts.
 *
 * Traces: enqueueing (`async`, `asyncMany`, `cron`, and the children of `next()`) is a PRODUCER
 * span, child of the caller's active span; its context is persisted on each task row as
 * `trace_context` (what the registered propagator injects, normally W3C `traceparent` and
 * `tracestate`, as JSON text; null without a propagator or an active span). Each attempt is a
 * CONSUMER span linked to that context and, for async tasks and children, parented by it, so a
 * task's attempts, its children and their attempts form one trace even across processes. A cron
 * run is linked only: parenting every run of a cron task by its registration would make one trace
 * that never ends.
 */

/** The instruments and tracer of one TaskManager. */
export class Telemetry {
  readonly enabled: boolean;
  private readonly tracer: Tracer;
  private readonly meter: Meter;
  private readonly enqueued: Counter;
  private readonly claimed: Counter;
  private readonly completed: Counter;
  private readonly failed: Counter;
  private readonly retried: Counter;
  private readonly runDuration: Histogram;
  private readonly waitDuration: Histogram;
  /** Absent when telemetry or its gauges are off. */
  private readonly gauges: QueueGauges | undefined;

  constructor(
    private readonly options: ResolvedTelemetryOptions,
    private readonly workerId: string,
    private readonly onError: (error: unknown, where: string) => void,
  ) {
    this.enabled = options.enabled;
    // a tracer of the global ProxyTracerProvider follows an SDK registered later; the meter cannot
    this.meter = !options.enabled ? createNoopMeter() : (options.meterProvider ?? metrics.getMeterProvider()).getMeter(INSTRUMENTATION_SCOPE, VERSION);
    this.tracer = (!options.enabled ? new ProxyTracerProvider() : (options.tracerProvider ?? trace.getTracerProvider())).getTracer(INSTRUMENTATION_SCOPE, VERSION);
    const m = this.meter;
    this.enqueued = m.createCounter(METRICS.enqueued, { description: 'Tasks created (async, asyncMany, cron, and children of next())', unit: '{task}' });
    this.claimed = m.createCounter(METRICS.claimed, { description: 'Attempts started: tasks claimed by this worker', unit: '{task}' });
    this.completed = m.createCounter(METRICS.completed, { description: 'Attempts that succeeded (a cron run included)', unit: '{task}' });
    this.failed = m.createCounter(METRICS.failed, { description: 'Attempts that failed or timed out', unit: '{task}' });
    this.retried = m.createCounter(METRICS.retried, { description: 'Failed attempts that scheduled a retry', unit: '{task}' });
    const advice = { explicitBucketBoundaries: SECONDS_BUCKETS };
    this.runDuration = m.createHistogram(METRICS.run_duration, { description: 'Duration of an attempt, from its claim to its outcome', unit: 's', advice });
    this.waitDuration = m.createHistogram(METRICS.wait_duration, {
      description: 'Time a task waited from when it was due (next_run_time, or created_at) to its claim',
      unit: 's',
      advice,
    });
    this.gauges = options.enabled && options.gauges ? new QueueGauges(m, options, onError) : undefined;
  }

  // ---------------------------------------------------------------- enqueue

  /**
   * Create tasks inside a PRODUCER span (child of the active span) whose context each task carries
   * as `trace_context`; count them once created.
   */
  async enqueue(tasks: NewTask[], create: (tasks: NewTask[]) => Promise<TaskId[]>): Promise<TaskId[]> {
    if (!this.enabled) return create(tasks);
    const span = this.tracer.startSpan(spanName('enqueue', tasks), { kind: SpanKind.PRODUCER, attributes: enqueueAttributes(tasks) });
    const inSpan = trace.setSpan(context.active(), span);
    const traceContext = injectContext(inSpan);
    const stamped = traceContext === null ? tasks : tasks.map((task) => ({ ...task, trace_context: traceContext }));
    try {
      // store calls run in the span: a database driver's own instrumentation nests under it
      const ids = await context.with(inSpan, () => create(stamped));
      if (ids.length === 1 && span.isRecording()) span.setAttributes({ [ATTRS.id]: ids[0], 'messaging.message.id': String(ids[0]) });
      this.countEnqueued(tasks);
      return ids;
    } catch (error) {
      failSpan(span, error);
      throw error;
    } finally {
      span.end();
    }
  }

  private countEnqueued(tasks: readonly { name: string; type?: string }[]): void {
    if (tasks.length === 1) {
      this.enqueued.add(1, { [ATTRS.name]: tasks[0].name, [ATTRS.type]: tasks[0].type ?? 'async' });
      return;
    }
    const counts = new Map<string, { name: string; type: string; n: number }>();
    for (const { name, type = 'async' } of tasks) {
      const key = `${type}\0${name}`;
      const entry = counts.get(key);
      if (entry) entry.n++;
      else counts.set(key, { name, type, n: 1 });
    }
    for (const { name, type, n } of counts.values()) this.enqueued.add(n, { [ATTRS.name]: name, [ATTRS.type]: type });
  }

  // ---------------------------------------------------------------- attempts

  /** An attempt this worker claimed: counts the claim and its wait, and starts its CONSUMER span. */
  attempt(task: Task, startedAt: number): AttemptTelemetry {
    const nameAttr = { [ATTRS.name]: task.name };
    this.claimed.add(1, nameAttr);
    const claimedAt = task.start_time ?? startedAt;
    this.waitDuration.record(Math.max(0, claimedAt - Math.max(task.next_run_time, task.created_at)) / 1000, nameAttr);
    if (!this.enabled) return new AttemptTelemetry(this, task, startedAt, undefined, ROOT_CONTEXT);
    const origin = extractContext(task.trace_context);
    const enqueuedBy = trace.getSpanContext(origin);
    const linked = enqueuedBy !== undefined && isSpanContextValid(enqueuedBy);
    const span = this.tracer.startSpan(
      `process ${task.name}`,
      {
        kind: SpanKind.CONSUMER,
        startTime: startedAt,
        links: linked ? [{ context: enqueuedBy }] : undefined,
        attributes: {
          'messaging.system': 'taskmill',
          'messaging.operation.type': 'process',
          'messaging.operation.name': 'process',
          'messaging.destination.name': task.name,
          'messaging.message.id': String(task.id),
          [ATTRS.id]: task.id,
          [ATTRS.name]: task.name,
          [ATTRS.type]: task.type,
          [ATTRS.attempt]: task.attempt,
          [ATTRS.retry_count]: task.retry_count,
          [ATTRS.stage]: task.stage,
          [ATTRS.worker_id]: this.workerId,
          ...(task.parent_id !== null ? { [ATTRS.parent_id]: task.parent_id } : {}),
        },
      },
      // a cron task's runs are linked to its registration only (see the top of this file)
      task.type === 'cron' ? ROOT_CONTEXT : origin,
    );
    // the handler runs in the attempt span, with the baggage the enqueuer propagated (if any)
    return new AttemptTelemetry(this, task, startedAt, span, trace.setSpan(origin, span));
  }

  /** @internal Metrics of an attempt whose outcome was written. */
  countOutcome(task: Task, outcome: FinishOutcome, result: FinishResult, seconds: number): void {
    const nameAttr = { [ATTRS.name]: task.name };
    this.runDuration.record(seconds, { ...nameAttr, [ATTRS.outcome]: outcomeLabel(outcome) });
    if (!result.applied) return;
    switch (outcome.kind) {
      case 'completed':
      case 'rescheduled':
        this.completed.add(1, nameAttr);
        break;
      case 'failed': {
        this.failed.add(1, { ...nameAttr, [ATTRS.status]: outcome.status });
        const status = result.task?.status;
        if (status === 'failed' || status === 'timeout') this.retried.add(1, nameAttr);
        break;
      }
      case 'spawned':
        if (outcome.children.length > 0) this.countEnqueued(outcome.children);
        break;
    }
  }

  /**
   * @internal Metrics of an attempt of this worker that the timeout sweep ended (it wrote the
   * outcome, with the same failure plan as a written `failed` outcome).
   */
  countSweptTimeout(task: Task, seconds: number, retried: boolean): void {
    const nameAttr = { [ATTRS.name]: task.name };
    this.runDuration.record(seconds, { ...nameAttr, [ATTRS.outcome]: 'timeout' });
    this.failed.add(1, { ...nameAttr, [ATTRS.status]: 'timeout' });
    if (retried) this.retried.add(1, nameAttr);
  }

  /** @internal The PRODUCER span of the children a `next()` creates, child of the attempt span. */
  startSpawn(parent: Context, outcome: FinishOutcome & { kind: 'spawned' }): { span: Span; traceContext: string | null } {
    const span = this.tracer.startSpan(spanName('enqueue', outcome.children), { kind: SpanKind.PRODUCER, attributes: enqueueAttributes(outcome.children) }, parent);
    return { span, traceContext: injectContext(trace.setSpan(parent, span)) };
  }

  // ---------------------------------------------------------------- gauges read from the database

  /** Report the database gauges from this store while the manager runs; returns the function that stops it. */
  observe(store: Store): () => void {
    return this.gauges ? this.gauges.observe(store) : () => undefined;
  }
}

/** The telemetry of one attempt: its span, and the metrics written when it ends. */
export class AttemptTelemetry {
  private spawn: Span | undefined;
  private ended = false;

  constructor(
    private readonly telemetry: Telemetry,
    private readonly task: Task,
    private readonly startedAt: number,
    private readonly span: Span | undefined,
    /** The context the handler runs in. */
    private readonly ctx: Context,
  ) {}

  /** Run the handler inside the attempt span (a no-op without a context manager). */
  run<T>(fn: () => T): T {
    return this.span === undefined ? fn() : context.with(this.ctx, fn);
  }

  /** The outcome to write: children of `next()` get a PRODUCER span and carry its context. */
  outgoing(outcome: FinishOutcome): FinishOutcome {
    if (this.span === undefined || outcome.kind !== 'spawned' || outcome.children.length === 0) return outcome;
    const { span, traceContext } = this.telemetry.startSpawn(this.ctx, outcome);
    this.spawn = span;
    return traceContext === null ? outcome : { ...outcome, children: outcome.children.map((child) => ({ ...child, trace_context: traceContext })) };
  }

  /** The outcome was written (applied or refused by the fence). */
  finished(outcome: FinishOutcome, result: FinishResult, endedAt: number): void {
    if (this.ended) return;
    if (!result.applied && sweptThisAttempt(result.task, this.task.attempt)) {
      // the sweep timed the attempt out before this write (as the local timer would have)
      return this.abandoned(new TaskTimeoutError(result.task.error), endedAt, result.task.status === 'timeout');
    }
    this.ended = true;
    this.telemetry.countOutcome(this.task, outcome, result, Math.max(0, endedAt - this.startedAt) / 1000);
    if (this.spawn) {
      if (result.applied) this.spawn.setAttribute(ATTRS.child_count, result.child_ids.length);
      this.spawn.end();
    }
    const span = this.span;
    if (span === undefined) return;
    span.setAttributes({ [ATTRS.outcome]: outcomeLabel(outcome), [ATTRS.applied]: result.applied });
    if (outcome.kind === 'failed') {
      const message = firstLine(outcome.error);
      span.recordException({ name: outcome.status === 'timeout' ? 'TaskTimeoutError' : 'Error', message, stack: outcome.error });
      span.setStatus({ code: SpanStatusCode.ERROR, message });
    } else if (outcome.kind !== 'interrupted') {
      span.setStatus({ code: SpanStatusCode.OK });
    }
    span.end(endedAt);
  }

  /** The outcome could not be written (the store stayed unreachable). */
  writeFailed(outcome: FinishOutcome, error: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.spawn?.end();
    if (this.span === undefined) return;
    this.span.setAttribute(ATTRS.outcome, outcomeLabel(outcome));
    failSpan(this.span, error, 'outcome not written: ');
    this.span.end();
  }

  /**
   * Someone else ended the attempt: the timeout sweep (a `timeout`, counted as a failed attempt),
   * or a pause, cancel, resume or recovery (`abandoned`).
   */
  abandoned(reason: Error, endedAt: number, retried?: boolean): void {
    if (this.ended) return;
    this.ended = true;
    const timedOut = reason instanceof TaskTimeoutError;
    if (timedOut) {
      // the sweep applied the same failure plan as a written `failed` outcome
      const retry = retried ?? planFailure(this.task, endedAt).kind === 'retry';
      this.telemetry.countSweptTimeout(this.task, Math.max(0, endedAt - this.startedAt) / 1000, retry);
    }
    const span = this.span;
    if (span === undefined) return;
    span.setAttributes({ [ATTRS.outcome]: timedOut ? 'timeout' : 'abandoned', 'taskmill.abandon.reason': reason.message });
    if (timedOut) {
      span.recordException(reason);
      span.setStatus({ code: SpanStatusCode.ERROR, message: reason.message });
    }
    span.end(endedAt);
  }
}

/** The row a refused write found shows that the timeout sweep ended this attempt. */
function sweptThisAttempt(task: Task | null, attempt: number): task is Task & { error: string } {
  return (
    task !== null &&
    task.attempt === attempt &&
    (task.error === SWEEP_ERRORS.total || task.error === SWEEP_ERRORS.heartbeat) &&
    (task.status === 'timeout' || task.status === 'permanently_failed' || task.status === 'paused')
  );
}

/** `completed` (also a cron run), `failed`, `timeout`, `suspended`, `spawned` or `interrupted`. */
function outcomeLabel(outcome: FinishOutcome): string {
  if (outcome.kind === 'rescheduled') return 'completed';
  if (outcome.kind === 'failed') return outcome.status;
  return outcome.kind;
}

function spanName(operation: string, tasks: readonly { name: string }[]): string {
  const name = tasks[0]?.name;
  return name !== undefined && tasks.every((t) => t.name === name) ? `${operation} ${name}` : operation;
}

function enqueueAttributes(tasks: readonly { name: string; type?: string }[]): Attributes {
  const attributes: Attributes = { 'messaging.system': 'taskmill', 'messaging.operation.type': 'send', 'messaging.operation.name': 'enqueue' };
  const name = tasks[0]?.name;
  if (name !== undefined && tasks.every((t) => t.name === name)) {
    attributes['messaging.destination.name'] = name;
    attributes[ATTRS.name] = name;
  }
  attributes[ATTRS.type] = tasks[0]?.type ?? 'async';
  if (tasks.length !== 1) attributes['messaging.batch.message_count'] = tasks.length;
  return attributes;
}
function failSpan(span: Span, error: unknown, prefix = ''): void {
  const message = prefix + (error instanceof Error ? error.message : String(error));
  if (error instanceof Error) span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

function firstLine(text: string): string {
  const end = text.indexOf('\n');
  return end === -1 ? text : text.slice(0, end);
}
