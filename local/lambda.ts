import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvokeStore, InvokeStoreBase } from '@aws/lambda-invoke-store';
import type { Context } from 'aws-lambda';

/** What a function module exports as `handler` (payload in, JSON-serializable result out). */
export type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;

/** Resolves a function name (`functions/<name>.ts`) to its handler. */
export type HandlerLoader = (name: string) => Promise<LambdaHandler>;

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT_ID = '000000000000';

export function functionArn(name: string): string {
  return `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${name}`;
}

/**
 * Loads `<functionsDir>/<name>.ts` (or `.js`) once per name, the way a warm Lambda keeps its module:
 * module-scope initialisation (env reads, SDK clients) runs on first use, not per invocation.
 * A module that fails to load is not cached, so fixing the file and retrying works.
 */
export function createHandlerLoader(functionsDir: string, observe?: InvocationObserver): HandlerLoader {
  const cache = new Map<string, Promise<LambdaHandler>>();
  return (name) => {
    let loaded = cache.get(name);
    if (!loaded) {
      loaded = importHandler(functionsDir, name).then((handler) => (observe ? timed(name, handler, observe) : handler));
      loaded.catch(() => cache.delete(name));
      cache.set(name, loaded);
    }
    return loaded;
  };
}

/**
 * Lambda's per-invocation store, as the Node.js runtime keeps it for an environment that runs invocations
 * concurrently (AWS_LAMBDA_MAX_CONCURRENCY, which the local stack sets): every function of the local stack shares
 * this process, and requests, tasks and queue messages run at once. Powertools keeps its per-invocation state in
 * it (log keys such as the job id, the Lambda context on log lines, metrics and their dimensions), so an
 * invocation neither logs another's job id nor flushes its metrics. Call before any function module loads.
 */
export async function startInvocationScopes(): Promise<void> {
  await InvokeStore.getInstanceAsync(true);
}

/** Told every invocation's function and duration, as Lambda bills it (bench/metering.ts's cost model). */
export type InvocationObserver = (functionName: string, ms: number) => void;

function timed(name: string, handler: LambdaHandler, observe: InvocationObserver): LambdaHandler {
  return async (event, context) => {
    const started = performance.now();
    try {
      return await handler(event, context);
    } finally {
      observe(name, performance.now() - started);
    }
  };
}

/** Runs one invocation in a context of its own, as the runtime does. */
function scoped(handler: LambdaHandler): LambdaHandler {
  return async (event, context) => {
    const store = await InvokeStore.getInstanceAsync(true);
    return store.run({ [InvokeStoreBase.PROTECTED_KEYS.REQUEST_ID]: context.awsRequestId }, () =>
      handler(event, context),
    );
  };
}

async function importHandler(functionsDir: string, name: string): Promise<LambdaHandler> {
  // Names come from the route table and the state machine definition; refuse anything that could
  // walk out of the functions directory.
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new Error(`Invalid function name: ${name}`);
  const file = ['.ts', '.js'].map((ext) => join(functionsDir, `${name}${ext}`)).find((f) => existsSync(f));
  if (!file) throw new Error(`No module for function ${name} in ${functionsDir}`);
  const mod = (await import(pathToFileURL(file).href)) as { handler?: unknown };
  if (typeof mod.handler !== 'function') throw new Error(`${file} does not export a handler function`);
  return scoped(mod.handler as LambdaHandler);
}

/** A Lambda context object with the fields the Node.js runtime provides. */
export function lambdaContext(functionName: string, timeoutMs: number): Context {
  const deadline = Date.now() + timeoutMs;
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: functionArn(functionName),
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `${day}/[$LATEST]${randomBytes(16).toString('hex')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    // Deprecated callback-era methods: present on the real context, unused by async handlers.
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/**
 * Lambda passes events and results as JSON: a round trip gives handlers a private copy and turns
 * values such as Dates into what they would be on AWS. `undefined` becomes `null`, as on Lambda.
 */
export function jsonRoundTrip(value: unknown): unknown {
  const json = JSON.stringify(value);
  return json === undefined ? null : JSON.parse(json);
}
