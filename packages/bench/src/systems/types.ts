/*
 * What the workloads need from a job system, and nothing more: a fresh place to put jobs, a
 * producer (batch and single enqueue) and a worker that runs a no-op handler. Every system
 * (taskmill on three stores and the peers) implements this once, in its own file, with the
 * settings the README lists.
 */

/** A job's payload: `i` numbers the job within its run (exactly-once checks), `t` is the enqueue time (latency). */
export interface Payload {
  i?: number;
  t?: number;
  /** The task's concurrency key (WK): taskmill enqueues it as `concurrency_key` too; the peers ignore it. */
  key?: string;
}

/** A handler's flow-control options (WRL, WK): taskmill's `rate_limit` and `max_concurrent_per_key`; the peers have none. */
export interface FlowOptions {
  rate_limit?: { max: number; per: number };
  max_concurrent_per_key?: number;
}

/**
 * A fresh schema, database or queue made for one run: plain JSON, so that a worker process can
 * be told where to work.
 */
export type Place = Record<string, string>;

/** Enqueues jobs into a place. */
export interface Producer {
  /** Enqueue with the system's batch API (one call, one round trip or transaction where the system allows). */
  enqueueMany(payloads: Payload[]): Promise<void>;
  /** Enqueue one job and wait for it to be stored. */
  enqueue(payload: Payload): Promise<void>;
  close(): Promise<void>;
}

/** A running worker. */
export interface Worker {
  /** Stop gracefully: in-flight handlers finish and their outcomes are stored. */
  stop(): Promise<void>;
}

/** Options of a worker. */
export interface WorkerOptions {
  concurrency: number;
  /** Called once per handler run, at its start, with the job's payload. */
  onJob(payload: Payload): void;
  /** Count the worker's SQL statements into `statementCounter` (W7). */
  countStatements?: boolean;
  /** The handler's flow-control options (taskmill only). */
  flow?: FlowOptions;
}

/** A job system under test. */
export interface JobSystem {
  /** Row label, e.g. `taskmill-postgres`. */
  name: string;
  /** The version and settings, for the README and the table footnotes. */
  settings: string;
  /** Which family it belongs to: the ratio columns compare taskmill stores with the peers. */
  family: 'taskmill' | 'peer';
  /** True when it stores jobs in PostgreSQL (W7). */
  postgres: boolean;
  /**
   * A throughput-tuned variant of a system with its own row (taskmill with `prefetch_tasks`): run in
   * the drains (W1, W3) only, where its setting matters; the other workloads run the defaults.
   */
  tuned?: boolean;
  /** Make a fresh, migrated place for one run. */
  create(runId: string): Promise<Place>;
  /** Remove the place and everything in it. */
  destroy(place: Place): Promise<void>;
  producer(place: Place, options?: { countStatements?: boolean }): Promise<Producer>;
  worker(place: Place, options: WorkerOptions): Promise<Worker>;
  /** Jobs in the place that are not completed (a drained place must report 0). */
  unfinished(place: Place): Promise<number>;
}

/** SQL statements sent by this process while counting is on (W7). */
export const statementCounter = { count: 0 };
