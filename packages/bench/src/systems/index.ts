import type { BenchConfig } from '../config.js';
import { bullmqSystem } from './bullmq.js';
import { graphileSystem } from './graphile-worker.js';
import { pgBossSystem } from './pg-boss.js';
import { taskmillSystem } from './taskmill.js';
import type { JobSystem } from './types.js';

/**
 * taskmill's tuned rows: `prefetch_tasks` 50, the same local queue graphile-worker-batched is given
 * (`localQueue.size` 50), so a claim takes up to 60 tasks at concurrency 10.
 */
const PREFETCH = 50;

/** Every system, in table order: taskmill's three stores at defaults and with prefetch, then the peers. */
export function allSystems(config: Pick<BenchConfig, 'pgUrl' | 'mysqlUrl' | 'redisUrl'>): JobSystem[] {
  return [
    taskmillSystem('sqlite', config),
    taskmillSystem('postgres', config),
    taskmillSystem('mysql', config),
    taskmillSystem('sqlite', config, PREFETCH),
    taskmillSystem('postgres', config, PREFETCH),
    taskmillSystem('mysql', config, PREFETCH),
    graphileSystem('defaults', config.pgUrl),
    graphileSystem('batched', config.pgUrl),
    pgBossSystem(config.pgUrl),
    bullmqSystem(config.redisUrl),
  ];
}

export function systemNamed(name: string, config: Pick<BenchConfig, 'pgUrl' | 'mysqlUrl' | 'redisUrl'>): JobSystem {
  const system = allSystems(config).find((s) => s.name === name);
  if (!system) throw new Error(`Unknown system ${name}`);
  return system;
}
