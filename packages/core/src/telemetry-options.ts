import type { MeterProvider, TracerProvider } from '@opentelemetry/api';
import { ConfigurationError, knownKeysObject } from '@taskmill/contracts';
import { intervalMs } from './validate.js';

/** The `telemetry` option of `new TaskManager()`. */
export interface TelemetryOptions {
  /** Where metrics go. (Default: the global one, `metrics.getMeterProvider()` when the manager is constructed) */
  meterProvider?: MeterProvider;
  /** Where spans go. (Default: the global one, also when registered after the manager is constructed) */
  tracerProvider?: TracerProvider;
  /**
   * Report `taskmill.queue.depth` and `taskmill.workers.active`, which a running manager reads from
   * the database when a metric reader collects. Every running manager reports them for the whole
   * database: aggregate them with max (or keep one worker's), not sum. (Default: true)
   */
  gauges?: boolean;
  /**
   * How long (ms) a reading of those two gauges is reused: collections within this time answer from
   * it, so a frequent scrape does not add queries. 0 reads at every collection. (Default: 15000)
   */
  gauge_cache_ms?: number;
}

/** The `telemetry` option after defaults. */
export interface ResolvedTelemetryOptions {
  enabled: boolean;
  meterProvider: MeterProvider | undefined;
  tracerProvider: TracerProvider | undefined;
  gauges: boolean;
  gauge_cache_ms: number;
}

const TELEMETRY_KEYS = ['meterProvider', 'tracerProvider', 'gauges', 'gauge_cache_ms'];

/** Validate the `telemetry` option: `true`/absent (on, global providers), `false` (off), or {@link TelemetryOptions}. */
export function resolveTelemetryOptions(value: unknown): ResolvedTelemetryOptions {
  const resolved: ResolvedTelemetryOptions = { enabled: true, meterProvider: undefined, tracerProvider: undefined, gauges: true, gauge_cache_ms: 15_000 };
  if (value === undefined || value === true) return resolved;
  if (value === false) return { ...resolved, enabled: false, gauges: false };
  const messages = {
    notObject: 'Option telemetry must be a boolean or an object {meterProvider, tracerProvider, gauges, gauge_cache_ms}',
    unknownKey: (key: string) => `Unknown telemetry option "${key}"`,
  };
  const { meterProvider, tracerProvider, gauges, gauge_cache_ms } = knownKeysObject(value, TELEMETRY_KEYS, messages, ConfigurationError);
  if (meterProvider !== undefined && typeof (meterProvider as MeterProvider | null)?.getMeter !== 'function') {
    throw new ConfigurationError('Option telemetry.meterProvider must be a MeterProvider (an object with getMeter())');
  }
  if (tracerProvider !== undefined && typeof (tracerProvider as TracerProvider | null)?.getTracer !== 'function') {
    throw new ConfigurationError('Option telemetry.tracerProvider must be a TracerProvider (an object with getTracer())');
  }
  if (gauges !== undefined && typeof gauges !== 'boolean') throw new ConfigurationError('Option telemetry.gauges must be a boolean');
  return {
    enabled: true,
    meterProvider: meterProvider as MeterProvider | undefined,
    tracerProvider: tracerProvider as TracerProvider | undefined,
    gauges: gauges ?? true,
    gauge_cache_ms: gauge_cache_ms === undefined ? resolved.gauge_cache_ms : intervalMs(gauge_cache_ms, 'Option telemetry.gauge_cache_ms', true, ConfigurationError),
  };
}
