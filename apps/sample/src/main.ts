/*
 * taskmill sample: one-off tasks with priorities, a task that fails once and then succeeds, a
 * cron task, a small workflow (a parent that fans out to children and resumes with their
 * results), flow control (a rate-limited sender held by a cluster-wide pause until resumed, and a
 * per-tenant serial task sharing turns fairly between tenants), a task that fails for good at
 * once (a non-retryable error) and lands in a dead-letter handler. Prints what happened — statuses,
 * attempts, events — then shows what a retention policy that keeps failures longer than
 * successes deletes. Last, it leaves a database worth opening with `pnpm sample:dashboard`: a
 * mix of completed, retried, failed, dead-lettered, paused, scheduled and workflow tasks that the
 * retention demonstration does not touch. Then the durable workflow of the README: an order that
 * charges a card, waits for the warehouse's `shipped` signal (sent below, from this main code),
 * sleeps `SAMPLE_REVIEW_AFTER` seconds (default 1: the README's day, shortened) and sends a review
 * request.
 *
 *   pnpm sample                         # embedded SQLite file under ./.tmp
 *   TASKMILL_DB=postgres://… pnpm sample  # any other store
 */
import { mkdirSync, rmSync } from 'node:fs';
import { PermanentError, TaskManager, type ChildResult } from '@taskmill/core';
import { sideEffects, useOrderWorkflow, type OrderTasks } from './order-workflow.js';

type Tasks = {
  greet: { payload: { name: string }; result: string };
  flaky: { payload: { failTimes: number }; result: { attempts: number } };
  heartbeat: { payload: Record<string, never>; result: number };
  doomed: { payload: { to: string } };
  doomed_dead: { payload: { task_id: number; name: string; payload: unknown; error: string; attempts: number; non_retryable: boolean } };
  report: { payload: { pages: number }; result: { total_words: number } };
  count_words: { payload: { page: number }; result: number };
  send_sms: { payload: { to: string } };
  sync_tenant: { payload: { step: number } };
} & OrderTasks;

const quiet = process.argv.includes('--quiet');
const log = (...args: unknown[]) => {
  if (!quiet) console.log(...args);
};

const dbConnection = process.env.TASKMILL_DB ?? 'sqlite:.tmp/sample.db';
if (dbConnection.startsWith('sqlite:.tmp/')) {
  mkdirSync('.tmp', { recursive: true });
  for (const suffix of ['', '-wal', '-shm']) rmSync(`.tmp/sample.db${suffix}`, { force: true });
}

const tm = new TaskManager<Tasks>({
  dbConnection,
  poll_interval: 100,
  max_concurrent_tasks: 4,
  task_heartbeat_interval: 500,
  // successes go after an hour, failures are kept for a week; paused cron tasks are never deleted
  // unless a rule names `paused`. Every worker sweeps every retention_interval ms (default 5 min).
  retention: [
    { expire_time: 3600, statuses: ['completed'] },
    { expire_time: 7 * 86400, statuses: ['permanently_failed'] },
  ],
});

const order: string[] = [];
/** Calls of the story's flaky task (the showcase at the end runs more of them). */
let flakyCalls = 0;
let flakyId = 0;
let heartbeats = 0;
const smsStarts: number[] = [];
const tenantRuns: Array<{ tenant: string; start: number; end: number }> = [];
let doomedCalls = 0;
const deadLetters: Tasks['doomed_dead']['payload'][] = [];

