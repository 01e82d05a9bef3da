/** Where a command writes: stdout for results, stderr for the one error line. */
export interface Output {
  out(text: string): void;
  err(text: string): void;
  /**
   * Redraw a one-line progress display (a terminal only; absent otherwise, and then no progress
   * is shown). `done` ends the line.
   */
  progress?(line: string, done?: boolean): void;
}

/** The process's own streams; progress on stderr when it is a terminal, so stdout stays the result. */
export const processOutput: Output = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  ...(process.stderr.isTTY ? { progress: (line: string, done = false) => process.stderr.write(`\r\u001b[2K${line}${done ? '\n' : ''}`) } : {}),
};

/** Stable JSON for scripts: two-space indented, one trailing newline, nothing else on stdout. */
export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
