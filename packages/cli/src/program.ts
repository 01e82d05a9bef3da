import { Argument, Command, CommanderError, Option } from 'commander';
import { BULK_ACTIONS, LIMITS, RETENTION_STATUSES, TASK_ACTION_SPECS, TASK_STATUSES, TASK_TYPES, WORKER_STATUSES, type Store } from '@taskmill/contracts';
import type { Clock } from '@taskmill/core';
import { MAX_BATCH_SIZE } from '@taskmill/retention';
import { isoTime, MAX_REFRESH_SECONDS, nonNegativeInteger, positiveInteger, positiveSeconds, refreshSeconds, taskIdArgument } from './arguments.js';
import { bulk, type BulkCommandOptions } from './commands/bulk.js';
import { commandClock, skewWarning } from './clock.js';
import { control, controlName, signal } from './commands/control.js';
import { inspect } from './commands/inspect.js';
import { migrate } from './commands/migrate.js';
import { DEFAULT_EXPIRE_TIME, retentionRun, type RetentionOptions } from './commands/retention.js';
import { status } from './commands/status.js';
import { DEFAULT_LIMIT, tasks, type TasksOptions } from './commands/tasks.js';
import { workers } from './commands/workers.js';
import { listSchedules, removeSchedule, setSchedule, type ScheduleListOptions, type ScheduleSetOptions } from './commands/schedules.js';
import { serveDashboard } from '@taskmill/dashboard';
import { DB_ENV, openCommandStore, type ConnectionOptions } from './connection.js';

/** The environment variable read when `--actions-token` is not given. */
export const DASHBOARD_TOKEN_ENV = 'TASKMILL_DASHBOARD_TOKEN';
import { EXIT_CODES, errorLine, exitCodeFor, type ExitCode } from './exit-codes.js';
import { processOutput, type Output } from './output.js';

type CommonOptions = ConnectionOptions & { json?: boolean };

const EXIT_HELP = `
Exit codes:
  0  ok
  1  refused: the task's status does not allow the action (or an unexpected error)
  2  usage: unknown command or option, malformed id, option value or --db URL
  3  database unavailable: unreachable server, store package missing, schema not migrated
  4  not found: no task has that id

Connection: --db <url> or ${DB_ENV}: sqlite:<path>, postgres://…[?schema=name], postgresql://…,
psql://…, mysql://…

Clock: times written and compared (due now, ages, leases, retention cutoff) are the database's.
A machine clock more than 1 s off it gets a one-line warning on stderr after a successful command
(none with --json).`;

/**
 * Commander's error text as the one line an error gets: commander puts its suggestion for a
 * misspelt command or option on a line of its own, `(Did you mean status?)`, which a script
 * reading the first line of stderr would lose; it is folded in as `(did you mean 'status'?)`.
 */
function oneLine(text: string): string {
  return text
    .replace(/^error: /, '')
    .trim()
    .replace(/\s*\n\(Did you mean (one of )?(.+)\?\)$/, (_, several: string | undefined, names: string) => {
      const quoted = names.split(', ').map((name) => `'${name}'`).join(', ');
      return ` (did you mean ${several ?? ''}${quoted}?)`;
    })
    .replace(/\s*\n\s*/g, ' ');
}

function common(command: Command): Command {
  return command
    .option('--db <url>', `database connection (default: $${DB_ENV})`)
    .option('--schema <name>', 'PostgreSQL schema (same as ?schema=name in the URL; default: public)')
    .option('--json', 'print stable JSON on stdout instead of tables');
}

/**
 * Build the `taskmill` program. Every action opens the store, reads the database's clock (except
 * migrate, which compares no times), runs, prints, and closes the store; `run` turns what happened
 * into an exit code.
 */
