import type { BenchConfig } from '../config.js';
import type { JobSystem } from '../systems/types.js';

/** What every workload gets: the sizes, the systems, and a place to report violations. */
export interface BenchContext {
  config: BenchConfig;
  systems: JobSystem[];
  /** Exactly-once and completeness violations; any entry makes the bench exit non-zero. */
  failures: string[];
  /** A fresh id for a run's schema/database/queue name. */
  runId(): string;
  /** Progress lines (stderr). */
  log(message: string): void;
}

/** A workload's printed result. */
export interface WorkloadReport {
  id: string;
  title: string;
  /** How it was measured, in one paragraph (sizes included). */
  method: string;
  table: string;
  notes?: string[];
  /** The measured runs, by system and metric (W3 compares itself with W1; targets.ts reads them). */
  metrics: Record<string, Record<string, number[]>>;
}
