import { describe, expect, it } from 'vitest';
import { ValidationError } from '@taskmill/contracts';
import { MAX_EXPIRE_TIME_SECONDS, checkExpireTime, mergeRetentionPolicy, normalizeRetentionPolicy } from '../src/index.js';

const invalid = (fn: () => unknown, message: string) => {
  expect(fn).toThrow(ValidationError);
  expect(fn).toThrow(message);
};

describe('normalizeRetentionPolicy', () => {
  it('defaults statuses to completed and permanently_failed (paused is opt-in)', () => {
    expect(normalizeRetentionPolicy({ expire_time: 60 })).toEqual([{ expire_time: 60, statuses: ['completed', 'permanently_failed'] }]);
  });

  it('takes a bare number as the expire_time with default statuses', () => {
    expect(normalizeRetentionPolicy(3600)).toEqual([{ expire_time: 3600, statuses: ['completed', 'permanently_failed'] }]);
  });

  it('keeps given statuses, deduplicated, and now', () => {
    expect(normalizeRetentionPolicy({ expire_time: 1.5, statuses: ['paused', 'paused', 'completed'], now: 1000 })).toEqual([
      { expire_time: 1.5, statuses: ['paused', 'completed'], now: 1000 },
    ]);
  });

  it('is disabled by a missing, null or false expire_time, false, null, undefined and []', () => {
    for (const policy of [{}, { expire_time: null }, { expire_time: false }, false, null, undefined, [], [{ statuses: ['paused'] }]]) {
      expect(normalizeRetentionPolicy(policy)).toEqual([]);
    }
  });

  it('fills in the default expire_time only where a rule has none', () => {
    expect(normalizeRetentionPolicy([{ statuses: ['completed'] }, { expire_time: 99, statuses: ['paused'] }], { expire_time: 10 })).toEqual([
      { expire_time: 10, statuses: ['completed'] },
      { expire_time: 99, statuses: ['paused'] },
    ]);
    expect(normalizeRetentionPolicy({ expire_time: null }, { expire_time: 10 })).toEqual([]);
  });

  it('accepts one rule per group of statuses, so failures can be kept longer than successes', () => {
    expect(
      normalizeRetentionPolicy([
        { expire_time: 60, statuses: ['completed'] },
        { expire_time: 600, statuses: ['permanently_failed', 'paused'] },
      ]),
    ).toEqual([
      { expire_time: 60, statuses: ['completed'] },
      { expire_time: 600, statuses: ['permanently_failed', 'paused'] },
    ]);
  });

  it('rejects an expire_time that is not a positive number, with the message of docs/behaviour.md#retention', () => {
    for (const expire_time of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '60', true]) {
      invalid(() => normalizeRetentionPolicy({ expire_time }), 'retention expire_time must be a positive number');
    }
    invalid(() => normalizeRetentionPolicy(0), 'retention expire_time must be a positive number');
    invalid(() => normalizeRetentionPolicy({ expire_time: MAX_EXPIRE_TIME_SECONDS + 1 }), `retention expire_time must be at most ${MAX_EXPIRE_TIME_SECONDS} seconds`);
  });

  it('rejects statuses that are not a non-empty array', () => {
    for (const statuses of [[], 'completed', null, {}]) {
      invalid(() => normalizeRetentionPolicy({ expire_time: 60, statuses }), 'retention statuses must be a non-empty array');
    }
  });

  it('rejects statuses retention never deletes', () => {
    for (const status of ['pending', 'running', 'suspended', 'failed', 'timeout', 'done']) {
      invalid(() => normalizeRetentionPolicy({ expire_time: 60, statuses: ['completed', status] }), `Unsupported retention status: ${status}`);
    }
  });

  it('validates a disabled rule too, so a typo surfaces before it is switched on', () => {
    invalid(() => normalizeRetentionPolicy({ expire_time: null, statuses: ['running'] }), 'Unsupported retention status: running');
  });

  it('rejects unknown keys, bad now values, other shapes and a status in two rules', () => {
    invalid(() => normalizeRetentionPolicy({ expire: 60 }), 'Unknown retention option "expire"');
    invalid(() => normalizeRetentionPolicy({ expire_time: 60, now: -1 }), 'retention now must be a time in ms since the epoch');
    invalid(() => normalizeRetentionPolicy({ expire_time: 60, now: '1' }), 'retention now must be a time in ms since the epoch');
    invalid(() => normalizeRetentionPolicy('60'), 'retention policy must be a number of seconds');
    invalid(() => normalizeRetentionPolicy([[60]]), 'retention policy must be a number of seconds');
    invalid(
      () => normalizeRetentionPolicy([{ expire_time: 60, statuses: ['completed'] }, { expire_time: 600 }]),
      'Retention status completed is in more than one rule',
    );
  });
});

describe('checkExpireTime', () => {
  it('names the value it checks', () => {
    expect(checkExpireTime(null, 'expire_time')).toBeNull();
    expect(checkExpireTime(5, 'expire_time')).toBe(5);
    invalid(() => checkExpireTime(0, 'expire_time'), 'expire_time must be a positive number');
  });
});

describe('mergeRetentionPolicy', () => {
  const configured = normalizeRetentionPolicy([
    { expire_time: 60, statuses: ['completed'] },
    { expire_time: 600, statuses: ['permanently_failed'] },
  ]);

  it('uses the configured policy when none is given', () => {
    expect(mergeRetentionPolicy(configured, undefined)).toEqual(configured);
    expect(mergeRetentionPolicy(configured, null)).toEqual(configured);
  });

  it('merges an object over every configured rule', () => {
    expect(mergeRetentionPolicy(configured, { now: 5000 })).toEqual([
      { expire_time: 60, statuses: ['completed'], now: 5000 },
      { expire_time: 600, statuses: ['permanently_failed'], now: 5000 },
    ]);
    expect(mergeRetentionPolicy([{ expire_time: 60, statuses: ['completed'] }], { statuses: ['paused'] })).toEqual([
      { expire_time: 60, statuses: ['paused'] },
    ]);
  });

  it('takes a number as the expire_time with default statuses, and an array as the whole policy', () => {
    expect(mergeRetentionPolicy(configured, 5)).toEqual([{ expire_time: 5, statuses: ['completed', 'permanently_failed'] }]);
    expect(mergeRetentionPolicy(configured, [{ expire_time: 7, statuses: ['paused'] }])).toEqual([{ expire_time: 7, statuses: ['paused'] }]);
  });

  it('merges over a default rule when retention is disabled', () => {
    expect(mergeRetentionPolicy([], { statuses: ['paused'] })).toEqual([]);
    expect(mergeRetentionPolicy([], { expire_time: 9 })).toEqual([{ expire_time: 9, statuses: ['completed', 'permanently_failed'] }]);
  });

  it('validates what it merges', () => {
    invalid(() => mergeRetentionPolicy(configured, { statuses: ['running'] }), 'Unsupported retention status: running');
    invalid(() => mergeRetentionPolicy(configured, { expire_time: 0 }), 'retention expire_time must be a positive number');
    invalid(() => mergeRetentionPolicy(configured, { typo: 1 }), 'Unknown retention option "typo"');
    invalid(() => mergeRetentionPolicy(configured, 'soon'), 'retention policy must be a number of seconds');
  });
});
