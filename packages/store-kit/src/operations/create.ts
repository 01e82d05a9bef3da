import { DuplicateTaskError, StoreError, type FlowIds, type FlowResult, type NewFlow, type NewFlowChild, type NewTask, type TaskId } from '@taskmill/contracts';
import * as changes from '../changes.js';
import type { HolderUpdate, TaskChange } from '../changes.js';
import type { TaskInsert } from '../rows-to-write.js';
import type { StoreWriter } from '../statements.js';
import { call, pause, runSteps, type Steps } from '../step-programs.js';

/* Creating tasks (docs/behaviour.md#submission): top-level tasks, unique tasks, children, in chunks. */

/** Insert top-level tasks with their `task_created` events; ids in input order. */
export function createTasks(tx: StoreWriter, tasks: NewTask[], now: number): Promise<TaskId[]> {
  return runSteps(tx, createTaskSteps(tasks, now));
}

/** Writer methods {@link createTaskSteps} calls: what a synchronous writer must provide. */
export const CREATE_TASK_METHODS = [
  'insertTasks',
  'insertUniqueTask',
  'selectUniqueHolder',
  'lockTask',
  'releaseExpiredUnique',
  'applyChanges',
  'wake',
] as const satisfies readonly (keyof StoreWriter)[];

/** How often a unique insert is tried when its key's holder goes away in between (released, deleted). */
const UNIQUE_INSERT_TRIES = 3;

/**
 * Rows per writer call of a large write, with a turn of the event loop between two calls (see
 * step-programs.ts `pause`): every chunk costs the same, so a batch costs time linear in its size, and no
 * stretch of it holds the event loop for longer than one chunk takes. All chunks are written in
 * the caller's one transaction: the batch still commits or rolls back whole.
 */
export const WRITE_CHUNK = 1000;

/**
 * {@link createTasks} as a step program (see step-programs.ts), so that it also runs inside an
 * application's synchronous transaction (`runStepsSync`) with the same rules.
 *
 * Unique tasks first, one key at a time (see {@link insertUnique}); a duplicate of an earlier task
 * of the same call gets that task's id, and folds into it before it is written (its `replace`
 * payload, its later debounced run time; docs/behaviour.md#debounce-and-replace). Then the plain
 * tasks in multi-row inserts of {@link WRITE_CHUNK} rows. Only inserted tasks get a `task_created`
 * event, in input order. A duplicate with `on_duplicate: 'error'` throws before any plain row.
 */
export function* createTaskSteps(tasks: NewTask[], now: number): Steps<TaskId[]> {
  if (tasks.length === 0) return [];
  // rows are built chunk by chunk, as they are written: building 100,000 at once is a stretch of
  // the event loop of its own
  const rows: TaskInsert[] = new Array(tasks.length);
  const rowOf = (i: number) => (rows[i] ??= changes.taskInsert(tasks[i], now));
  const ids: TaskId[] = new Array(tasks.length);
  const isCreated: boolean[] = new Array(tasks.length).fill(false);
  // unique tasks by (name, key), in order of first appearance: a key's later items are duplicates of its first
  const keys = new Map<string, number[]>();
  const plain: number[] = [];
  for (let i = 0; i < tasks.length; i++) {
    if ((tasks[i].unique_key ?? null) === null) {
      plain.push(i);
      continue;
    }
    const row = rowOf(i);
    const key = JSON.stringify([row.name, row.unique_slot]);
    const items = keys.get(key);
    if (items === undefined) keys.set(key, [i]);
    else items.push(i);
  }
  let uniqueTried = 0;
  for (const items of keys.values()) {
    if (++uniqueTried % WRITE_CHUNK === 0) yield* pause();
    const first = items[0];
    const later = items.slice(1);
    const row = (rows[first] = withDuplicates(rowOf(first), foldDuplicates(tasks, later)));
    const slot = row.unique_slot!;
    const refused = tasks[first].on_duplicate === 'error' || later.some((i) => tasks[i].on_duplicate === 'error');
    const { id, inserted } = yield* insertUnique(row, slot, refused ? null : foldDuplicates(tasks, items), now);
    if ((!inserted && tasks[first].on_duplicate === 'error') || later.some((i) => tasks[i].on_duplicate === 'error')) {
      throw new DuplicateTaskError(row.name, row.unique_key ?? slot, id);
    }
    for (const i of items) ids[i] = id;
    if (inserted) isCreated[first] = true;
  }
  for (let start = 0; start < plain.length; start += WRITE_CHUNK) {
    if (start > 0) yield* pause();
    const chunk = plain.slice(start, start + WRITE_CHUNK);
    const chunkIds = yield* call('insertTasks', chunk.map(rowOf));
    chunk.forEach((i, k) => {
      ids[i] = chunkIds[k];
      isCreated[i] = true;
    });
  }
  const created: number[] = [];
  for (let i = 0; i < tasks.length; i++) if (isCreated[i]) created.push(i);
  // the wake-up before the events, not after: it takes effect at commit either way, and a store
  // that sends it without waiting (PostgreSQL) gets its answer together with the events'
  if (created.some((i) => rows[i].next_run_time <= now)) yield* call('wake');
  yield* createdEvents(created.map((i) => ids[i]), created.map((i) => rows[i]), now);
  return ids;
}