tm.use({
  greet: {
    handler: (task) => {
      order.push(task.payload.name);
      return `hello ${task.payload.name}`;
    },
    max_concurrent_tasks: 1, // one at a time, so the priority order is visible
  },
  // a provider that allows 3 messages a second, across every worker of the database
  send_sms: { handler: () => void smsStarts.push(Date.now()), rate_limit: { max: 3, per: 1 } },
  // one sync at a time per tenant; tenants take turns, so a long backlog does not starve the others
  sync_tenant: {
    handler: async (task) => {
      const start = Date.now();
      await new Promise((r) => setTimeout(r, 50));
      tenantRuns.push({ tenant: task.concurrency_key!, start, end: Date.now() });
    },
    max_concurrent_per_key: 1,
  },
  flaky: {
    handler: (task) => {
      if (task.id === flakyId) flakyCalls++;
      if (task.attempt <= task.payload.failTimes) throw new Error(`transient failure #${task.attempt}`);
      return { attempts: task.attempt };
    },
    max_retries: 3,
    retry_interval: 0.2,
    retry_backoff: 'exponential', // waits 0.2 s, then 0.4 s
  },
  heartbeat: () => ++heartbeats,
  // retrying cannot fix a bad address: PermanentError fails the task at once, whatever
  // max_retries allows, and its dead letter goes to `doomed_dead` in the same transaction
  doomed: {
    handler: (task) => {
      doomedCalls++;
      throw new PermanentError(`no such mailbox: ${task.payload.to}`);
    },
    max_retries: 3,
    dead_letter: 'doomed_dead',
  },
  doomed_dead: (task) => void deadLetters.push(task.payload),
  count_words: async (task) => {
    await task.progress({ stage_name: 'counting', progress_percent: 50 });
    return 100 * task.payload.page;
  },
  report: async (task, next) => {
    if (task.stage === 0) {
      await task.audit('fan_out', { message: `splitting into ${task.payload.pages} pages` });
      return next(Array.from({ length: task.payload.pages }, (_, i) => ({ name: 'count_words' as const, payload: { page: i + 1 } })));
    }
    const results = task.result as ChildResult[];
    return { total_words: results.reduce((sum, r) => sum + ('result' in r ? (r.result as number) : 0), 0) };
  },
});

useOrderWorkflow(tm);

const low = await tm.async('greet', { name: 'low priority' }, { priority: -1 });
const normal = await tm.async('greet', { name: 'normal priority' });
const high = await tm.async('greet', { name: 'high priority' }, { priority: 10 });
const flaky = await tm.async('flaky', { failTimes: 2 });
flakyId = flaky;
// every second (6-field expression); the unique_key makes registering it idempotent (see the end)
const cron = await tm.cron('heartbeat', '* * * * * *', {}, { unique_key: 'heartbeat' });
const report = await tm.async('report', { pages: 3 });
const doomed = await tm.async('doomed', { to: 'nobody@example.invalid' });
// the SMS provider is down: pause the name for the whole cluster; its tasks wait, pending
await tm.pauseName('send_sms', { reason: 'provider outage', by: 'sample' });
const sms = await tm.asyncMany(Array.from({ length: 6 }, (_, i) => ({ name: 'send_sms' as const, payload: { to: `+1555000${i}` } })));
// tenant a enqueues a backlog first, tenant b two tasks after it
const syncs = await tm.asyncMany([
  ...Array.from({ length: 4 }, (_, step) => ({ name: 'sync_tenant' as const, payload: { step }, options: { concurrency_key: 'tenant-a' } })),
  ...Array.from({ length: 2 }, (_, step) => ({ name: 'sync_tenant' as const, payload: { step }, options: { concurrency_key: 'tenant-b' } })),
]);

await tm.start();
const deadline = Date.now() + 30_000;
for (;;) {
  const ids = [low, normal, high, flaky, report];
  const tasks = await Promise.all(ids.map((id) => tm.getTask(id)));
  const failed = await tm.getTask(doomed);
  const synced = (await Promise.all(syncs.map((id) => tm.getTask(id)))).every((t) => t?.status === 'completed');
  const lettered = (await tm.getTasks({ name: 'doomed_dead', status: 'completed' })).length === 1;
  if (tasks.every((t) => t?.status === 'completed') && failed?.status === 'permanently_failed' && lettered && heartbeats >= 2 && synced) break;
  if (Date.now() > deadline) {
    console.error('sample did not finish within 30 s:', tasks.map((t) => `${t?.id}:${t?.status}`).join(' '));
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 100));
}
await tm.pauseTask(cron); // stop the cron task; it can be resumed later with resumeTask

