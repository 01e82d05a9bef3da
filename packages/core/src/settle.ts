/*
 * Bounded waits for promises that may never settle (a store call a driver stranded on a killed
 * connection): the caller goes on and reports it instead of hanging.
 */
/** True when `promise` settles within `ms`; false when the wait gave up first. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), gaveUp]);
  } finally {
    clearTimeout(timer);
  }
}
