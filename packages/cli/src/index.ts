/*
 * @taskmill/cli — the `taskmill` operator command. The bin is the product; `run` is exported for
 * embedding the same commands in another tool.
 */
export { run } from './program.js';
export { EXIT_CODES, type ExitCode } from './exit-codes.js';
export type { Output } from './output.js';
