import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { StoreUnavailableError } from '@taskmill/contracts';
import type { SqliteConnection } from './connection.js';

/*
 * Cross-process wake-ups (docs/behaviour.md#wake-ups) on a database file. SQLite has no notification channel, but
 * every commit of another connection — in this process or another on this machine — writes the
 * database's WAL file (`<file>-wal`), or the file itself when it is not in WAL mode. `listen()`
 * watches the file's directory (inotify on Linux; the WAL file comes and goes, the directory
 * stays) and, coalesced to one check per turn of the event loop, wakes the claim loop when
 * another connection has committed. The claim loop's own poll (`poll_interval`) remains the
 * fallback — for a file system without change events (a network share) and for a watch that fails.
 * In-memory databases live in one connection: this process's enqueues wake it directly.
 *
 * The store's own commits write the WAL too, and a worker commits several times per task (claim,
 * finish group, heartbeats), so a watch that woke on every change would send the claim loop into
 * an empty claim transaction after each of them. Where the store opened the file itself, every
 * commit on its connection is its own, and SQLite's `PRAGMA data_version` tells the two apart: it
 * changes when another connection commits, never for the connection's own. Those changes wake; the
 * store's own commits wake this store's listeners directly, and only when the transaction made a
 * task claimable (`wake()` in it, delivered after COMMIT, dropped at ROLLBACK), so two managers
 * sharing one store still wake each other. On a caller's `{ database }` the application may commit
 * on the very same connection, so there every change wakes, as a change of another would.
 *
 * data_version is read without waiting for a writer's lock, and the change event of another
 * connection's last WAL write can arrive a moment before that commit is published in the WAL
 * index: a change event that shows no new version is looked at once more {@link RECHECK_MS} later.
 */

/** How long after a change event that showed no other connection's commit to look once more. */
const RECHECK_MS = 5;

/** Listeners of this process on one connection, and whether its open transaction made a task claimable. */
interface Local {
  listeners: Set<() => void>;
  pending: boolean;
}

const locals = new WeakMap<SqliteConnection, Local>();

function localOf(connection: SqliteConnection): Local {
  let local = locals.get(connection);
  if (!local) {
    local = { listeners: new Set(), pending: false };
    locals.set(connection, local);
  }
  return local;
}

function call(onWake: () => void): void {
  try {
    onWake();
  } catch {
    // a throwing callback must not end the watch, nor fail the commit that woke it
  }
}

/** A task became claimable in the transaction open on `connection`: its listeners are woken after COMMIT. */
export function wake(connection: SqliteConnection): void {
  const local = locals.get(connection);
  if (local) local.pending = true;
}

/** The transaction on `connection` committed: deliver the wake-up it queued, if any, on the next turn of the event loop. */
export function committed(connection: SqliteConnection): void {
  const local = locals.get(connection);
  if (!local?.pending) return;
  local.pending = false;
  // on the next turn: the committing call (an enqueue, say) settles first, and a manager that
  // woke itself for its own change has begun its claim
  setImmediate(() => {
    for (const onWake of [...local.listeners]) call(onWake);
  });
}

/** The transaction on `connection` rolled back: its queued wake-up is dropped with it. */
export function rolledBack(connection: SqliteConnection): void {
  const local = locals.get(connection);
  if (local) local.pending = false;
}

/** Watch the database file and its WAL for other connections' commits; resolves to the unsubscribe. */
export async function listen(connection: SqliteConnection, onWake: () => void): Promise<() => Promise<void>> {
  const file = connection.filePath;
  if (file === null) return async () => {};
  const names = new Set([basename(file), `${basename(file)}-wal`]);
  const filter = connection.ownsDatabase;
  let seen = filter ? connection.dataVersion() : null;
  /** Whether another connection committed since the last look (always, without the filter). */
  const changed = (): boolean => {
    if (!filter) return true;
    try {
      const version = connection.dataVersion();
      if (version === null || version === seen) return false;
      seen = version;
      return true;
    } catch {
      return true; // an unreadable version must not lose a wake-up
    }
  };
  let queued = false;
  let recheck: NodeJS.Timeout | undefined;
  const look = () => {
    queued = false;
    if (changed()) return call(onWake);
    if (recheck !== undefined) return;
    recheck = setTimeout(() => {
      recheck = undefined;
      if (changed()) call(onWake);
    }, RECHECK_MS);
    recheck.unref?.();
  };
  let watcher: FSWatcher;
  try {
    watcher = watch(dirname(file), { persistent: false }, (_event, name) => {
      if (name !== null && !names.has(String(name))) return;
      if (queued) return;
      queued = true;
      setImmediate(look);
    });
  } catch (error) {
    throw new StoreUnavailableError(`Could not watch ${dirname(file)} for wake-ups: ${(error as Error).message}`, { cause: error });
  }
  // this store's own commits that made a task claimable (see above); without the filter the
  // watch already wakes for them, as for any change
  const local = filter ? localOf(connection) : null;
  local?.listeners.add(onWake);
  // a watch that breaks later leaves polling in charge
  watcher.on('error', () => watcher.close());
  return async () => {
    local?.listeners.delete(onWake);
    clearTimeout(recheck);
    watcher.close();
  };
}
