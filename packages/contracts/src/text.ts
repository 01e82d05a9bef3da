import { ValidationError } from './errors.js';

/*
 * Strings a caller passes that a store keeps as text (names, tags, keys, reasons, progress text)
 * or compares against text (query filters). PostgreSQL cannot hold a NUL character in text at
 * all, and every store's driver turns a lone UTF-16 surrogate into U+FFFD when it encodes UTF-8:
 * such a string would fail on one store and be stored changed on the others. So all of them
 * refuse it, the same way. JSON values (payloads, results, metadata) are not affected: JSON.stringify
 * escapes both as `\u0000` / `\ud800`, which every store keeps unchanged.
 */

// a NUL, a high surrogate not followed by a low one, or a low surrogate not preceded by a high one
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why `value` cannot be stored as text on every store, or null when it can. */
export function unstorableTextReason(value: string): string | null {
  const match = UNSTORABLE.exec(value);
  if (!match) return null;
  return match[0] === '\u0000' ? 'a NUL character (\\u0000)' : `a lone surrogate (\\u${match[0].charCodeAt(0).toString(16)})`;
}

/** Throw `Err` (ValidationError unless given) when `value` holds a NUL character or a lone surrogate. */
export function assertStorableText(
  value: string,
  what: string,
  Err: new (message: string) => Error = ValidationError,
): string {
  const reason = unstorableTextReason(value);
  if (reason) throw new Err(`${what} must not contain ${reason}`);
  return value;
}

/**
 * UTF-8 size of a string in bytes (what the byte limits count), without encoding it. A lone
 * surrogate counts as the 3 bytes of the U+FFFD it would become.
 */
export function utf8Bytes(value: string): number {
  let bytes = 0;
  for (let i = 0; i < value.length; i += 1) {
    const c = value.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < value.length && (value.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i += 1;
    } else bytes += 3;
  }
  return bytes;
}
