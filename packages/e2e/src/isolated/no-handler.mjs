// A module with neither a default export function nor a `handler` export.
export const handler = 'not a function';
