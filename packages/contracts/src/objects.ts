/** A plain object (not null, not an array, not a class instance): what an options argument must be. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** The error a check throws: one class per layer (ValidationError for arguments, ConfigurationError for constructor options…). */
export type TaskmillErrorClass = new (message: string) => Error;

/** How {@link knownKeysObject} words its two errors. */
export interface KnownKeysMessages {
  /** The value is no object (or, with `accept: 'plain'`, no plain one): `async options must be an object`. */
  notObject: string;
  /** A key is not allowed: `Unknown async option "retries"; expected one of: …`. */
  unknownKey(key: string, allowed: readonly string[]): string;
}

/** Options of {@link knownKeysObject}. */
export interface KnownKeysOptions {
  /** undefined and null mean "none" and give `{}`, instead of the not-an-object error. (Default: false) */
  optional?: boolean;
  /**
   * What counts as an object. `plain` (options of the public API): a plain object, so a Date, a
   * Map or a class instance is refused. `non-array` (query filters and audit view queries): any
   * object but an array, as these two always accepted; an instance has no own keys but the
   * fields it sets, so a Date filters nothing there. (Default: 'plain')
   */
  accept?: 'plain' | 'non-array';
}

/**
 * An object with only known keys: the one check behind every options argument and filter, so that
 * a typo such as `{retries: 3}` or `{stauts: 'failed'}` is an error instead of an option silently
 * not applied (docs/behaviour.md#errors). Each layer passes its own error class and words, which
 * tests and callers rely on.
 */
export function knownKeysObject(
  value: unknown,
  allowed: readonly string[],
  messages: KnownKeysMessages,
  Err: TaskmillErrorClass,
  options: KnownKeysOptions = {},
): Record<string, unknown> {
  if (options.optional && (value === undefined || value === null)) return {};
  const isObject = options.accept === 'non-array' ? typeof value === 'object' && value !== null && !Array.isArray(value) : isPlainObject(value);
  if (!isObject) throw new Err(messages.notObject);
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) throw new Err(messages.unknownKey(key, allowed));
  }
  return obj;
}

/** `Unknown <what> option "<key>"; expected one of: a, b, c`: the wording most checks share. */
export function unknownOption(what: string): KnownKeysMessages['unknownKey'] {
  return (key, allowed) => `Unknown ${what} option "${key}"; expected one of: ${allowed.join(', ')}`;
}
