/*
 * Where a profiled worker process's time went, per task: the heaviest functions and files of a V8
 * CPU profile (self time) in µs per task handled. Profiles come from a bench run with
 * `BENCH_CPU_PROF_DIR=<dir>` (one per worker process, named `<system>-<pid>-<tasks>.cpuprofile`,
 * covering `go` to `stop`) or from `drain-profile` with `PROFILE_OUT`:
 *
 *   pnpm --filter @taskmill/bench exec tsx src/profile-summary.ts <file.cpuprofile> [tasks] [top]
 *
 * The task count defaults to the number at the end of the file name.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

const [file, tasksArg, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: profile-summary <file.cpuprofile> [tasks] [top (25)]');
  process.exit(2);
}
const tasks = Number(tasksArg ?? /-(\d+)\.cpuprofile$/.exec(file)?.[1] ?? NaN);
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const self = new Map<number, number>();
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const add = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us);
const functions = new Map<string, number>();
const files = new Map<string, number>();
let total = 0;
let idle = 0;
for (const [id, us] of self) {
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
  if (functionName === '(idle)') {
    idle += us;
    continue;
  }
  total += us;
  const short = url.replace(/.*node_modules\/\.pnpm\/([^/]+)\/.*/, '$1').replace(/.*\/packages\//, '');
  add(functions, `${functionName || '(anonymous)'} ${short}${url ? `:${lineNumber + 1}` : ''}`, us);
  add(files, short || '(native / V8)', us);
}
const perTask = (us: number) => (us / tasks).toFixed(2).padStart(7);
console.log(`${file}: ${tasks} tasks; busy ${Math.round(total / 1000)} ms = ${perTask(total)} µs/task, idle ${Math.round(idle / 1000)} ms`);
const print = (title: string, map: Map<string, number>, n: number) => {
  console.log(`\n${title} (self time, µs per task, % of busy)`);
  for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${perTask(us)}  ${((us / total) * 100).toFixed(1).padStart(5)} %  ${key}`);
};
print('functions', functions, top);

// inclusive time of named functions (BENCH_PROFILE_INCLUSIVE=claimBatch,finishAttempts,…), a
// function's own recursion counted once
const wanted = (process.env.BENCH_PROFILE_INCLUSIVE ?? '').split(',').filter(Boolean);
if (wanted.length > 0) {
  const inclusive = new Map<string, number>();
  const walk = (id: number, open: Set<string>): number => {
    const node = byId.get(id)!;
    let us = node.callFrame.functionName === '(idle)' ? 0 : (self.get(id) ?? 0);
    const name = node.callFrame.functionName;
    const mine = wanted.includes(name) && !open.has(name);
    if (mine) open.add(name);
    for (const child of node.children ?? []) us += walk(child, open);
    if (mine) {
      open.delete(name);
      add(inclusive, name, us);
    }
    return us;
  };
  walk(profile.nodes[0].id, new Set());
  console.log('\ninclusive (µs per task, % of busy)');
  for (const name of wanted) console.log(`${perTask(inclusive.get(name) ?? 0)}  ${(((inclusive.get(name) ?? 0) / total) * 100).toFixed(1).padStart(5)} %  ${name}`);
}
print('files', files, 15);
