/** Where a command writes: stdout for results, stderr for the one error line. */
export interface Output {
  out(text: string): void;
  err(text: string): void;
}

/** The process's own streams. */
export const processOutput: Output = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** Stable JSON for scripts: two-space indented, one trailing newline, nothing else on stdout. */
export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
