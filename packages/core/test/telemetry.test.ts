import { afterEach, describe, expect, it } from 'vitest';
import { ROOT_CONTEXT, propagation, trace, type TextMapPropagator } from '@opentelemetry/api';
import { ConfigurationError } from '@taskmill/contracts';
import { resolveOptions } from '../src/manager-options.js';
import { MAX_TRACE_CONTEXT } from '../src/telemetry-names.js';
import { resolveTelemetryOptions } from '../src/telemetry-options.js';
import { extractContext, injectContext } from '../src/trace-context.js';

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

/** A propagator writing fixed headers, so these tests need no SDK. */
function fixedPropagator(headers: Record<string, string>): TextMapPropagator {
  return {
    inject(_ctx, carrier, setter) {
      for (const [k, v] of Object.entries(headers)) setter.set(carrier, k, v);
    },
    extract(ctx, carrier, getter) {
      const value = getter.get(carrier, 'traceparent');
      const [, traceId, spanId] = String(value).split('-');
      return traceId ? trace.setSpanContext(ctx, { traceId, spanId, traceFlags: 1, isRemote: true }) : ctx;
    },
    fields: () => Object.keys(headers),
  };
}

afterEach(() => propagation.disable());

/** Register `propagator` as the global one (the API refuses a second registration without a disable). */
function usePropagator(propagator: TextMapPropagator): void {
  propagation.disable();
  propagation.setGlobalPropagator(propagator);
}

describe('trace_context', () => {
  it('is null without a propagator, and what the propagator writes as JSON otherwise', () => {
    expect(injectContext(ROOT_CONTEXT)).toBeNull();
    usePropagator(fixedPropagator({ traceparent: TRACEPARENT, tracestate: 'k=v' }));
    expect(JSON.parse(injectContext(ROOT_CONTEXT)!)).toEqual({ traceparent: TRACEPARENT, tracestate: 'k=v' });
  });

  it('fits the column: past 1024 characters only traceparent and tracestate are kept, then traceparent alone', () => {
    usePropagator(fixedPropagator({ traceparent: TRACEPARENT, tracestate: 'k=v', baggage: `b=${'x'.repeat(2000)}` }));
    expect(JSON.parse(injectContext(ROOT_CONTEXT)!)).toEqual({ traceparent: TRACEPARENT, tracestate: 'k=v' });
    usePropagator(fixedPropagator({ traceparent: TRACEPARENT, tracestate: `k=${'v'.repeat(2000)}` }));
    const text = injectContext(ROOT_CONTEXT)!;
    expect(text.length).toBeLessThanOrEqual(MAX_TRACE_CONTEXT);
    expect(JSON.parse(text)).toEqual({ traceparent: TRACEPARENT });
    usePropagator(fixedPropagator({ b3: 'x'.repeat(2000) }));
    expect(injectContext(ROOT_CONTEXT)).toBeNull();
  });

  it('extracts what it stored, and ignores null or malformed text', () => {
    usePropagator(fixedPropagator({ traceparent: TRACEPARENT }));
    const extracted = trace.getSpanContext(extractContext(JSON.stringify({ traceparent: TRACEPARENT })));
    expect(extracted).toMatchObject({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', isRemote: true });
    for (const bad of [null, undefined, '', 'not json', '[1,2]', '"text"']) expect(extractContext(bad)).toBe(ROOT_CONTEXT);
  });
});

describe('telemetry option', () => {
  it('defaults to on with the global providers, and false turns it off', () => {
    expect(resolveOptions({ dbConnection: 'sqlite::memory:' }).telemetry).toEqual({
      enabled: true,
      meterProvider: undefined,
      tracerProvider: undefined,
      gauges: true,
      gauge_cache_ms: 15_000,
    });
    expect(resolveTelemetryOptions(false)).toMatchObject({ enabled: false, gauges: false });
    expect(resolveTelemetryOptions(true)).toMatchObject({ enabled: true });
    const meterProvider = { getMeter: () => ({}) as never };
    expect(resolveTelemetryOptions({ meterProvider, gauge_cache_ms: 0 })).toMatchObject({ meterProvider, gauge_cache_ms: 0 });
  });

  it('refuses bad values with a ConfigurationError', () => {
    for (const bad of ['on', 1, null, [], { meterProvider: {} }, { tracerProvider: { getTracer: 1 } }, { gauges: 1 }, { gauge_cache_ms: -1 }, { gauge_cache_ms: 1e12 }, { nope: 1 }]) {
      expect(() => resolveOptions({ dbConnection: 'sqlite::memory:', telemetry: bad }), JSON.stringify(bad)).toThrow(ConfigurationError);
    }
  });
});
