import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { StoreUnavailableError } from '@taskmill/contracts';
import type { SqliteConnection } from './connection.js';

/*
 * Cross-process wake-ups (SPEC A11) on a database file. SQLite has no notification channel, but
 * every commit of another connection — in this process or another on this machine — writes the
 * database's WAL file (`<file>-wal`), or the file itself when it is not in WAL mode. `listen()`
 * watches the file's directory (inotify on Linux; the WAL file comes and goes, the directory
 * stays) and wakes the claim loop on any change of either, coalesced to one wake-up per turn of
 * the event loop. A wake-up only says "claim now": a change that made nothing claimable costs
 * one empty claim. The claim loop's own poll (`poll_interval`) remains the fallback — for a
 * file system without change events (a network share) and for a watch that fails.
 * In-memory databases live in one connection: this process's enqueues wake it directly.
 */

/** A task became claimable: the commit's own write to the WAL file is the signal (synchronous: see task-rows.ts). */
export function wake(): void {}

/** Watch the database file and its WAL for changes; resolves to the unsubscribe. */
export async function listen(connection: SqliteConnection, onWake: () => void): Promise<() => Promise<void>> {
  const file = connection.filePath;
  if (file === null) return async () => {};
  const names = new Set([basename(file), `${basename(file)}-wal`]);
  let queued = false;
  let watcher: FSWatcher;
  try {
    watcher = watch(dirname(file), { persistent: false }, (_event, name) => {
      if (name !== null && !names.has(String(name))) return;
      if (queued) return;
      queued = true;
      setImmediate(() => {
        queued = false;
        try {
          onWake();
        } catch {
          // a throwing callback must not end the watch
        }
      });
    });
  } catch (error) {
    throw new StoreUnavailableError(`Could not watch ${dirname(file)} for wake-ups: ${(error as Error).message}`, { cause: error });
  }
  // a watch that breaks later leaves polling in charge
  watcher.on('error', () => watcher.close());
  return async () => watcher.close();
}
