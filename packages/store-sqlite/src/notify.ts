/*
 * Wake-ups. SQLite has no cross-process notification channel, so the store declares
 * `capabilities.notify = false`, has no `listen()`, and `wake()` does nothing: core polls.
 */

/** A task became claimable: nothing to tell other processes on SQLite. */
export async function wake(): Promise<void> {}
