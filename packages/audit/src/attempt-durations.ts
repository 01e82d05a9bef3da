import type { TaskAttempt } from '@taskmill/contracts';

/*
 * Attempt durations for the workflow summary (docs/behaviour.md#audit-summary; units: #time):
 * each attempt's own time, and the slowest attempts of a workflow.
 */

/** An attempt row plus its duration. */
export type TimedAttempt = TaskAttempt & {
  /** `max(0, ended_at - started_at) / 1000`, or `null` while the attempt is open. */
  duration_seconds: number | null;
};

/**
 * Integer milliseconds of a closed attempt, `null` while open. Arithmetic stays in ms so sums
 * are exact and only the final division produces a fraction.
 */
export function attemptDurationMs(attempt: TaskAttempt): number | null {
  if (attempt.ended_at === null) return null;
  return Math.max(0, attempt.ended_at - attempt.started_at);
}

function msToSeconds(ms: number | null): number | null {
  return ms === null ? null : ms / 1000;
}

/**
 * Seconds an attempt took, with millisecond fractions (`0.012`); clock skew never makes it
 * negative. `null` while the attempt is open.
 */
export function attemptDurationSeconds(attempt: TaskAttempt): number | null {
  return msToSeconds(attemptDurationMs(attempt));
}

/** Copy of an attempt row with its {@link attemptDurationSeconds}. */
export function timedAttempt(attempt: TaskAttempt): TimedAttempt {
  return { ...attempt, duration_seconds: attemptDurationSeconds(attempt) };
}

/**
 * The `n` slowest attempts: duration descending with open attempts ranked as -1 (below any
 * closed one), then `started_at` ascending, then id ascending.
 */
export function slowestAttempts(attempts: readonly TaskAttempt[], n = 5): TimedAttempt[] {
  const rank = (attempt: TaskAttempt) => attemptDurationMs(attempt) ?? -1;
  return [...attempts]
    .sort((a, b) => rank(b) - rank(a) || a.started_at - b.started_at || a.id - b.id)
    .slice(0, Math.max(0, n))
    .map(timedAttempt);
}
