import { decodeAttempt, decodeEvent, decodeSignal, decodeTask, decodeWorker, type SignalRow } from '@taskmill/store-kit';
import {
  type Store,
  type Task,
  type TaskAttempt,
  type TaskEvent,
  type TaskId,
  type WorkerRecord,
} from '@taskmill/contracts';
import type { ConformanceHarness } from './harness.js';

/** Everything persisted in a store's database, as raw driver rows (for before/after equality). */
export interface RawSnapshot {
  tasks: Record<string, unknown>[];
  events: Record<string, unknown>[];
  attempts: Record<string, unknown>[];
  workers: Record<string, unknown>[];
  signals: Record<string, unknown>[];
}

/**
 * Reads what a store really persisted, bypassing the store (Auth.js adapter-test style), and
 * decodes it with the shared contracts codec so values compare across dialects.
 */
export class BackDoor {
  constructor(private readonly harness: ConformanceHarness) {}

  /** The decoded task row, or undefined when there is none. */
  async task(store: Store, id: TaskId): Promise<Task | undefined> {
    const rows = await this.harness.rawRows(store, 'taskmill_tasks', { id });
    return rows.length ? decodeTask(rows[0]) : undefined;
  }

  /** The raw (undecoded) task row, or undefined. */
  async rawTask(store: Store, id: TaskId): Promise<Record<string, unknown> | undefined> {
    const rows = await this.harness.rawRows(store, 'taskmill_tasks', { id });
    return rows[0];
  }

  /** Decoded task rows in id order. */
  async tasks(store: Store, where?: Record<string, unknown>): Promise<Task[]> {
    return (await this.harness.rawRows(store, 'taskmill_tasks', where)).map(decodeTask);
  }

  /** Decoded events in id (insertion) order. */
  async events(store: Store, where?: Record<string, unknown>): Promise<TaskEvent[]> {
    return (await this.harness.rawRows(store, 'taskmill_task_events', where)).map(decodeEvent);
  }

  /** Event types of one task, in insertion order. */
  async eventTypes(store: Store, taskId: TaskId): Promise<string[]> {
    return (await this.events(store, { task_id: taskId })).map((e) => e.event_type);
  }

  /** Decoded attempts in id order. */
  async attempts(store: Store, where?: Record<string, unknown>): Promise<TaskAttempt[]> {
    return (await this.harness.rawRows(store, 'taskmill_task_attempts', where)).map(decodeAttempt);
  }

  /** Decoded worker rows. */
  async workers(store: Store, where?: Record<string, unknown>): Promise<WorkerRecord[]> {
    return (await this.harness.rawRows(store, 'taskmill_workers', where)).map(decodeWorker);
  }

  /** Decoded signal rows (docs/behaviour.md#signals) in id order. */
  async signals(store: Store, where?: Record<string, unknown>): Promise<SignalRow[]> {
    return (await this.harness.rawRows(store, 'taskmill_task_signals', where)).map(decodeSignal);
  }

  /** Insert a raw row, bypassing the store. */
  async insert(store: Store, table: 'taskmill_tasks' | 'taskmill_task_events' | 'taskmill_task_attempts' | 'taskmill_workers', row: Record<string, unknown>): Promise<void> {
    await this.harness.insertRaw(store, table, row);
  }

  /** Every row of every table, raw: compare two snapshots to prove that nothing was written. */
  async snapshot(store: Store): Promise<RawSnapshot> {
    return {
      tasks: await this.harness.rawRows(store, 'taskmill_tasks'),
      events: await this.harness.rawRows(store, 'taskmill_task_events'),
      attempts: await this.harness.rawRows(store, 'taskmill_task_attempts'),
      workers: await this.harness.rawRows(store, 'taskmill_workers'),
      signals: await this.harness.rawRows(store, 'taskmill_task_signals'),
    };
  }
}
