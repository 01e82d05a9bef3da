/*
 * Cross-process wake-ups. MySQL has no LISTEN/NOTIFY: the store reports
 * `capabilities.notify = false`, has no `listen()`, and core polls for due tasks instead.
 */

/** A task became claimable: nothing to tell other processes on MySQL (they poll). */
export async function wake(): Promise<void> {}
