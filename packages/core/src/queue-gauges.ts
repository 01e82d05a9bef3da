import type { BatchObservableResult, Meter, ObservableGauge } from '@opentelemetry/api';
import { countTasksByNameAndStatus } from '@taskmill/audit';
import type { Store } from '@taskmill/contracts';
import { ATTRS, METRICS } from './telemetry-names.js';

/** A reading of the database gauges. */
interface GaugeReading {
  at: number;
  depth: Map<string, { name: string; status: string; count: number }>;
  workers: number;
}

/**
 * The two gauges a running manager reads from the database, `taskmill.queue.depth` and
 * `taskmill.workers.active`: read only when a metric reader collects, at most once per
 * `gauge_cache_ms`, never per task.
 */
export class QueueGauges {
  private readonly queueDepth: ObservableGauge;
  private readonly workersActive: ObservableGauge;
  private reading: GaugeReading | undefined;
  private pending: Promise<GaugeReading | undefined> | undefined;
  /** Every (name, status) ever reported: one that empties is reported as 0 instead of vanishing. */
  private readonly seen = new Map<string, { name: string; status: string }>();

  constructor(
    private readonly meter: Meter,
    private readonly options: { gauge_cache_ms: number },
    private readonly onError: (error: unknown, where: string) => void,
  ) {
    this.queueDepth = meter.createObservableGauge(METRICS.queue_depth, { description: 'Tasks in the database by name and status', unit: '{task}' });
    this.workersActive = meter.createObservableGauge(METRICS.workers_active, { description: 'Workers registered as active', unit: '{worker}' });
  }

  /**
   * Report the database gauges from this store while the manager runs; returns the function that
   * stops it. A reading is reused for `gauge_cache_ms`, and collections that arrive while one is
   * under way share it.
   */
  observe(store: Store): () => void {
    let observing = true;
    const callback = async (result: BatchObservableResult) => {
      const reading = await this.read(store, () => observing);
      if (!reading || !observing) return;
      for (const [key, { name, status }] of this.seen) {
        result.observe(this.queueDepth, reading.depth.get(key)?.count ?? 0, { [ATTRS.name]: name, [ATTRS.status]: status });
      }
      result.observe(this.workersActive, reading.workers);
    };
    this.meter.addBatchObservableCallback(callback, [this.queueDepth, this.workersActive]);
    return () => {
      observing = false;
      this.meter.removeBatchObservableCallback(callback, [this.queueDepth, this.workersActive]);
    };
  }

  private async read(store: Store, observing: () => boolean): Promise<GaugeReading | undefined> {
    const now = Date.now();
    if (this.reading && now - this.reading.at < this.options.gauge_cache_ms) return this.reading;
    this.pending ??= (async () => {
      try {
        const [stats, workers] = await Promise.all([store.getTaskStatsByTag(), store.listWorkers({ status: 'active' })]);
        const depth: GaugeReading['depth'] = new Map();
        for (const { name, status, count } of countTasksByNameAndStatus(stats).by_name_status) {
          const key = `${name}\0${status}`;
          depth.set(key, { name, status, count });
          if (!this.seen.has(key)) this.seen.set(key, { name, status });
        }
        this.reading = { at: Date.now(), depth, workers: workers.length };
      } catch (error) {
        // a collection racing stop() finds the store closing: not worth a report
        if (observing()) this.onError(error, 'telemetry gauges');
      }
      return this.reading;
    })().finally(() => (this.pending = undefined));
    return this.pending;
  }
}