/** The `task_created` events of inserted rows, in their order, {@link WRITE_CHUNK} tasks per writer call. */
function* createdEvents(ids: readonly TaskId[], rows: readonly TaskInsert[], now: number): Steps<void> {
  for (let start = 0; start < ids.length; start += WRITE_CHUNK) {
    if (start > 0) yield* pause();
    const list: TaskChange[] = [];
    for (let i = start; i < Math.min(start + WRITE_CHUNK, ids.length); i++) list.push(eventsOnly(ids[i], [changes.createdEvent(ids[i], rows[i], now)]));
    yield* call('applyChanges', list);
  }
}

/** Insert child rows with their `task_created` events, in chunks; ids in input order. */
export function* insertChildren(rows: readonly TaskInsert[], now: number): Steps<TaskId[]> {
  const ids: TaskId[] = [];
  for (let start = 0; start < rows.length; start += WRITE_CHUNK) {
    if (start > 0) yield* pause();
    for (const id of yield* call('insertTasks', rows.slice(start, start + WRITE_CHUNK))) ids.push(id);
  }
  yield* createdEvents(ids, rows, now);
  return ids;
}

/**
 * Insert one unique task, race-free: the store's UNIQUE index over `(name, unique_slot)` decides
 * (a concurrent holder's transaction is waited for), never a read before the write. When the key
 * is held: a `period` holder whose `unique_until <= now` is released (compare-and-set) and the
 * insert tried again; otherwise the holder's id is the answer, after `update` (if any) is applied
 * to it (see {@link updateHolder}).
 */
function* insertUnique(row: TaskInsert, slot: string, update: HolderUpdate | null, now: number): Steps<{ id: TaskId; inserted: boolean }> {
  for (let attempt = 1; ; attempt++) {
    const id = yield* call('insertUniqueTask', row);
    if (id !== null) return { id, inserted: true };
    const released = yield* call('releaseExpiredUnique', row.name, slot, now);
    const holder = released ? null : yield* call('selectUniqueHolder', row.name, slot);
    if (holder !== null && (update === null || (yield* updateHolder(holder, row.name, slot, update, now)))) return { id: holder, inserted: false };
    if (attempt >= UNIQUE_INSERT_TRIES) {
      throw new StoreError(`Could not insert unique task ${row.name} (${slot}): its key stays held by a task this transaction cannot see`);
    }
  }
}

/** Create a flow in the writer's transaction (see `TaskStore.createFlow`). */
export function createFlow(tx: StoreWriter, flow: NewFlow, now: number): Promise<FlowResult> {
  return runSteps(tx, createFlowSteps(flow, now));
}

/**
 * A flow (docs/behaviour.md#flows) as a step program (so it also runs inside an application's
 * synchronous transaction), with the writer methods of {@link CREATE_TASK_METHODS}. The root
 * first (against its unique key, when it has one: a held key ends the program with nothing
 * written), then each level of children in one multi-row insert per {@link WRITE_CHUNK} rows, so
 * every parent's id is known before its children are written. A task with children is inserted
 * `suspended` awaiting them. Then the events: each task's `task_created` in that order (parents
 * before children, each level in definition order), then each parent's `task_subtasks_created`.
 */
