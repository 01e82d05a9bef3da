/*
 * A preload for worker processes of the clock tests (`node --import ./skew-clock.mjs`): shifts this
 * process's `Date.now()` by TASKMILL_TEST_CLOCK_SKEW_MS, as a host whose time service is off
 * would. Timers and `performance.now()` keep running at the true rate, as on such a host.
 */
const skew = Number(process.env.TASKMILL_TEST_CLOCK_SKEW_MS ?? 0);
if (Number.isFinite(skew) && skew !== 0) {
  const realNow = Date.now.bind(Date);
  Date.now = () => realNow() + skew;
}
