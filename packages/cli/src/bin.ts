#!/usr/bin/env node
import { run } from './program.js';

// exitCode rather than exit(): stdout is flushed before the process ends
process.exitCode = await run(process.argv.slice(2));
