import { TaskTimeoutError, type Fence, type Store, type Task, type TaskNoteInput } from '@taskmill/contracts';
import { checkpointNote, progressNote } from './notes.js';
import { SignalWait, Sleep, Suspension, type SignalWaitOptions, type SleepOptions, type SuspensionOptions } from './suspension.js';
import type { TaskContext } from './types.js';
import type { Clock } from './db-clock.js';

/** Per-attempt state shared between the handler's task object and the manager. */
export interface AttemptState {
  readonly fence: Fence;
  readonly startedAt: number;
  readonly controller: AbortController;
  /** Set once `checkTimeout()` has thrown: the attempt ends as `timeout` whatever the handler does. */
  checkTimedOut: boolean;
  /** Notes (progress/checkpoints) not yet written; awaited before the outcome is written. */
  readonly notes: Set<Promise<unknown>>;
}

/**
 * The object handed to a handler: the claimed row plus `signal`, `checkTimeout`, `audit`,
 * `progress`, `setProgress` and `suspend` (docs/behaviour.md#handlers, #timeouts, #events).
 */
export function buildTaskContext(task: Task, state: AttemptState, store: Store, clock: Clock): TaskContext {
  const ctx = { ...task } as TaskContext;

  // A note the handler does not await must not become an unhandled rejection, yet an awaited one
  // must still reject (e.g. NotOwnerError after the task was taken away).
  const track = (write: () => Promise<number>): Promise<number> => {
    const p = write();
    state.notes.add(p);
    p.catch(() => undefined).finally(() => state.notes.delete(p));
    return p;
  };

  const writeNote = (note: TaskNoteInput) =>
    track(async () => {
      const id = await store.recordTaskNote(task.id, state.fence, note, clock.now());
      if (note.progress) {
        if (note.progress.current_stage_name !== undefined) ctx.current_stage_name = note.progress.current_stage_name;
        if (note.progress.progress_text !== undefined) ctx.progress_text = note.progress.progress_text;
        if (note.progress.progress_percent !== undefined) ctx.progress_percent = note.progress.progress_percent;
      }
      return id;
    });

  // validation errors reject the returned promise like write errors do, never throw synchronously
  const noteWriter =
    (build: (input: unknown, details?: unknown) => TaskNoteInput) =>
    (input: unknown, details?: unknown): Promise<number> => {
      let note: TaskNoteInput;
      try {
        note = build(input, details);
      } catch (error) {
        return Promise.reject(error);
      }
      return writeNote(note);
    };

  Object.defineProperties(ctx, {
    signal: { value: state.controller.signal, enumerable: false },
    checkTimeout: {
      enumerable: false,
      value: () => {
        if (Date.now() - state.startedAt >= ctx.timeout * 1000) {
          state.checkTimedOut = true;
          throw new TaskTimeoutError();
        }
      },
    },
    audit: { enumerable: false, value: noteWriter(checkpointNote) },
    progress: { enumerable: false, value: noteWriter(progressNote) },
    setProgress: {
      enumerable: false,
      value: (percent: unknown) => (ctx.progress as (i: unknown) => Promise<number>)({ progress_percent: percent }),
    },
    suspend: { enumerable: false, value: (options: SuspensionOptions) => new Suspension(options) },
    sleep: { enumerable: false, value: (duration: number | Date, options?: SleepOptions) => new Sleep(duration, options) },
    waitForSignal: { enumerable: false, value: (name: string, options?: SignalWaitOptions) => new SignalWait(name, options) },
  });
  return ctx;
}
