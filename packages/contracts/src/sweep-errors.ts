/** Error text written by the maintenance sweep and by worker recovery (docs/behaviour.md#maintenance, #recovery). */
export const SWEEP_ERRORS = {
  total: 'Task exceeded total timeout limit',
  heartbeat: 'Task heartbeat timed out',
  recovered: 'Task ownership recovered after worker became unavailable',
} as const;
