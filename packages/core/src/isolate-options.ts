import { statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ValidationError } from '@taskmill/contracts';

/** The values of a handler's `isolate` option. */
export const ISOLATE_MODES = ['thread'] as const;

/**
 * The `module` of an isolated handler as a `file:` URL (docs/behaviour.md#isolated-handlers): a
 * `URL` or a string, either a `file:` URL or an absolute path, naming a file that exists now. A
 * relative path is refused rather than resolved: against what (the process's directory, the
 * caller's file) would be a guess. Whether the module exports a function is known only once a
 * thread loads it, which runs its top-level code; that is the attempt's business, not `use()`'s.
 */
export function moduleUrl(value: unknown, what: string): string {
  let url: URL;
  if (value instanceof URL) url = value;
  else if (typeof value === 'string' && value.startsWith('file:')) {
    try {
      url = new URL(value);
    } catch {
      throw new ValidationError(`${what} must be a file: URL or an absolute path; got ${JSON.stringify(value)}`);
    }
  } else if (typeof value === 'string' && isAbsolute(value)) url = pathToFileURL(value);
  else throw new ValidationError(`${what} must be a file: URL or an absolute path; got ${typeof value === 'string' ? JSON.stringify(value) : typeof value}`);
  if (url.protocol !== 'file:') throw new ValidationError(`${what} must be a file: URL or an absolute path; got ${url.href}`);
  const path = fileURLToPath(url);
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    isFile = false;
  }
  if (!isFile) throw new ValidationError(`${what} is not a file: ${path}`);
  return url.href;
}

/** The `isolate` option: `thread` (the default with `module`). */
export function isolateOption(value: unknown, what: string): (typeof ISOLATE_MODES)[number] {
  if (value === undefined) return 'thread';
  if (!ISOLATE_MODES.includes(value as never)) throw new ValidationError(`${what} must be one of: ${ISOLATE_MODES.join(', ')}; got ${JSON.stringify(value) ?? String(value)}`);
  return value as (typeof ISOLATE_MODES)[number];
}
