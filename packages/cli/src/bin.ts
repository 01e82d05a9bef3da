#!/usr/bin/env node
import { run } from './program.js';

// `taskmill tasks | head -3`: a reader that stops early is not an error worth a stack trace
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

// exitCode rather than exit(): stdout is flushed before the process ends
process.exitCode = await run(process.argv.slice(2));
