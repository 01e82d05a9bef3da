import { ROOT_CONTEXT, propagation, type Context } from '@opentelemetry/api';
import { isPlainObject } from '@taskmill/contracts';
import { MAX_TRACE_CONTEXT } from './telemetry-names.js';

/*
 * A task's trace context as persisted in its `trace_context` column, so that its attempts, in any
 * process, join the trace of the code that enqueued it.
 */


/**
 * The context to persist with a task: what the registered propagator writes (W3C `traceparent` and
 * `tracestate` with the SDK's default), as JSON text; null when it writes nothing (no propagator,
 * no valid span). Longer than the column allows, only `traceparent` and `tracestate` are kept.
 */
export function injectContext(ctx: Context): string | null {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  if (Object.keys(carrier).length === 0) return null;
  const text = JSON.stringify(carrier);
  if (text.length <= MAX_TRACE_CONTEXT) return text;
  const { traceparent, tracestate } = carrier;
  if (traceparent === undefined) return null;
  const short = JSON.stringify(tracestate === undefined ? { traceparent } : { traceparent, tracestate });
  return short.length <= MAX_TRACE_CONTEXT ? short : JSON.stringify({ traceparent });
}

/** The context persisted by {@link injectContext}, extracted by the registered propagator (ROOT_CONTEXT when none). */
export function extractContext(text: string | null | undefined): Context {
  if (!text) return ROOT_CONTEXT;
  try {
    const carrier: unknown = JSON.parse(text);
    if (isPlainObject(carrier)) return propagation.extract(ROOT_CONTEXT, carrier);
  } catch {
    // not JSON: ignore it, as a propagator ignores a malformed header
  }
  return ROOT_CONTEXT;
}
