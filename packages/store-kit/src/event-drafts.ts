import type { EventType, Task, TaskEvent, TaskStatus } from '@taskmill/contracts';

/*
 * Builders for every audit event a store writes, so the three stores produce identical rows
 * (event type, statuses, stage, worker, attempt, message, metadata) for the same transition.
 * Pure functions: a store inserts the draft in the transaction of the change it describes.
 */

/** An event row before insertion (`metadata` is serialised by the store with JSON.stringify). */
export type EventDraft = Omit<TaskEvent, 'id'>;

/** The part of a task row the builders need. */
export type EventSubject = Pick<Task, 'id' | 'root_id' | 'parent_id' | 'name' | 'type' | 'tag' | 'stage' | 'worker_id'>;

function draft(
  task: EventSubject,
  event_type: EventType,
  from: TaskStatus | null,
  to: TaskStatus | null,
  now: number,
  fields: Partial<Pick<EventDraft, 'stage' | 'worker_id' | 'attempt' | 'message' | 'metadata'>>,
): EventDraft {
  return {
    task_id: task.id,
    // a root's events carry its own id as root_id (docs/behaviour.md#events)
    root_id: task.root_id ?? task.id,
    parent_id: task.parent_id,
    event_type,
    from_status: from,
    to_status: to,
    stage: fields.stage !== undefined ? fields.stage : task.stage,
    worker_id: fields.worker_id !== undefined ? fields.worker_id : task.worker_id,
    attempt: fields.attempt ?? null,
    event_time: now,
    message: fields.message ?? null,
    metadata: fields.metadata ?? null,
  };
}

function generic(extra: { error?: string | null; retry_count?: number | null; next_run_time?: number | null }) {
  return { error: extra.error ?? null, retry_count: extra.retry_count ?? null, next_run_time: extra.next_run_time ?? null };
}

