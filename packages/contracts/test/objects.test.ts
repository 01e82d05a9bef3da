import { describe, expect, it } from 'vitest';
import { ConfigurationError, ValidationError, knownKeysObject, unknownOption } from '../src/index.js';

describe('knownKeysObject (docs/behaviour.md#errors)', () => {
  const messages = { notObject: 'async options must be an object', unknownKey: unknownOption('async') };

  it('returns an object of known keys; names the first unknown key and the allowed ones, in the given error class', () => {
    const value = { delay: 1 };
    expect(knownKeysObject(value, ['delay', 'tag'], messages, ValidationError)).toBe(value);
    expect(() => knownKeysObject({ retries: 3 }, ['delay', 'tag'], messages, ValidationError)).toThrow(
      new ValidationError('Unknown async option "retries"; expected one of: delay, tag'),
    );
    expect(() => knownKeysObject({ x: 1 }, ['a'], { notObject: '', unknownKey: (key) => `Unknown TaskManager option "${key}"` }, ConfigurationError)).toThrow(ConfigurationError);
  });

  it('none means {} only when optional; an array is never an object', () => {
    expect(knownKeysObject(undefined, [], messages, ValidationError, { optional: true })).toEqual({});
    expect(knownKeysObject(null, [], messages, ValidationError, { optional: true, accept: 'non-array' })).toEqual({});
    expect(() => knownKeysObject(undefined, [], messages, ValidationError)).toThrow('async options must be an object');
    expect(() => knownKeysObject([], [], messages, ValidationError, { accept: 'non-array' })).toThrow('async options must be an object');
    expect(() => knownKeysObject('x', [], messages, ValidationError, { optional: true })).toThrow(ValidationError);
  });

  it('options must be plain objects; filters accept any non-array object, as they always did', () => {
    for (const instance of [new Date(0), new Map()]) {
      expect(() => knownKeysObject(instance, [], messages, ValidationError)).toThrow('async options must be an object');
      expect(knownKeysObject(instance, [], messages, ValidationError, { accept: 'non-array' })).toBe(instance);
    }
    expect(knownKeysObject(Object.create(null), [], messages, ValidationError)).toEqual({});
  });
});
