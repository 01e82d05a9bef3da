import { afterAll, afterEach, describe } from 'vitest';
import type { ConformanceHarness } from './harness.js';
import { createSuiteContext } from './suite-context.js';
import { defineAuditQueryTests } from './suites/audit-queries.js';
import { defineBulkActionTests } from './suites/bulk-actions.js';
import { defineClaimingTests } from './suites/claiming.js';
import { defineClusterLimitTests } from './suites/cluster-limits.js';
import { defineFlowControlTests } from './suites/flow-control.js';
import { defineFlowTests } from './suites/flows.js';
import { defineConcurrencyTests } from './suites/concurrency.js';
import { defineCreateTests } from './suites/create.js';
import { defineDeadLetterTests } from './suites/dead-letters.js';
import { defineFencingTests } from './suites/fencing.js';
import { defineFinishTests } from './suites/finishing.js';
import { defineGroupedFinishTests } from './suites/grouped-finish.js';
import { definePlainPathTests } from './suites/plain-paths.js';
import { defineManualControlTests } from './suites/manual-control.js';
import { defineManualRetryTests } from './suites/manual-retry.js';
import { defineNoteAndHeartbeatTests } from './suites/notes-and-heartbeats.js';
import { defineQueryTests } from './suites/queries.js';
import { defineQueueHealthTests } from './suites/queue-health.js';
import { defineRetentionTests } from './suites/retention.js';
import { defineRetryTests } from './suites/retries.js';
import { defineRowRuleTests } from './suites/row-rules.js';
import { defineTimeoutSweepTests } from './suites/timeout-sweep.js';
import { defineWorkerRegistryTests } from './suites/worker-registry.js';
import { defineWorkflowTests } from './suites/workflows.js';
import { defineWithinTests } from './suites/within.js';
import { defineUniqueTests } from './suites/unique.js';
import { defineDebounceTests } from './suites/debounce.js';
import { defineScheduleTests } from './suites/schedules.js';
import { defineEventFeedTests } from './suites/event-feed.js';
import { defineWaitTests } from './suites/waits.js';

/**
 * Declare the Store conformance suite (docs/store-authors.md#the-conformance-suite) for one store, inside vitest.
 *
 * Each test opens its own store(s) through `harness`, passes explicit `now` values, checks what the
 * store returns AND what it persisted (through `harness.rawRows`), and closes its stores afterwards.
 * A test listed in `harness.skip` (by its exact name) is reported as skipped with the reason.
 *
 * @param storeName - shown in the describe title, e.g. `sqlite`.
 * @param harness - how to make isolated stores and read raw rows.
 */
export function runStoreConformance(storeName: string, harness: ConformanceHarness): void {
  describe(`store conformance: ${storeName}`, () => {
    const { ctx, closeAll } = createSuiteContext(harness);
    afterEach(closeAll);
    afterAll(async () => {
      await closeAll();
      await harness.cleanup?.();
    });

    defineCreateTests(ctx);
    defineClaimingTests(ctx);
    defineRetryTests(ctx);
    defineDeadLetterTests(ctx);
    defineFinishTests(ctx);
    defineGroupedFinishTests(ctx);
    definePlainPathTests(ctx);
    defineFencingTests(ctx);
    defineNoteAndHeartbeatTests(ctx);
    defineManualControlTests(ctx);
    defineManualRetryTests(ctx);
    defineBulkActionTests(ctx);
    defineWorkflowTests(ctx);
    defineFlowTests(ctx);
    defineConcurrencyTests(ctx);
    defineClusterLimitTests(ctx);
    defineFlowControlTests(ctx);
    defineTimeoutSweepTests(ctx);
    defineWorkerRegistryTests(ctx);
    defineQueryTests(ctx);
    defineAuditQueryTests(ctx);
    defineQueueHealthTests(ctx);
    defineRetentionTests(ctx);
    defineRowRuleTests(ctx);
    defineWithinTests(ctx);
    defineUniqueTests(ctx);
    defineDebounceTests(ctx);
    defineScheduleTests(ctx);
    defineEventFeedTests(ctx);
    defineWaitTests(ctx);
  });
}
