import { fmt, median } from './stats.js';
import { markdownTable } from './table.js';
import type { WorkloadReport } from './workloads/context.js';

/*
 * The issues' targets, each checked against the medians of this run (never a stored figure): the
 * performance rounds' (issues 11 and 23; where 23 set a new target for a figure, it replaced 11's)
 * and flow control's.
 * "RSS flat after warm-up" is read as: RSS at the end at most 10% above RSS after warm-up.
 */

type Check = { target: string; measured: string; met: boolean | null };

export function targetsTable(reports: WorkloadReport[]): string {
  const byId = new Map(reports.map((r) => [r.id, r]));
  const m = (id: string, system: string, metric: string): number => {
    const runs = byId.get(id)?.metrics[system]?.[metric] ?? [];
    return runs.length ? median(runs) : NaN;
  };
  const checks: Check[] = [];
  const atLeast = (target: string, a: number, b: number, factor: number) => {
    const r = a / b;
    checks.push({ target, measured: Number.isFinite(r) ? `${fmt(a, 0)} ÷ ${fmt(b, 0)} = ${r.toFixed(2)}×` : 'not measured', met: Number.isFinite(r) ? r >= factor : null });
  };
  const atMost = (target: string, value: number, limit: number, unit: string) =>
    checks.push({ target, measured: Number.isFinite(value) ? `${fmt(value, 2)} ${unit}` : 'not measured', met: Number.isFinite(value) ? value <= limit : null });

  // issue 23 (performance, second round): the drains at defaults and with prefetch against the
  // peers, latency, and the write cost per task
  atLeast('W1 PostgreSQL at defaults ≥ 1.5× graphile-worker defaults', m('W1', 'taskmill-postgres', 'rate'), m('W1', 'graphile-worker', 'rate'), 1.5);
  atLeast('W1 PostgreSQL with prefetch ≥ 1× graphile-worker with its local queue', m('W1', 'taskmill-postgres-prefetch', 'rate'), m('W1', 'graphile-worker-batched', 'rate'), 1);
  atLeast('W1 SQLite at defaults ≥ 1× BullMQ', m('W1', 'taskmill-sqlite', 'rate'), m('W1', 'bullmq', 'rate'), 1);
  atLeast('W1 SQLite with prefetch ≥ 1× BullMQ', m('W1', 'taskmill-sqlite-prefetch', 'rate'), m('W1', 'bullmq', 'rate'), 1);
  atLeast('W1 MariaDB at defaults ≥ 1× graphile-worker defaults', m('W1', 'taskmill-mysql', 'rate'), m('W1', 'graphile-worker', 'rate'), 1);
  for (const [row, label] of [['', ''], ['-prefetch', ' with prefetch']] as const) {
    const tm = (store: string) => `taskmill-${store}${row}`;
    atLeast(`W3 (two processes) ≥ 1.5× W1 on PostgreSQL${label}`, m('W3', tm('postgres'), 'rate'), m('W1', tm('postgres'), 'rate'), 1.5);
    atLeast(`W3 (two processes) ≥ 1.5× W1 on MariaDB${label}`, m('W3', tm('mysql'), 'rate'), m('W1', tm('mysql'), 'rate'), 1.5);
  }
  const pg = m('W2', 'taskmill-postgres', 'p50');
  const gw = m('W2', 'graphile-worker', 'p50');
  checks.push({
    target: "W2 PostgreSQL p50 ≤ graphile-worker's",
    measured: Number.isFinite(pg) && Number.isFinite(gw) ? `${fmt(pg)} ms vs ${fmt(gw)} ms` : 'not measured',
    met: Number.isFinite(pg) && Number.isFinite(gw) ? pg <= gw : null,
  });
  const myP50 = m('W2', 'taskmill-mysql', 'p50');
  const myIdle = m('W2c', 'taskmill-mysql', 'perSecond');
  checks.push({
    target: 'W2 MariaDB p50 ≤ 10 ms at an idle cost ≤ 10 statements/s',
    measured: Number.isFinite(myP50) && Number.isFinite(myIdle) ? `${fmt(myP50)} ms at ${fmt(myIdle, 1)} statements/s` : 'not measured',
    met: Number.isFinite(myP50) && Number.isFinite(myIdle) ? myP50 <= 10 && myIdle <= 10 : null,
  });
  // with BENCH_PG_WALDIR, the bench database's own records (others' writes to the server left out)
  const own = Number.isFinite(m('W7', 'taskmill-postgres', 'ownWal'));
  const wal = m('W7', 'taskmill-postgres', own ? 'ownWal' : 'wal');
  const walPeer = m('W7', 'graphile-worker', own ? 'ownWal' : 'wal');
  checks.push({
    target: `W7 WAL bytes per task ≤ 2× graphile-worker's${own ? ' (own records, pg_waldump)' : ''}`,
    measured: Number.isFinite(wal / walPeer) ? `${fmt(wal, 0)} ÷ ${fmt(walPeer, 0)} = ${(wal / walPeer).toFixed(2)}×` : 'not measured',
    met: Number.isFinite(wal / walPeer) ? wal / walPeer <= 2 : null,
  });
  atMost('W2 SQLite p50 ≤ 10 ms across processes', m('W2', 'taskmill-sqlite', 'p50'), 10, 'ms');
  atMost('W2 SQLite p50 ≤ 1 ms in one process', m('W2b', 'taskmill-sqlite', 'p50'), 1, 'ms');
  for (const store of ['sqlite', 'postgres', 'mysql']) {
    atLeast(`W5 large ÷ small ≥ 0.8, taskmill-${store}`, m('W5', `taskmill-${store}`, 'large'), m('W5', `taskmill-${store}`, 'small'), 0.8);
  }
  for (const store of ['sqlite', 'postgres', 'mysql']) {
    const warm = m('W6', `taskmill-${store}`, 'warm');
    const end = m('W6', `taskmill-${store}`, 'end');
    const growth = (end - warm) / warm;
    checks.push({
      target: `W6 RSS flat after warm-up (end ≤ 1.1 × warm-up), taskmill-${store}`,
      measured: Number.isFinite(growth) ? `${(warm / 2 ** 20).toFixed(1)} → ${(end / 2 ** 20).toFixed(1)} MB (${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(0)}%)` : 'not measured',
      met: Number.isFinite(growth) ? growth <= 0.1 : null,
    });
  }
  for (const store of ['sqlite', 'postgres', 'mysql']) {
    atLeast(`WR retention deletes ≥ 3× the drain rate, taskmill-${store}`, m('WR', `taskmill-${store}`, 'deleted'), m('WR', `taskmill-${store}`, 'drain'), 3);
  }
  // flow control (taskmill only): the rate limit holds and is used, a full window costs no more
  // than idling, and many keys with a per-key limit drain nearly as fast as plain tasks
  for (const store of ['sqlite', 'postgres', 'mysql']) {
    const system = `taskmill-${store}`;
    const limit = m('WRL', system, 'limit');
    const max = m('WRL', system, 'max');
    for (const [metric, fill, label] of [['rate', 'fill', 'one worker process'], ['rate3', 'fill3', 'three worker processes']] as const) {
      const rate = m('WRL', system, metric);
      const r = rate / limit;
      const slowest = Math.max(...(byId.get('WRL')?.metrics[system]?.[fill] ?? []));
      checks.push({
        target: `WRL start rate within 5% below the limit, never above (${label}), ${system}`,
        measured: Number.isFinite(r) ? `${fmt(rate, 1)}/s ÷ ${fmt(limit, 0)}/s = ${r.toFixed(3)}× (slowest ${fmt(max, 0)} starts: ${fmt(slowest, 0)} ms)` : 'not measured',
        met: Number.isFinite(r) ? r >= 0.95 && r <= 1 : null,
      });
    }
    const runs = byId.get('WRL')?.metrics[system];
    const most = runs && runs.most.length + runs.most3.length ? Math.max(...runs.most, ...runs.most3) : NaN;
    checks.push({
      target: `WRL most starts in any window ≤ max (every run, 1 and 3 processes), ${system}`,
      measured: Number.isFinite(most) ? `${most} (max ${max})` : 'not measured',
      met: Number.isFinite(most) ? most <= max : null,
    });
    const held = m('WRL', system, 'held');
    const idle = m('W2c', system, 'perSecond');
    checks.push({
      target: `WRL statements/s held back (full window, due tasks) ≤ 1.1 × W2 idle cost, ${system}`,
      measured: Number.isFinite(held) && Number.isFinite(idle) ? `${fmt(held, 1)} vs ${fmt(idle, 1)} statements/s (${(held / idle).toFixed(2)}×)` : 'not measured',
      met: Number.isFinite(held) && Number.isFinite(idle) ? held <= 1.1 * idle : null,
    });
  }
  for (const store of ['sqlite', 'postgres', 'mysql']) {
    const system = `taskmill-${store}`;
    atLeast(`WK (many keys, per-key limit 1) ≥ 0.8× W1, ${system}`, m('WK', system, 'rate'), m('W1', system, 'rate'), 0.8);
    const runs = byId.get('WK')?.metrics[system]?.most ?? [];
    checks.push({
      target: `WK at most one running task per key (every run), ${system}`,
      measured: runs.length ? `most at once: ${Math.max(...runs)}` : 'not measured',
      met: runs.length ? Math.max(...runs) <= 1 : null,
    });
  }
  return markdownTable(
    ['target', 'measured (medians of this run)', 'met'],
    checks.map((c) => [c.target, c.measured, c.met === null ? 'not measured' : c.met ? 'yes' : '**no**']),
  );
}
