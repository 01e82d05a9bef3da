/*
 * An isolated handler module for test/isolated-handlers.test.ts: each case checks one thing that
 * must cross the boundary between the worker thread and the main thread. Plain JavaScript with
 * only Node's modules, so a worker thread loads it without the tests' TypeScript loader.
 */
import { appendFileSync } from 'node:fs';
import { isMainThread, threadId } from 'node:worker_threads';

export default async function handler(task, next) {
  const p = task.payload;
  switch (p.case) {
    case 'echo':
      return { payload: p, id: task.id, name: task.name, attempt: task.attempt, stage: task.stage, isMainThread, threadId };
    case 'notes': {
      const progressId = await task.progress('halfway', { stage_name: 'resize', progress_percent: 50 });
      const seen = { stage: task.current_stage_name, text: task.progress_text, percent: task.progress_percent };
      const checkpointId = await task.audit('saved', { message: 'saved the thumbnail', metadata: { bytes: 10 } });
      const percentId = await task.setProgress(75);
      let refused;
      try {
        await task.progress({ progress_percent: 200 });
      } catch (error) {
        refused = { name: error.name, code: error.code, message: error.message };
      }
      return { progressId, checkpointId, percentId, seen, refused };
    }
    case 'check-timeout': {
      let first = 'did not throw';
      try {
        task.checkTimeout();
      } catch (error) {
        first = error.code;
      }
      const started = performance.now();
      for (;;) {
        try {
          task.checkTimeout();
        } catch (error) {
          appendFileSync(p.log, `${JSON.stringify({ first, name: error.name, code: error.code, after_ms: performance.now() - started })}\n`);
          throw error;
        }
      }
    }
    case 'signal': {
      appendFileSync(p.log, 'waiting\n');
      await new Promise((resolve) => task.signal.addEventListener('abort', resolve, { once: true }));
      appendFileSync(p.log, `${JSON.stringify({ aborted: task.signal.aborted, reason: task.signal.reason?.message })}\n`);
      return null;
    }
    case 'throw':
      throw Object.assign(new Error('thumbnail too large'), { code: 'E_TOO_LARGE' });
    case 'permanent': {
      // what `throw new PermanentError(...)` from @taskmill/core looks like: the code is what crosses the boundary
      const error = new Error('address does not exist');
      error.name = 'PermanentError';
      error.code = 'TASKMILL_PERMANENT';
      throw error;
    }
    case 'exit':
      process.exit(3);
      break;
    case 'uncaught':
      setTimeout(() => {
        throw new Error('thrown outside the handler');
      }, 10);
      return new Promise(() => undefined);
    case 'map':
      return { when: new Date(0), sizes: new Map([['a', 1]]) };
    case 'function':
      return { f: () => 1 };
    case 'to-json':
      return { custom: { toJSON: () => 'custom json' }, when: new Date(0), nested: [{ toJSON: (key) => `item ${key}` }] };
    case 'spin-forever':
      for (;;);
    case 'workflow':
      if (task.stage === 0) return next([{ name: 'child', payload: { n: 1 } }, { name: 'child', payload: { n: 2 } }]);
      return { children: task.result };
    case 'suspend':
      return task.suspend({ reason: 'needs approval', metadata: { by: 'isolated' } });
    default:
      throw new Error(`unknown case ${p.case}`);
  }
}
