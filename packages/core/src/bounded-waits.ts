import { StoreUnavailableError } from '@taskmill/contracts';

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

/**
 * `call`'s result, or a StoreUnavailableError once `ms` have passed without one, so that the caller
 * retries as after any outage. Used where one stranded call would stop a loop for good. If the
 * abandoned call commits later, fencing makes its effect harmless: a claim nobody runs gets no
 * heartbeats and is timed out and retried; a late outcome write of an attempt already settled
 * is refused by its fence.
 */
export async function withinDeadline<T>(call: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreUnavailableError(`${what} had not settled after ${ms} ms; giving up on it`)), ms);
  });
  try {
    return await Promise.race([call, expired]);
  } finally {
    clearTimeout(timer);
  }
}