/** Event builders, one per transition of docs/behaviour.md#transitions and #events. */
export const events = {
  created(task: EventSubject, status: TaskStatus, now: number): EventDraft {
    return draft(task, 'task_created', null, status, now, {
      stage: 0,
      worker_id: null,
      message: `Task ${task.id} created`,
      metadata: { name: task.name, type: task.type, tag: task.tag },
    });
  },

  /** The three claim events, in order (`task_retry_started` only when `retry_count > 0`). */
  claimed(task: EventSubject, workerId: string, attempt: number, retryCount: number, now: number): EventDraft[] {
    const out = [
      draft(task, 'task_claimed', 'pending', 'running', now, {
        worker_id: workerId,
        message: `Task ${task.id} claimed by ${workerId}`,
        metadata: { name: task.name },
      }),
      draft(task, 'task_started', 'pending', 'running', now, {
        worker_id: workerId,
        attempt,
        message: `Task ${task.id} started by ${workerId}`,
        metadata: { name: task.name, retry_count: retryCount },
      }),
    ];
    if (retryCount > 0) {
      out.push(
        draft(task, 'task_retry_started', 'pending', 'running', now, {
          worker_id: workerId,
          attempt,
          message: `Task ${task.id} retry attempt ${attempt}`,
          metadata: { name: task.name, retry_count: retryCount },
        }),
      );
    }
    return out;
  },

  retryScheduled(task: EventSubject, previous: 'failed' | 'timeout', retryCount: number, now: number, stage = 0): EventDraft {
    return draft(task, 'task_retry_scheduled', previous, 'pending', now, {
      stage,
      message: `Task ${task.id} retry ${retryCount} scheduled`,
      metadata: { retry_count: retryCount, previous_status: previous },
    });
  },

  /**
   * An operator's `retryTask`: the same event as an automatic retry, marked `manual`. From
   * `permanently_failed` the retry count starts again at 0.
   */
  retriedManually(task: EventSubject, previous: 'failed' | 'timeout' | 'permanently_failed', retryCount: number, now: number, stage = 0): EventDraft {
    return draft(task, 'task_retry_scheduled', previous, 'pending', now, {
      stage,
      message: `Task ${task.id} retry ${retryCount} scheduled manually`,
      metadata: { retry_count: retryCount, previous_status: previous, manual: true },
    });
  },

  completed(task: EventSubject, now: number): EventDraft {
    return draft(task, 'task_completed', 'running', 'completed', now, {
      message: `Task ${task.id} status changed from running to completed`,
      metadata: generic({}),
    });
  },

  cronRescheduled(task: EventSubject, nextRunTime: number, now: number): EventDraft {
    return draft(task, 'task_status_changed', 'running', 'pending', now, {
      stage: 0,
      message: `Task ${task.id} status changed from running to pending`,
      metadata: generic({ next_run_time: nextRunTime }),
    });
  },

  /** `task_failed`, or `task_timed_out` when `status` is `timeout`. */
  failed(
    task: EventSubject,
    status: 'failed' | 'timeout',
    error: string,
    retry: { retry_count: number; next_run_time: number | null; delay_ms?: number; backoff?: string },
    timeoutType: string | undefined,
    now: number,
    nonRetryable = false,
  ): EventDraft {
    // with a retry planned: how long it waits (seconds) and by which backoff strategy
    const planned = retry.delay_ms === undefined ? {} : { retry_delay: retry.delay_ms / 1000, retry_backoff: retry.backoff ?? 'fixed' };
    return draft(task, status === 'timeout' ? 'task_timed_out' : 'task_failed', 'running', status, now, {
      message: `Task ${task.id} status changed from running to ${status}`,
      metadata: {
        ...generic({ error, retry_count: retry.retry_count, next_run_time: retry.next_run_time }),
        ...planned,
        ...(timeoutType ? { timeout_type: timeoutType } : {}),
        // docs/behaviour.md#non-retryable-failures
        ...(nonRetryable ? { retryable: false } : {}),
      },
    });
  },

  /**
   * Retries exhausted (`retry_exhausted: true`), or a non-retryable failure (`non_retryable: true`,
   * docs/behaviour.md#non-retryable-failures): async → `task_permanently_failed`, cron → `task_paused`. With a dead
   * letter enqueued in the same change, `dead_letter` names its task name (docs/behaviour.md#dead-letters).
   */
  exhausted(
    task: EventSubject,
    from: 'failed' | 'timeout',
    to: 'permanently_failed' | 'paused',
    error: string,
    now: number,
    how: { non_retryable?: boolean; dead_letter?: string | null } = {},
  ): EventDraft {
    return draft(task, to === 'paused' ? 'task_paused' : 'task_permanently_failed', from, to, now, {
      message: how.non_retryable ? `Task ${task.id} failed with a non-retryable error` : `Task ${task.id} retries exhausted`,
      metadata: {
        error,
        ...(how.non_retryable ? { non_retryable: true } : { retry_exhausted: true }),
        ...(how.dead_letter ? { dead_letter: how.dead_letter } : {}),
      },
    });
  },

  paused(task: EventSubject, from: TaskStatus, now: number): EventDraft {
    return draft(task, 'task_paused', from, 'paused', now, {
      message: `Task ${task.id} status changed from ${from} to paused`,
      metadata: generic({}),
    });
  },

  /** Manual resume: `task_resumed` from suspended (stage + 1), else `task_status_changed` (stage 0). */
  resumed(task: EventSubject, from: TaskStatus, newStage: number, resumeReason: string, now: number): EventDraft {
    const fromSuspended = from === 'suspended';
    return draft(task, fromSuspended ? 'task_resumed' : 'task_status_changed', from, 'pending', now, {
      stage: newStage,
      message: `Task ${task.id} status changed from ${from} to pending`,
      metadata: {
        ...generic({ retry_count: 0, next_run_time: now }),
        ...(fromSuspended ? { resume_reason: resumeReason } : {}),
      },
    });
  },

  /** A duplicate of a unique task changed its pending holder (docs/behaviour.md#debounce-and-replace). */
  replaced(task: EventSubject, payloadReplaced: boolean, previousRunTime: number, nextRunTime: number, now: number): EventDraft {
    return draft(task, 'task_replaced', 'pending', 'pending', now, {
      message: `Task ${task.id} ${payloadReplaced ? 'replaced' : 'debounced'} by a duplicate`,
      metadata: { payload_replaced: payloadReplaced, previous_next_run_time: previousRunTime, next_run_time: nextRunTime },
    });
  },

  /**
   * A schedule changed in place (docs/behaviour.md#schedules): status unchanged; `changed` names
   * what changed (`payload`, `expression`, `options`).
   */
  scheduleUpdated(task: EventSubject, status: TaskStatus, key: string, changed: string[], previousRunTime: number, nextRunTime: number, now: number): EventDraft {
    return draft(task, 'schedule_updated', status, status, now, {
      message: `Schedule ${JSON.stringify(key)} of task ${task.id} updated: ${changed.join(', ')}`,
      metadata: { key, changed, previous_next_run_time: previousRunTime, next_run_time: nextRunTime },
    });
  },

  /** A schedule removed (docs/behaviour.md#schedules): `to` is `running` while its last attempt runs on, else `permanently_failed`. */
  scheduleRemoved(task: EventSubject, from: TaskStatus, to: TaskStatus, key: string, now: number): EventDraft {
    return draft(task, 'schedule_removed', from, to, now, {
      message: `Schedule ${JSON.stringify(key)} of task ${task.id} removed`,
      metadata: { key, running: from === 'running' },
    });
  },

  /** `cancelTask`; a cascade (docs/behaviour.md#cascade-cancel) adds `cascade: true` and the task whose cancel reached this one. */
  cancelled(task: EventSubject, from: TaskStatus, reason: string, now: number, cascade?: { cancelled_by: number }): EventDraft {
    return draft(task, 'task_permanently_failed', from, 'permanently_failed', now, {
      message: `Task ${task.id} cancelled`,
      metadata: { ...generic({ error: reason }), cancelled: true, ...(cascade ? { cascade: true, cancelled_by: cascade.cancelled_by } : {}) },
    });
  },

  /** A child with the rule `fail` failed for good: its parent fails (docs/behaviour.md#child-failure-rules). */
  failedByChild(task: EventSubject, childId: number, error: string, now: number, deadLetter: string | null): EventDraft {
    return draft(task, 'task_permanently_failed', 'suspended', 'permanently_failed', now, {
      message: `Task ${task.id} failed: child task ${childId} failed`,
      metadata: { ...generic({ error }), child_failed: childId, on_failure: 'fail', ...(deadLetter ? { dead_letter: deadLetter } : {}) },
    });
  },

  /** A flow's parent created with its children (docs/behaviour.md#flows): `task_subtasks_created`, new → suspended. */
  flowSubtasks(task: EventSubject, childIds: number[], childNames: string[], now: number): EventDraft {
    return draft(task, 'task_subtasks_created', null, 'suspended', now, {
      worker_id: null,
      message: `Task ${task.id} created ${childIds.length} subtasks`,
      metadata: { child_task_ids: childIds, child_task_names: childNames, child_count: childIds.length, flow: true },
    });
  },

  suspended(task: EventSubject, reason: string, handlerMetadata: Record<string, unknown> | null, now: number): EventDraft {
    return draft(task, 'task_suspended', 'running', 'suspended', now, {
      message: `Task ${task.id} suspended: ${reason}`,
      metadata: { ...generic({}), ...(handlerMetadata ?? {}), suspend_reason: reason },
    });
  },

  /**
   * A timed or signal wait ended (docs/behaviour.md#durable-sleep, #signals): `task_resumed`
   * suspended → pending at the new stage, with why (`sleep_elapsed`, `signal`, `signal_timeout`)
   * and what it waited for.
   */
  waitEnded(task: EventSubject, newStage: number, resumeReason: 'sleep_elapsed' | 'signal' | 'signal_timeout', detail: Record<string, unknown>, now: number): EventDraft {
    return draft(task, 'task_resumed', 'suspended', 'pending', now, {
      stage: newStage,
      message: `Task ${task.id} resumed: ${resumeReason}`,
      metadata: { ...generic({ next_run_time: now }), resume_reason: resumeReason, ...detail },
    });
  },

  /** A signal was sent to the task (status unchanged; a resume that follows writes its own event). */
  signalReceived(task: EventSubject & { status: TaskStatus }, name: string, signalId: number, resumed: boolean, now: number): EventDraft {
    return draft(task, 'task_signal_received', task.status, task.status, now, {
      message: `Task ${task.id} received signal ${name}`,
      metadata: { signal: name, signal_id: signalId, resumed },
    });
  },

  /** Parent spawned children: `task_subtasks_created` then `task_status_changed` (→ suspended). */
  spawned(task: EventSubject, childIds: number[], childNames: string[], now: number): EventDraft[] {
    return [
      draft(task, 'task_subtasks_created', 'running', 'suspended', now, {
        message: `Task ${task.id} created ${childIds.length} subtasks`,
        metadata: { child_task_ids: childIds, child_task_names: childNames, child_count: childIds.length },
      }),
      draft(task, 'task_status_changed', 'running', 'suspended', now, {
        message: `Task ${task.id} waiting for ${childIds.length} subtasks`,
        metadata: { suspend_reason: 'awaiting_subtasks', child_count: childIds.length, child_task_ids: childIds },
      }),
    ];
  },

  childrenCompleted(task: EventSubject, newStage: number, now: number): EventDraft {
    return draft(task, 'task_status_changed', 'suspended', 'pending', now, {
      stage: newStage,
      message: `Task ${task.id} resumed after child completion`,
      metadata: { resume_reason: 'children_completed' },
    });
  },

  timedOut(task: EventSubject, timeoutType: 'total' | 'heartbeat', error: string, retry: { retry_count: number; next_run_time: number | null }, now: number): EventDraft {
    return events.failed(task, 'timeout', error, retry, timeoutType, now);
  },

  /** Worker recovery or a graceful-stop interruption: running → pending, no retry consumed. */
  recovered(
    task: EventSubject,
    fromWorkerId: string | null,
    byWorkerId: string,
    byPodId: string | null,
    reason: 'worker_unavailable' | 'shutdown_timeout',
    now: number,
    stage = 0,
  ): EventDraft {
    return draft(task, 'task_recovered', 'running', 'pending', now, {
      stage,
      worker_id: byWorkerId,
      message: `Task ${task.id} recovered from ${fromWorkerId ?? 'unknown worker'}`,
      metadata: {
        recovery_reason: reason,
        recovered_from_worker_id: fromWorkerId,
        recovered_by_worker_id: byWorkerId,
        recovered_by_pod_id: byPodId,
      },
    });
  },

  /** `task_progress` / `task_checkpoint` (status unchanged). */
  note(
    task: EventSubject & { status: TaskStatus },
    type: 'task_progress' | 'task_checkpoint',
    message: string,
    metadata: Record<string, unknown>,
    attempt: number | null,
    workerId: string | null,
    stage: number | undefined,
    now: number,
  ): EventDraft {
    return draft(task, type, task.status, task.status, now, {
      stage: stage ?? task.stage,
      worker_id: workerId ?? task.worker_id,
      attempt,
      message,
      metadata,
    });
  },
};
