/*
 * A producer process for the cross-process telemetry test: with an OpenTelemetry SDK of its own
 * (W3C propagation), it enqueues one task inside a span and reports the task's id and the ids of
 * the spans, then exits. Another process (the test) runs the task; its attempt span must be
 * linked to this process's enqueue span through the task's persisted `trace_context`.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { trace } from '@opentelemetry/api';
import { TaskManager } from '@taskmill/core';
import type { ProcessConnection } from './backends.js';
import { installOtel } from './otel.js';

/** What the producer process reports. */
export interface Enqueued {
  id: number;
  trace_id: string;
  request_span_id: string;
  enqueue_span_id: string;
}

const SCRIPT = fileURLToPath(import.meta.url);

/** Run the producer in a child process; resolves with what it enqueued. */
export function enqueueInChildProcess(connection: ProcessConnection, name: string): Promise<Enqueued> {
  const child = fork(SCRIPT, [JSON.stringify({ connection, name })], {
    execArgv: ['--conditions=@taskmill/source', '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('producer process did not report within 60 s'));
    }, 60_000);
    let report: Enqueued | undefined;
    child.on('message', (msg: Enqueued) => (report = msg));
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0 && report) resolve(report);
      else reject(new Error(`producer process exited with code ${code}${report ? '' : ' before reporting'}`));
    });
  });
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2]) as { connection: ProcessConnection; name: string };
  const otel = installOtel();
  const c = args.connection;
  const dbConnection = c.kind === 'string' ? c.url : (await import('@taskmill/store-postgres')).createPostgresStore({ url: c.url, schema: c.schema });
  const tm = new TaskManager({ dbConnection, onError: () => undefined });
  tm.use(args.name, () => undefined);
  const { id, request } = await trace.getTracer('producer-app').startActiveSpan('request', async (span) => {
    try {
      return { id: await tm.async(args.name, { from: process.pid }), request: span.spanContext() };
    } finally {
      span.end();
    }
  });
  await tm.stop();
  if (typeof dbConnection !== 'string') await dbConnection.close();
  const enqueue = otel.spans().find((s) => s.name === `enqueue ${args.name}`);
  if (!enqueue) throw new Error('no enqueue span was recorded');
  const report: Enqueued = { id, trace_id: request.traceId, request_span_id: request.spanId, enqueue_span_id: enqueue.spanContext().spanId };
  await otel.uninstall();
  await new Promise<void>((resolve) => process.send!(report, () => resolve()));
}

if (process.argv[1] === SCRIPT && process.send) {
  main().then(
    () => process.exit(0),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
