import { LIMITS, LimitExceededError, SerializationError, utf8Bytes } from '@taskmill/contracts';

/** The byte limits a JSON value may be checked against. */
export type JsonLimit = 'max_payload_bytes' | 'max_result_bytes' | 'max_metadata_bytes';

/**
 * JSON text of a payload, result or metadata, or null for `undefined`/`null`. Rejects what
 * JSON.stringify would silently lose or choke on (functions, symbols, BigInts, NaN and
 * Infinity, cycles, Maps and Sets) with a SerializationError, and what some store could not hold
 * (nesting beyond LIMITS.max_json_depth, more UTF-8 bytes than `limit`) with a
 * LimitExceededError, so that every store accepts and refuses the same values.
 */
export function toJsonText(value: unknown, what: string, limit: JsonLimit): string | null {
  if (value === undefined || value === null) return null;
  assertJsonSafe(value, what, '$', new Set(), 0);
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (cause) {
    if (cause instanceof RangeError) {
      // a toJSON() that builds a deeper value than the walk above could see
      throw new LimitExceededError(what, 'max_json_depth', LIMITS.max_json_depth, LIMITS.max_json_depth + 1, 'levels deep');
    }
    throw new SerializationError(`${what} is not JSON-serialisable: ${(cause as Error).message}`, { cause });
  }
  if (text === undefined) return null;
  const max = LIMITS[limit];
  // a UTF-8 byte is at least one UTF-16 unit, so a text of at most max / 3 units cannot be too large
  if (text.length > max / 3) {
    const bytes = utf8Bytes(text);
    if (bytes > max) throw new LimitExceededError(what, limit, max, bytes, 'bytes');
  }
  return text;
}

function assertJsonSafe(value: unknown, what: string, path: string, seen: Set<object>, depth: number): void {
  switch (typeof value) {
    case 'function':
      throw new SerializationError(`${what} is not JSON-serialisable: a function at ${path}`);
    case 'symbol':
      throw new SerializationError(`${what} is not JSON-serialisable: a symbol at ${path}`);
    case 'bigint':
      throw new SerializationError(`${what} is not JSON-serialisable: a BigInt at ${path}`);
    case 'number':
      // JSON turns NaN/Infinity into null: refuse instead of silently changing the value
      if (!Number.isFinite(value)) throw new SerializationError(`${what} is not JSON-serialisable: ${value} at ${path}`);
      return;
    case 'object': {
      if (value === null) return;
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return;
      if (value instanceof Map || value instanceof Set) {
        throw new SerializationError(`${what} is not JSON-serialisable: a ${value.constructor.name} at ${path}`);
      }
      if (seen.has(value)) throw new SerializationError(`${what} is not JSON-serialisable: a cycle at ${path}`);
      // checked before descending, so a deep value fails here and not with a stack overflow
      if (depth >= LIMITS.max_json_depth) {
        throw new LimitExceededError(`${what} at ${path}`, 'max_json_depth', LIMITS.max_json_depth, depth + 1, 'levels deep');
      }
      seen.add(value);
      if (Array.isArray(value)) {
        value.forEach((item, i) => assertJsonSafe(item, what, `${path}[${i}]`, seen, depth + 1));
      } else {
        for (const [key, item] of Object.entries(value)) {
          if (item !== undefined) assertJsonSafe(item, what, `${path}.${key}`, seen, depth + 1);
        }
      }
      seen.delete(value);
      return;
    }
    default:
      return;
  }
}
