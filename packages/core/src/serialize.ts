import { SerializationError } from '@taskmill/contracts';

/**
 * JSON text of a payload or result, or null for `undefined`/`null`. Rejects what JSON.stringify
 * would silently lose or choke on: functions, symbols, BigInts, cycles, Maps and Sets.
 */
export function toJsonText(value: unknown, what: string): string | null {
  if (value === undefined || value === null) return null;
  assertJsonSafe(value, what, '$', new Set());
  try {
    return JSON.stringify(value) ?? null;
  } catch (cause) {
    throw new SerializationError(`${what} is not JSON-serialisable: ${(cause as Error).message}`, { cause });
  }
}

function assertJsonSafe(value: unknown, what: string, path: string, seen: Set<object>): void {
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
      seen.add(value);
      if (Array.isArray(value)) {
        value.forEach((item, i) => assertJsonSafe(item, what, `${path}[${i}]`, seen));
      } else {
        for (const [key, item] of Object.entries(value)) {
          if (item !== undefined) assertJsonSafe(item, what, `${path}.${key}`, seen);
        }
      }
      seen.delete(value);
      return;
    }
    default:
      return;
  }
}