function buildProgram(output: Output, done: (code: ExitCode) => void): Command {
  const program = new Command('taskmill')
    .description('Operate a taskmill database: migrate, look at tasks, workflows and workers, and steer tasks.')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => output.out(text),
      writeErr: (text) => output.err(text),
      outputError: (text, write) => write(`taskmill: ${oneLine(text)}\n`),
    })
    .addHelpText('after', EXIT_HELP)
    .showSuggestionAfterError(true);

  const action =
    <A extends unknown[]>(create: boolean, work: (store: Store, clock: Clock, ...args: A) => Promise<string>) =>
    async (...args: A) => {
      const command = args[args.length - 1] as Command;
      const opts = command.opts<CommonOptions>();
      const store = await openCommandStore(opts, { create });
      try {
        // migrate compares no times, and is what runs first on a new database: it skips the reading
        let clock: Clock = { now: () => Date.now() };
        let warning: string | null = null;
        if (!create) {
          const db = await commandClock(store);
          clock = db;
          if (!opts.json) warning = skewWarning(db);
        }
        output.out(await work(store, clock, ...args));
        // after the result, so a failed command's error stays the only line on stderr
        if (warning) output.err(warning);
      } finally {
        await store.close().catch(() => undefined);
      }
      done(EXIT_CODES.OK);
    };

  common(program.command('migrate'))
    .description('create or migrate the schema (safe to run from several processes at once)')
    .action(action(true, (store, _clock, opts: CommonOptions) => migrate(store, opts)));

  common(program.command('status'))
    .description('task counts by name and status, tasks due now, the oldest pending task, workers by status')
    .action(action(false, (store, clock, opts: CommonOptions) => status(store, opts, clock)));

  common(program.command('tasks'))
    .description('list tasks (paged, oldest first)')
    .addOption(new Option('--status <status>', 'only tasks in this status').choices(TASK_STATUSES))
    .option('--name <name>', 'only tasks with this name')
    .option('--tag <tag>', 'only tasks with this tag')
    .addOption(new Option('--type <type>', 'only tasks of this type').choices(TASK_TYPES))
    .option('--root <id>', 'only this workflow: the root and every task under it', positiveInteger)
    .option('--parent <id>', 'only children of this task', positiveInteger)
    .option('--worker <id>', 'only tasks claimed by this worker')
    .option('--limit <n>', `page size (default: ${DEFAULT_LIMIT})`, positiveInteger)
    .option('--offset <n>', 'skip this many tasks', nonNegativeInteger)
    .option('--cursor <cursor>', "continue after a page (the previous page's next cursor)")
    .addOption(new Option('--order <order>', 'by creation time').choices(['asc', 'desc']))
    .action(action(false, (store, _clock, opts: TasksOptions & CommonOptions) => tasks(store, opts)));

  common(program.command('inspect'))
    .description("a task's details, event timeline and attempts; for a workflow root also its tree and critical path")
    .argument('<id>', 'task id')
    .action(action(false, (store, _clock, id: string, opts: CommonOptions) => inspect(store, taskIdArgument(id), opts)));

  for (const { name, help, reason } of Object.values(TASK_ACTION_SPECS)) {
    const command = common(program.command(name)).description(help).argument('<id>', 'task id');
    if (reason) command.option('--reason <text>', reason.help);
    if (name === 'cancel') command.option('--cascade', 'also cancel every unfinished task below it in its workflow, in one transaction');
    command.action(action(false, (store, clock, id: string, opts: CommonOptions & { reason?: string; cascade?: boolean }) => control(store, name, taskIdArgument(id), opts, clock)));
  }

  common(program.command('signal'))
    .description('send a signal to a task: resumes it when it waits for this name, else kept for its wait')
    .argument('<id>', 'task id')
    .argument('<name>', 'signal name')
    .option('--data <json>', 'the data, as JSON text (default: none)')
    .action(
      action(false, (store, clock, id: string, name: string, opts: CommonOptions & { data?: string }) => signal(store, String(taskIdArgument(id)), name, opts, clock)),
    );

  common(program.command('bulk'))
    .description('retry, cancel, pause, resume or delete every task a filter selects, in batches (each its own transaction); a progress line on a terminal')
    .addArgument(new Argument('<action>', 'what to do to each selected task').choices(BULK_ACTIONS))
    .option('--name <name>', 'only tasks with this name')
    .addOption(new Option('--status <status...>', 'only tasks in these statuses (each must be one the action takes)').choices(TASK_STATUSES))
    .option('--tag <tag>', 'only tasks with this tag')
    .option('--created-after <time>', 'only tasks created at or after this ISO 8601 time (e.g. 2026-12-06T09:00:00Z)', isoTime)
    .option('--created-before <time>', 'only tasks created at or before this ISO 8601 time', isoTime)
    .option('--root <id>', 'only this workflow: the root and every task under it', positiveInteger)
    .option('--all', 'act on every task the action applies to (required when no filter is given)')
    .option('--dry-run', 'print how many tasks the action would take; write nothing')
    .option('--batch-size <n>', `tasks per batch, at most ${LIMITS.max_bulk_batch_size} (default: 500)`, positiveInteger)
    .option('--reason <text>', 'cancel: the error recorded (default: Task cancelled); resume: the resume reason (default: manual)')
    .action(action(false, (store, clock, name: (typeof BULK_ACTIONS)[number], opts: BulkCommandOptions & CommonOptions) => bulk(store, name, opts, output, clock)));

  common(program.command('pause-name'))
    .description('pause a task name for the whole cluster: no worker claims its tasks until resume-name')
    .argument('<name>', 'task name')
    .option('--reason <text>', 'why (kept with the pause and its event)')
    .option('--by <who>', 'who pauses it (kept with the pause and its event)')
    .action(
      action(false, (store, clock, name: string, opts: CommonOptions & { reason?: string; by?: string }) => controlName(store, 'pause', name, opts, clock)),
    );

  common(program.command('resume-name'))
    .description('lift the pause of a task name: workers claim its tasks again')
    .argument('<name>', 'task name')
    .option('--by <who>', 'who resumes it (kept with its event)')
    .action(action(false, (store, clock, name: string, opts: CommonOptions & { by?: string }) => controlName(store, 'resume', name, opts, clock)));

  const schedules = program.command('schedules').description('managed schedules: list them, create or update one by key, remove one');
  common(schedules.command('list', { isDefault: true }))
    .description('list schedules (paged, oldest first)')
    .option('--name <name>', 'only schedules of this task name')
    .option('--limit <n>', `page size (default: ${DEFAULT_LIMIT})`, positiveInteger)
    .option('--cursor <cursor>', "continue after a page (the previous page's next cursor)")
    .action(action(false, (store, _clock, opts: ScheduleListOptions & CommonOptions) => listSchedules(store, opts)));
  common(schedules.command('set'))
    .description('create the schedule <key> of a task name, or update it in place (a changed expression moves its next run; a running attempt is not disturbed)')
    .argument('<key>', 'schedule key (unique per task name)')
    .requiredOption('--name <name>', 'the task name its runs have')
    .option('--cron <expr>', 'a cron expression (5 fields, or 6 with seconds)')
    .option('--every <seconds>', 'seconds between runs (runs fall on multiples of it since the Unix epoch)', positiveInteger)
    .option('--tz <zone>', 'IANA time zone of --cron (default: UTC)')
    .option('--payload <json>', 'the payload of every run (default: {})')
    .option('--priority <n>', 'priority of its runs (default: 0)', Number)
    .option('--tag <tag>', 'tag of its runs')
    .option('--timeout <seconds>', 'per-attempt timeout (default: 60)', Number)
    .option('--max-retries <n>', 'attempts per run, the first included (default: 3)', Number)
    .option('--retry-interval <seconds>', 'seconds between a failure and its retry (default: 0)', Number)
    .action(action(false, (store, clock, key: string, opts: ScheduleSetOptions & CommonOptions) => setSchedule(store, key, opts, clock)));
  common(schedules.command('remove'))
    .description('remove the schedule <key> of a task name: no further runs; a running attempt finishes')
    .argument('<key>', 'schedule key')
    .requiredOption('--name <name>', 'the task name')
    .action(action(false, (store, clock, key: string, opts: CommonOptions & { name: string }) => removeSchedule(store, key, opts, clock)));

  common(program.command('workers'))
    .description('the worker registry: status, heartbeat, lease and running tasks of each worker')
    .addOption(new Option('--status <status>', 'only workers in this status').choices(WORKER_STATUSES))
    .option('--pod <id>', 'only workers of this pod')
    .action(action(false, (store, clock, opts: CommonOptions & { status?: (typeof WORKER_STATUSES)[number]; pod?: string }) => workers(store, opts, clock)));

  const retention = program.command('retention').description('delete expired tasks with their events and attempts');
  common(retention.command('run'))
    .description(`delete finished tasks idle for longer than --expire-time, in batches (each its own transaction); a progress line on a terminal`)
    .option('--expire-time <seconds>', `delete tasks whose last activity is older than this (default: ${DEFAULT_EXPIRE_TIME}, one day)`, positiveSeconds)
    .addOption(new Option('--status <status...>', 'statuses to delete (default: completed permanently_failed)').choices(RETENTION_STATUSES))
    .option('--batch-size <n>', `tasks per batch, at most ${MAX_BATCH_SIZE} (default: 100)`, positiveInteger)
    .action(action(false, (store, clock, opts: RetentionOptions & CommonOptions) => retentionRun(store, opts, output, clock)));

  common(program.command('dashboard'))
    .description('serve the web dashboard (read-only unless an actions token is given) until interrupted')
    .option('--host <host>', 'interface to listen on (default: 127.0.0.1, this machine only)')
    .option('--port <port>', 'port (default: 8080; 0 picks a free one)', nonNegativeInteger)
    .option('--actions-token <token>', `enable pause/resume/cancel/retry, each confirmed with this token (default: $${DASHBOARD_TOKEN_ENV})`)
    .option('--allowed-host <name...>', 'the host names it answers to, e.g. when listening on 0.0.0.0 (default: 127.0.0.1, localhost, ::1 and the --host address)')
    .option('--refresh <seconds>', `how often open pages update themselves, 0 for never (default: 5; at most ${MAX_REFRESH_SECONDS})`, refreshSeconds)
    .action(async (opts: CommonOptions & { host?: string; port?: number; actionsToken?: string; allowedHost?: string[]; refresh?: number }) => {
      const store = await openCommandStore(opts, { create: false });
      try {
        const actionsToken = opts.actionsToken ?? (process.env[DASHBOARD_TOKEN_ENV] || undefined);
        // the dashboard keeps its own offset for what it writes; this reading only tells the operator
        const warning = opts.json ? null : skewWarning(await commandClock(store));
        const running = await serveDashboard({
          store,
          host: opts.host,
          port: opts.port ?? 8080,
          actionsToken,
          allowedHosts: opts.allowedHost,
          refreshSeconds: opts.refresh,
        });
        output.out(`taskmill dashboard on ${running.url} (${actionsToken ? 'actions enabled' : 'read-only'}); Ctrl-C stops it\n`);
        if (warning) output.err(warning);
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        await running.close();
      } finally {
        await store.close().catch(() => undefined);
      }
      done(EXIT_CODES.OK);
    });

  return program;
}

/**
 * Run the command line `argv` (without the node and script paths) and resolve to its exit code.
 * Results go to `output.out`; an error is one line on `output.err`: `taskmill: <message>`.
 */
export async function run(argv: readonly string[], output: Output = processOutput): Promise<ExitCode> {
  let code: ExitCode = EXIT_CODES.OK;
  const program = buildProgram(output, (c) => (code = c));
  try {
    if (argv.length === 0) {
      program.outputHelp({ error: true });
      return EXIT_CODES.USAGE;
    }
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // help and version were printed by commander; its own errors were printed as one line
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? EXIT_CODES.OK : EXIT_CODES.USAGE;
    }
    output.err(`taskmill: ${errorLine(error)}\n`);
    return exitCodeFor(error);
  }
}
