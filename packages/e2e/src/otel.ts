/*
 * An OpenTelemetry SDK for the telemetry tests: spans into an in-memory exporter, metrics into a
 * reader the test collects from, W3C trace-context and baggage propagation, and async-hooks context.
 * `installOtel()` registers them as the global providers; `uninstall()` takes every one of them
 * down again (trace/metrics/context/propagation `disable()`), so no test sees another's SDK.
 */
import { context, metrics, propagation, trace, type Attributes } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { DataPointType, MeterProvider, MetricReader, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';

/** A metric reader that reads only when the test calls `collect()`. */
export class TestMetricReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

/** What a test reads back from the SDK. */
export interface Otel {
  exporter: InMemorySpanExporter;
  reader: TestMetricReader;
  tracerProvider: BasicTracerProvider;
  meterProvider: MeterProvider;
  /** Finished spans so far. */
  spans(): ReadableSpan[];
  /** Collect the metrics now. */
  collect(): Promise<Metrics>;
  uninstall(): Promise<void>;
}

/** Register an in-memory SDK as the global providers (`global: false`: only build the providers). */
export function installOtel({ global = true } = {}): Otel {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const reader = new TestMetricReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  if (global) {
    const contextManager = new AsyncLocalStorageContextManager();
    contextManager.enable();
    context.setGlobalContextManager(contextManager);
    propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
    trace.setGlobalTracerProvider(tracerProvider);
    metrics.setGlobalMeterProvider(meterProvider);
  }
  return {
    exporter,
    reader,
    tracerProvider,
    meterProvider,
    spans: () => exporter.getFinishedSpans(),
    async collect() {
      const { resourceMetrics, errors } = await reader.collect();
      if (errors.length > 0) throw errors[0];
      return new Metrics(resourceMetrics);
    },
    async uninstall() {
      if (global) {
        trace.disable();
        metrics.disable();
        context.disable();
        propagation.disable();
      }
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}

/** One collection's metrics of the `@taskmill/core` scope, with sums over matching data points. */
export class Metrics {
  constructor(readonly resource: ResourceMetrics) {}

  /** The metric of that name, or undefined when nothing recorded it. */
  metric(name: string): MetricData | undefined {
    for (const scope of this.resource.scopeMetrics) {
      if (scope.scope.name !== '@taskmill/core') continue;
      const found = scope.metrics.find((m) => m.descriptor.name === name);
      if (found) return found;
    }
    return undefined;
  }

  /** Sum of a counter's (or gauge's) data points whose attributes include `where`. */
  sum(name: string, where: Attributes = {}): number {
    const m = this.metric(name);
    if (!m || (m.dataPointType !== DataPointType.SUM && m.dataPointType !== DataPointType.GAUGE)) return 0;
    return (m.dataPoints as { value: number; attributes: Attributes }[]).filter((p) => matches(p.attributes, where)).reduce((s, p) => s + p.value, 0);
  }

  /** Recorded values and their sum of a histogram's data points whose attributes include `where`. */
  histogram(name: string, where: Attributes = {}): { count: number; sum: number } {
    const m = this.metric(name);
    if (!m || m.dataPointType !== DataPointType.HISTOGRAM) return { count: 0, sum: 0 };
    const points = m.dataPoints.filter((p) => matches(p.attributes, where));
    return { count: points.reduce((s, p) => s + p.value.count, 0), sum: points.reduce((s, p) => s + (p.value.sum ?? 0), 0) };
  }

  /** Gauge data points as `{attributes, value}`. */
  points(name: string): { attributes: Attributes; value: number }[] {
    const m = this.metric(name);
    return m ? (m.dataPoints as { value: number; attributes: Attributes }[]).map(({ attributes, value }) => ({ attributes, value })) : [];
  }
}

function matches(attributes: Attributes, where: Attributes): boolean {
  return Object.entries(where).every(([k, v]) => attributes[k] === v);
}