// everything else ran while send_sms was paused; the provider is back
const stillPending = (await Promise.all(sms.map((id) => tm.getTask(id)))).filter((t) => t?.status === 'pending').length;
await tm.resumeName('send_sms', { by: 'sample' });
for (const id of sms) {
  while ((await tm.getTask(id))?.status !== 'completed') {
    if (Date.now() > deadline + 15_000) {
      console.error(`sample: send_sms task ${id} did not complete`);
      process.exit(1);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
const smsSpread = (Math.max(...smsStarts) - Math.min(...smsStarts)) / 1000;
const tenantOverlap = ['tenant-a', 'tenant-b'].map((tenant) => {
  const runs = tenantRuns.filter((r) => r.tenant === tenant).sort((a, b) => a.start - b.start);
  return runs.some((r, i) => i > 0 && r.start < runs[i - 1].end);
});
const tenantOrder = [...tenantRuns].sort((a, b) => a.start - b.start).map((r) => r.tenant.slice(-1));

// a restart registering the cron task again gets the same task, not a second heartbeat
const again = await tm.cron('heartbeat', '* * * * * *', {}, { unique_key: 'heartbeat' });
log(`\nRegistering the heartbeat again (unique_key 'heartbeat') returns #${again}, the same task`);

log('\nRun order of the greetings (one at a time, higher priority first):');
log('  ' + order.join(' → '));

log(`\nFlow control:`);
log(`  send_sms paused by name: ${stillPending} of ${sms.length} still pending while everything else ran; resumed, they started at most 3 a second (${smsSpread.toFixed(1)} s for 6)`);
log(`  sync_tenant, one at a time per tenant, tenants in turn: ${tenantOrder.join(' ')} (tenant a enqueued its 4 first)`);
log(`  pause events: ${(await tm.queryNameEvents()).items.map((e) => `${e.event_type} by ${(e.metadata as { by: string }).by}`).join(', ')}`);

log('\nTasks:');
for (const id of [low, normal, high, flaky, cron, report, doomed]) {
  const t = (await tm.getTask(id))!;
  log(`  #${t.id} ${t.name.padEnd(10)} ${t.type.padEnd(5)} ${t.status.padEnd(9)} attempts=${t.attempt} stage=${t.stage} result=${JSON.stringify(t.result)}`);
}
for (const child of await tm.getChildTasks(report)) {
  log(`    └ child #${child.id} ${child.name} ${child.status} result=${JSON.stringify(child.result)} progress=${child.progress_percent}%`);
}

log(`\nAttempts of the flaky task #${flaky}:`);
for (const a of await tm.getTaskAttempts(flaky)) {
  log(`  attempt ${a.attempt}: ${a.outcome}${a.error ? ` (${a.error.split('\n')[0]})` : ''} in ${(a.ended_at! - a.started_at) / 1000}s`);
}

const waits = (await tm.getTaskEvents(flaky)).filter((e) => e.event_type === 'task_failed').map((e) => e.metadata?.retry_delay);
log(`  retry waits (exponential backoff): ${waits.map((w) => `${w}s`).join(', ')}`);

const doomedTask = (await tm.getTask(doomed))!;
log(`\nThe doomed task #${doomed} threw PermanentError: ${doomedTask.status} after ${doomedCalls} of its 3 allowed attempts (${doomedTask.error?.split('\n')[0]})`);
log(`  its dead letter, handled by doomed_dead: ${JSON.stringify({ ...deadLetters[0], error: deadLetters[0]?.error.split('\n')[0] })}`);

log(`\nEvents of the workflow parent #${report}:`);
for (const e of await tm.getTaskEvents(report)) {
  log(`  ${e.event_type.padEnd(22)} ${String(e.from_status).padEnd(9)} → ${String(e.to_status).padEnd(9)} stage=${e.stage}${e.message ? `  ${e.message}` : ''}`);
}

const summary = await tm.getWorkflowAuditSummary(report);
log(`\nAudit summary of the workflow #${report}:`);
log(`  ${summary.totals.tasks} tasks, ${summary.totals.attempts} attempts, ${summary.totals.events} events, statuses ${JSON.stringify(summary.statuses)}`);
log(`  critical path ${summary.critical_path.nodes.map((n) => `${n.name}#${n.task_id} (${n.duration_seconds}s)`).join(' → ')} = ${summary.critical_path.total_duration_seconds}s`);

// what the configured policy will delete two hours from now (`now` moves its clock forward)
const twoHoursOn = Date.now() + 2 * 3600 * 1000;
const deleted = await tm.runRetention({ now: twoHoursOn });
const left = await tm.getTasks();
log(`\nRetention two hours on (successes kept 1 h, failures 7 days): deleted ${deleted.tasks_deleted} completed tasks with ${deleted.events_deleted} events and ${deleted.attempts_deleted} attempts;`);
log(`  kept: ${left.map((t) => `#${t.id} ${t.name} (${t.status})`).join(', ')}`);

// what the story did, before the showcase below runs the same handlers again
const storyOrder = order.join();
const storyDoomedCalls = doomedCalls;
const storyLetters = deadLetters.length;

// Something to look at with `pnpm sample:dashboard`: the retention run above emptied the story's
// successes, so leave a small day of traffic behind (nothing deletes it: the next automatic sweep
// is retention_interval away, and the sample stops before then).
const showcase = {
  completed: await tm.asyncMany(Array.from({ length: 12 }, (_, i) => ({ name: 'greet' as const, payload: { name: `visitor ${i + 1}` }, options: { tag: 'showcase' } }))),
  retried: await tm.asyncMany(Array.from({ length: 3 }, () => ({ name: 'flaky' as const, payload: { failTimes: 1 }, options: { tag: 'showcase' } }))),
  // fails once, then waits an hour for its retry: `failed`
  waiting: await tm.async('flaky', { failTimes: 5 }, { retry_interval: 3600, tag: 'showcase' }),
  doomed: await tm.asyncMany(Array.from({ length: 2 }, (_, i) => ({ name: 'doomed' as const, payload: { to: `gone${i}@example.invalid` }, options: { tag: 'showcase' } }))),
  workflow: await tm.async('report', { pages: 5 }, { tag: 'showcase' }),
  scheduled: await tm.asyncMany(Array.from({ length: 3 }, (_, i) => ({ name: 'greet' as const, payload: { name: `tomorrow ${i + 1}` }, options: { delay: 86_400, tag: 'showcase' } }))),
  paused: await tm.async('greet', { name: 'on hold' }, { delay: 3600, tag: 'showcase' }),
};
await tm.pauseTask(showcase.paused);
const settled = async () => {
  const done = await Promise.all([...showcase.completed, ...showcase.retried, showcase.workflow].map((id) => tm.getTask(id)));
  const failed = await Promise.all(showcase.doomed.map((id) => tm.getTask(id)));
  const waiting = await tm.getTask(showcase.waiting);
  const letters = await tm.getTasks({ name: 'doomed_dead', status: 'completed' });
  return done.every((t) => t?.status === 'completed') && failed.every((t) => t?.status === 'permanently_failed') && waiting?.status === 'failed' && letters.length === 2;
};
while (!(await settled())) {
  if (Date.now() > deadline + 30_000) {
    console.error('sample: the showcase tasks did not settle');
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 100));
}
const stats = (await tm.getTaskStatsByTag('showcase')).reduce<Record<string, number>>((all, s) => ({ ...all, [s.status]: (all[s.status] ?? 0) + s.count }), {});
log(`\nLeft for the dashboard (\`pnpm sample:dashboard\`), tag showcase: ${JSON.stringify(stats)}`);

// The durable workflow (README "Durable workflows"): charge, wait for the shipment, sleep, ask for a review.
const reviewAfter = Number(process.env.SAMPLE_REVIEW_AFTER ?? 1);
const orderId = await tm.async('order', { order_id: 'A-1001', amount: 4200, review_after: reviewAfter });
const orderDeadline = Date.now() + 30_000 + reviewAfter * 1000;
const orderReaches = async (what: string, check: (t: Awaited<ReturnType<typeof tm.getTask>>) => boolean) => {
  for (;;) {
    const t = await tm.getTask(orderId);
    if (check(t)) return t!;
    if (Date.now() > orderDeadline) {
      console.error(`sample: the order did not reach ${what}: ${t?.status} ${t?.suspend_reason} stage ${t?.stage}`);
      process.exit(1);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
};
// the card is charged (a child task), then the order waits for the warehouse
const awaiting = await orderReaches('its wait for the shipment', (t) => t?.status === 'suspended' && t.suspend_reason === 'signal');
// the warehouse ships: its webhook would call this, from any process on the database
const shipped = await tm.signal(orderId, 'shipped', { carrier: 'DHL', tracking: 'JD014600' });
const orderDone = await orderReaches('completed', (t) => t?.status === 'completed');
const orderEvents = await tm.getTaskEvents(orderId);
const sleptEvent = orderEvents.find((e) => e.event_type === 'task_suspended' && e.metadata?.suspend_reason === 'sleep');
const wokeEvent = orderEvents.find((e) => e.event_type === 'task_resumed' && e.metadata?.resume_reason === 'sleep_elapsed');
const slept = sleptEvent && wokeEvent ? wokeEvent.event_time - sleptEvent.event_time : -1;
// woken at or after its wake time (which counts from the handler's return, a few ms before the suspension was written)
const wokeOnTime = !!wokeEvent && wokeEvent.event_time >= (sleptEvent?.metadata?.wake_at as number);
const orderStory = orderEvents
  .filter((e) => ['task_subtasks_created', 'task_suspended', 'task_signal_received', 'task_resumed', 'task_completed'].includes(e.event_type))
  .map((e) => `${e.event_type}(${e.metadata?.suspend_reason ?? e.metadata?.resume_reason ?? e.metadata?.signal ?? (e.metadata?.child_task_names as string[] | undefined)?.join() ?? ''})`);
log(`\nDurable workflow, order #${orderId} (waited for 'shipped' at stage ${awaiting.stage}, slept ${(slept / 1000).toFixed(2)} s):`);
log(`  ${orderStory.join(' → ')}`);
log(`  result ${JSON.stringify(orderDone.result)}; card charged ${sideEffects.charges.length}×, review requests ${sideEffects.reviewRequests.length}`);

await tm.stop();

// exit non-zero if the sample did not show what it claims
const ok =
  storyOrder === 'high priority,normal priority,low priority' &&
  flakyCalls === 3 &&
  again === cron &&
  waits.join() === '0.2,0.4' &&
  summary.totals.tasks === 4 &&
  summary.critical_path.nodes.length === 2 &&
  stillPending === sms.length &&
  storyDoomedCalls === 1 &&
  storyLetters === 1 &&
  deadLetters[0].task_id === doomed &&
  deadLetters[0].non_retryable &&
  smsSpread >= 0.9 && // 6 starts at 3 a second span at least one window
  tenantOverlap.every((overlapped) => !overlapped) &&
  tenantOrder.slice(0, 4).includes('b') && // tenant b did not wait for tenant a's backlog
  deleted.tasks_deleted === 5 + 3 + 6 + 6 + 1 && // five one-off tasks, the report's three children, the SMS, the syncs and the dead letter
  left.map((t) => t.id).join() === [cron, doomed].join() &&
  stats.completed === 12 + 3 + 1 && // greets, retried, the workflow parent (its children and the dead letters carry no tag)
  stats.permanently_failed === 2 &&
  stats.failed === 1 &&
  stats.pending === 3 &&
  stats.paused === 1 &&
  shipped.resumed &&
  JSON.stringify(orderDone.result) === JSON.stringify({ status: 'review requested', tracking: 'JD014600' }) &&
  orderDone.stage === 4 &&
  wokeOnTime &&
  slept >= reviewAfter * 1000 - 100 &&
  sideEffects.charges.join() === 'A-1001' &&
  sideEffects.reviewRequests.length === 1 &&
  orderStory.join() ===
    [
      'task_subtasks_created(charge_card)',
      'task_suspended(signal)',
      'task_signal_received(shipped)',
      'task_resumed(signal)',
      'task_suspended(sleep)',
      'task_resumed(sleep_elapsed)',
      'task_subtasks_created(review_request)',
      'task_completed()',
    ].join();
if (!ok) {
  console.error('sample: unexpected outcome', {
    storyOrder,
    flakyCalls,
    storyDoomedCalls,
    deadLetters,
    waits,
    stillPending,
    smsSpread,
    tenantOrder,
    tenantOverlap,
    totals: summary.totals,
    path: summary.critical_path,
    deleted,
    left: left.map((t) => t.id),
    stats,
    shipped,
    order: orderDone,
    slept,
    orderStory,
    sideEffects,
  });
  process.exit(1);
}
log('\nsample finished cleanly');