export function* createFlowSteps(flow: NewFlow, now: number): Steps<FlowResult> {
  const rootRow = changes.flowParentRow(changes.taskInsert(flow.task, now), flow.children.length);
  let rootId: TaskId;
  if (rootRow.unique_slot !== null) {
    const { id, inserted } = yield* insertUnique(rootRow, rootRow.unique_slot, null, now);
    if (!inserted) {
      if (flow.task.on_duplicate === 'error') throw new DuplicateTaskError(rootRow.name, rootRow.unique_key ?? rootRow.unique_slot, id);
      return { id, created: false, children: [] };
    }
    rootId = id;
  } else {
    [rootId] = yield* call('insertTasks', [rootRow]);
  }
  const rootIds: FlowIds = { id: rootId, children: [] };
  const ids: TaskId[] = [rootId];
  const rows = [rootRow];
  const parents: Array<{ index: number; children: FlowIds[] }> = [];
  if (flow.children.length > 0) parents.push({ index: 0, children: rootIds.children });
  let level: Array<{ ids: FlowIds; node: { children: NewFlowChild[] } }> = [{ ids: rootIds, node: flow }];
  while (level.length > 0) {
    const next: typeof level = [];
    const levelRows: TaskInsert[] = [];
    for (const { ids: parentIds, node } of level) {
      for (const child of node.children) {
        const childIds: FlowIds = { id: 0, children: [] };
        parentIds.children.push(childIds);
        next.push({ ids: childIds, node: child });
        levelRows.push(changes.flowChildInsert(rootId, parentIds.id, child, now));
      }
    }
    for (let start = 0; start < levelRows.length; start += WRITE_CHUNK) {
      if (rows.length > 1) yield* pause();
      const inserted = yield* call('insertTasks', levelRows.slice(start, start + WRITE_CHUNK));
      inserted.forEach((id, k) => (next[start + k].ids.id = id));
    }
    for (let k = 0; k < next.length; k++) {
      const index = rows.length;
      rows.push(levelRows[k]);
      ids.push(next[k].ids.id);
      if (next[k].node.children.length > 0) parents.push({ index, children: next[k].ids.children });
    }
    // the next level's rows name these ids as their parents
    level = next;
  }
  if (rows.some((row) => row.status === 'pending' && row.next_run_time <= now)) yield* call('wake');
  yield* createdEvents(ids, rows, now);
  const nameOf = new Map(ids.map((id, i) => [id, rows[i].name]));
  const subtasks = parents.map(({ index, children }) =>
    eventsOnly(ids[index], [changes.flowSubtasksEvent(ids[index], rows[index], children.map((c) => c.id), children.map((c) => nameOf.get(c.id)!), now)]),
  );
  for (let start = 0; start < subtasks.length; start += WRITE_CHUNK) yield* call('applyChanges', subtasks.slice(start, start + WRITE_CHUNK));
  return { ...rootIds, created: true };
}

/**
 * Insert the dead letter of a task that just failed for good, in the transaction of that change
 * (docs/behaviour.md#dead-letters): its row, its `task_created` event (`dead_letter_of`), a wake-up.
 * Returns its id.
 */
export async function insertDeadLetter(tx: StoreWriter, failedTaskId: TaskId, task: NewTask, now: number): Promise<TaskId> {
  const row = changes.taskInsert(task, now);
  const [id] = await tx.insertTasks([row]);
  await tx.wake();
  await tx.applyChanges([eventsOnly(id, [changes.deadLetterCreatedEvent(id, row, failedTaskId, now)])]);
  return id;
}

/**
 * Apply duplicates to the key's holder (docs/behaviour.md#debounce-and-replace): lock its row, so a
 * claim, a pause or another duplicate of the key is serialised with this transaction, then check
 * that it still holds the key (a claim may have released a `pending` scope, or a delete the row,
 * before the lock): false when not, and the insert is tried again. The change itself is decided on
 * the locked row (see `changes.replaceHolder`); none when nothing is asked.
 */
function* updateHolder(id: TaskId, name: string, slot: string, update: HolderUpdate, now: number): Steps<boolean> {
  if (update.payload === undefined && update.next_run_time === undefined) return true;
  const task = yield* call('lockTask', id);
  if (task === null || (yield* call('selectUniqueHolder', name, slot)) !== id) return false;
  const change = changes.replaceHolder(task, update, now);
  if (change !== null) yield* call('applyChanges', [change]);
  return true;
}

/** What the duplicates among `items` ask of their key's holder: the last `replace` payload, the latest debounced run time. */
function foldDuplicates(tasks: readonly NewTask[], items: readonly number[]): HolderUpdate {
  const update: HolderUpdate = {};
  for (const i of items) {
    const task = tasks[i];
    if (task.on_duplicate === 'replace') update.payload = task.payload;
    if (task.debounce === true) update.next_run_time = Math.max(update.next_run_time ?? task.next_run_time, task.next_run_time);
  }
  return update;
}

/** A key's first row with its later duplicates of the same call folded in (they never existed apart from it). */
function withDuplicates(row: TaskInsert, update: HolderUpdate): TaskInsert {
  if (update.payload === undefined && update.next_run_time === undefined) return row;
  return {
    ...row,
    payload: update.payload !== undefined ? update.payload : row.payload,
    next_run_time: Math.max(row.next_run_time, update.next_run_time ?? row.next_run_time),
  };
}

/** A change that only inserts events (the row already carries `last_event_*`). */
export function eventsOnly(id: TaskId, drafts: TaskChange['events']): TaskChange {
  return { task_id: id, patch: {}, guard: null, close_attempt: null, open_attempt: null, events: drafts, credit: null, due: false, dead_letter: null };
}
