import { scheduleOf, type ScheduleQuery, type Store } from '@taskmill/contracts';
import { builtInDefaults, scheduleTask, type Clock } from '@taskmill/core';
import { UsageError } from '../exit-codes.js';
import { cell, firstLine, table, time } from '../format.js';
import { json } from '../output.js';
import { DEFAULT_LIMIT } from './tasks.js';

/*
 * `taskmill schedules [list]`, `schedules set <key>`, `schedules remove <key>`: managed schedules
 * (docs/behaviour.md#schedules) through the same store operations as `TaskManager.schedule`,
 * `unschedule` and `getSchedules`, on the database's clock.
 */

/** Options of `taskmill schedules list`. */
export interface ScheduleListOptions {
  json?: boolean;
  name?: string;
  limit?: number;
  cursor?: string;
}

/** `taskmill schedules`: one page of schedules, oldest first. */
export async function listSchedules(store: Store, options: ScheduleListOptions): Promise<string> {
  const query: ScheduleQuery = { name: options.name, limit: options.limit ?? DEFAULT_LIMIT, cursor: options.cursor };
  for (const key of Object.keys(query) as (keyof ScheduleQuery)[]) if (query[key] === undefined) delete query[key];
  const page = await store.listSchedules(query);
  const items = page.items.map(scheduleOf);
  if (options.json) return json({ ...page, items });
  if (items.length === 0) return `No schedules (${page.total} match).\n`;
  const rows = items.map((s) => [
    s.key,
    s.name,
    s.every !== null ? `every ${s.every}s` : s.cron,
    s.tz,
    s.status,
    time(s.next_run_time),
    time(s.last_run_at),
    s.task_id,
    firstLine(s.error),
  ]);
  const body = table(['KEY', 'NAME', 'SCHEDULE', 'TZ', 'STATUS', 'NEXT RUN', 'LAST RUN', 'TASK', 'ERROR'], rows);
  const more = page.next_cursor ? `; next page: --cursor ${page.next_cursor}` : '';
  return `${body}\n${items.length} of ${page.total}${more}\n`;
}

/** Options of `taskmill schedules set <key>`. */
export interface ScheduleSetOptions {
  json?: boolean;
  name: string;
  cron?: string;
  every?: number;
  tz?: string;
  payload?: string;
  priority?: number;
  tag?: string;
  timeout?: number;
  maxRetries?: number;
  retryInterval?: number;
}

/** `--payload`: JSON text, parsed; anything else is a usage error and nothing is written. */
function payloadOf(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--payload must be JSON: ${(error as Error).message}`);
  }
}

/**
 * `taskmill schedules set <key> --name … (--cron … [--tz …] | --every …) [--payload json] [options]`:
 * create or update in place. Validated exactly as `schedule()` validates (the CLI runs no handler,
 * so options not given take the tables' defaults).
 */
export async function setSchedule(store: Store, key: string, options: ScheduleSetOptions, clock: Clock): Promise<string> {
  const spec: Record<string, unknown> = {
    cron: options.cron,
    every: options.every,
    tz: options.tz,
    payload: payloadOf(options.payload),
    priority: options.priority,
    tag: options.tag,
    timeout: options.timeout,
    max_retries: options.maxRetries,
    retry_interval: options.retryInterval,
  };
  for (const k of Object.keys(spec)) if (spec[k] === undefined) delete spec[k];
  const task = scheduleTask(builtInDefaults, options.name, key, spec, clock.now());
  const { task: row, created } = await store.upsertSchedule(task, clock.now());
  const schedule = { ...scheduleOf(row), created };
  if (options.json) return json(schedule);
  const what = schedule.every !== null ? `every ${schedule.every}s` : `${schedule.cron} (${schedule.tz})`;
  return `Schedule ${cell(key)} of ${cell(schedule.name)} ${created ? 'created' : 'updated'}: ${what}, next run ${time(schedule.next_run_time)} (task ${schedule.task_id}).\n`;
}

/** `taskmill schedules remove <key> --name …`: no further runs; a running attempt finishes. */
export async function removeSchedule(store: Store, key: string, options: { json?: boolean; name: string }, clock: Clock): Promise<string> {
  const removed = await store.removeSchedule(options.name, key, clock.now());
  if (options.json) return json({ removed });
  return removed ? `Schedule ${cell(key)} of ${cell(options.name)} removed: no further runs.\n` : `No schedule ${cell(key)} of ${cell(options.name)}.\n`;
}
