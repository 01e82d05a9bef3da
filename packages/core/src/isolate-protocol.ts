/*
 * The messages between the main thread and an isolated handler's thread
 * (docs/behaviour.md#isolated-handlers). Types only: both sides import them.
 */

/** An error as it crosses the boundary: its `name`, `code`, message and stack survive, its class does not. */
export interface IsolateErrorData {
  name: string;
  message: string;
  stack: string | undefined;
  code: string | undefined;
  /** JSON of a thrown non-Error value. */
  thrown?: string | undefined;
}

/** The progress fields of the task object after a note was written, mirrored in the thread. */
export interface ProgressMirror {
  current_stage_name: string | null;
  progress_text: string | null;
  progress_percent: number | null;
}

/** Main thread → handler thread. */
export type MainToIsolate =
  /** Run one attempt: the claimed row, and when its timeout falls (`performance.timeOrigin + performance.now()` ms). */
  | { type: 'run'; task: Record<string, unknown>; deadline: number }
  /** The attempt ended on the main side: abort `task.signal` with this reason. */
  | { type: 'abort'; reason: IsolateErrorData }
  /** The answer to a note. */
  | { type: 'note-done'; id: number; ok: true; value: number; progress: ProgressMirror }
  | { type: 'note-done'; id: number; ok: false; error: IsolateErrorData };

/** How the handler ended. */
export type IsolateDone =
  | { type: 'done'; ok: true; kind: 'value'; value: unknown; checkTimedOut: boolean }
  | { type: 'done'; ok: true; kind: 'next'; children: unknown; context: unknown; checkTimedOut: boolean }
  | { type: 'done'; ok: true; kind: 'suspend'; options: unknown; checkTimedOut: boolean }
  | { type: 'done'; ok: true; kind: 'sleep'; duration: unknown; options: unknown; checkTimedOut: boolean }
  | { type: 'done'; ok: true; kind: 'wait_signal'; name: unknown; options: unknown; checkTimedOut: boolean }
  | { type: 'done'; ok: false; error: IsolateErrorData; checkTimedOut: boolean };

/** Handler thread → main thread. */
export type IsolateToMain =
  /** `task.progress(…)`, `task.setProgress(…)` or `task.audit(…)`, written by the main thread. */
  | { type: 'note'; id: number; method: 'progress' | 'audit' | 'setProgress'; args: unknown[] }
  | IsolateDone;
