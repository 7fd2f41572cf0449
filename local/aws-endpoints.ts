import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient, UpdateItemCommand, type UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { type Limiter, limiter } from '../lib/concurrency.js';
import { closeServer, listen, urlFor } from './http-util.js';
import {
  createHandlerLoader,
  functionArn,
  type HandlerLoader,
  type InvocationObserver,
  jsonRoundTrip,
  LOCAL_ACCOUNT_ID,
  LOCAL_REGION,
  lambdaContext,
} from './lambda.js';
import { type LocalQueueOptions, LocalSqs, LocalSqsError } from './sqs.js';

const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface AwsEndpointsOptions {
  dataDir: string;
  stateMachineArn: string;
  secretArn: string;
  port?: number;
  host?: string;
  /**
   * ASL file with `${<Name>FunctionArn}` placeholders (and `${TableName}`). Default:
   * lib/state-machine/restore-job.asl.json.
   */
  definitionPath?: string;
  /** `${TableName}` of the definition: the table its DynamoDB tasks write (through AWS_ENDPOINT_URL_DYNAMODB). */
  tableName?: string;
  /** Where task functions live (`<functionsDir>/<name>.ts`). Default: functions/. */
  functionsDir?: string;
  /** Replaces the module loader (tests). */
  loadHandler?: HandlerLoader;
  /** Told every function invocation's duration (the default loader's: tasks and queue consumers). */
  observeInvocation?: InvocationObserver;
  /**
   * Told every state an execution enters, and every retry of one: what Step Functions bills as state transitions
   * (bench/metering.ts).
   */
  observeStateTransition?: (executionName: string, stateName: string) => void;
  /** Execution diagnostics (failed states, retries, failed executions). Default: console.error. */
  log?: (line: string) => void;
  /**
   * Invocations of a function that may run at once, like Lambda's reserved concurrency: a Map's iterations
   * beyond it wait for a slot. On one machine this keeps a 40-way Map from running 40 range builds (and their
   * buffers) in one process. Functions not named are unlimited.
   */
  functionConcurrency?: Readonly<Record<string, number>>;
  /** Wraps every task invocation (tests inject faults: a throttled or crashed invocation). */
  taskHook?: TaskHook;
  /** Retry pauses of the named states, in ms, instead of their IntervalSeconds and backoff (tests). */
  retryIntervalMs?: Readonly<Record<string, number>>;
  /** One attempt of a Wait until a timestamp, in ms (default and most: 20 days; tests shorten it). */
  waitPieceMs?: number;
  /** SQS queues by name, each with the function its event source mapping invokes (local/sqs.ts). */
  queues?: Readonly<Record<string, LocalQueueOptions>>;
}

/** Runs `invoke` (the function) for a task of `functionName` with `payload`, or fails instead, as a test decides. */
export type TaskHook = (functionName: string, payload: unknown, invoke: () => Promise<unknown>) => Promise<unknown>;

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED' | 'TIMED_OUT';

export interface ExecutionDescription {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
}

export interface AwsEndpoints {
  /** Base URL for AWS_ENDPOINT_URL_SFN, _EVENTBRIDGE and _SECRETS_MANAGER. */
  endpoint: string;
  describeExecution(executionArn: string): ExecutionDescription | undefined;
  listExecutions(): ExecutionDescription[];
  /**
   * Aborts every running execution (pending Wait and Retry timers are cleared) and waits, up to
   * `graceMs`, for task functions already running to return: they cannot be interrupted.
   */
  abortAll(graceMs?: number): Promise<void>;
  /** abortAll(), then stops the server. */
  close(): Promise<void>;
}

/**
 * One HTTP server speaking the AWS JSON protocol for the control-plane calls the functions
 * make: Step Functions StartExecution (+ DescribeExecution), EventBridge PutEvents, Secrets Manager
 * GetSecretValue, SQS SendMessage (delivered to the queue's function, local/sqs.ts). The functions' own SDK
 * clients reach it through AWS_ENDPOINT_URL_<SERVICE>.
 */
export async function startAwsEndpoints(opts: AwsEndpointsOptions): Promise<AwsEndpoints> {
  // Without it every Task fails with a TypeError that `Catch: States.ALL` silently turns into a
  // broken job. `npm start` runs the project's Node 22 (node_modules/.bin comes first on PATH).
  if (typeof (Promise as { withResolvers?: unknown }).withResolvers !== 'function') {
    throw new Error(
      `aws-local-stepfunctions needs Node >= 22 (Promise.withResolvers); this is Node ${process.version}. Use npm start or npx.`,
    );
  }
  const host = opts.host ?? '127.0.0.1';
  await mkdir(opts.dataDir, { recursive: true });
  const functionsDir = opts.functionsDir ?? join(PROJECT_ROOT, 'functions');
  const stepFunctions = new LocalStepFunctions({
    stateMachineArn: opts.stateMachineArn,
    definitionPath: opts.definitionPath ?? join(PROJECT_ROOT, 'lib/state-machine/restore-job.asl.json'),
    ...(opts.tableName !== undefined && { tableName: opts.tableName }),
    loadHandler: opts.loadHandler ?? createHandlerLoader(functionsDir, opts.observeInvocation),
    // With the default loader a missing module is a wiring error: report it at start, not mid-execution.
    ...(opts.loadHandler ? {} : { functionsDir }),
    log: opts.log ?? ((line) => console.error(line)),
    functionConcurrency: opts.functionConcurrency ?? {},
    ...(opts.taskHook !== undefined && { taskHook: opts.taskHook }),
    ...(opts.retryIntervalMs !== undefined && { retryIntervalMs: opts.retryIntervalMs }),
    ...(opts.waitPieceMs !== undefined && { waitPieceMs: opts.waitPieceMs }),
    ...(opts.observeStateTransition !== undefined && { observeStateTransition: opts.observeStateTransition }),
  });
  const events = new LocalEventBridge(join(opts.dataDir, 'events.ndjson'));
  const secrets = new LocalSecretsManager(join(opts.dataDir, 'secret'), opts.secretArn);
  const sqs = new LocalSqs({
    queues: opts.queues ?? {},
    loadHandler: opts.loadHandler ?? createHandlerLoader(functionsDir, opts.observeInvocation),
    log: opts.log ?? ((line) => console.error(line)),
  });

  const operations: Record<string, (input: JsonObject) => Promise<unknown> | unknown> = {
    'AWSStepFunctions.StartExecution': (input) => stepFunctions.startExecution(input),
    'AWSStepFunctions.DescribeExecution': (input) => stepFunctions.describeExecutionCall(input),
    'AWSStepFunctions.StopExecution': (input) => stepFunctions.stopExecution(input),
    'AWSEvents.PutEvents': (input) => events.putEvents(input),
    'secretsmanager.GetSecretValue': (input) => secrets.getSecretValue(input),
    'AmazonSQS.SendMessage': (input) => {
      try {
        return sqs.sendMessage(input);
      } catch (err) {
        throw err instanceof LocalSqsError ? new ServiceError(err.type, err.message) : err;
      }
    },
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      console.error('local AWS endpoints: request failed', err);
      if (!res.headersSent) sendJson(req, res, 500, { __type: 'InternalFailure', message: String(err) });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = operations[target];
    if (req.method !== 'POST' || !operation) {
      req.resume();
      sendError(req, res, 'UnknownOperationException', `Unknown operation ${target || '(no X-Amz-Target)'}`);
      return;
    }
    let input: unknown;
    try {
      const body = await readBody(req, 1024 * 1024);
      input = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
    } catch (err) {
      sendError(req, res, 'SerializationException', err instanceof Error ? err.message : String(err));
      return;
    }
    if (!isObject(input)) {
      sendError(req, res, 'SerializationException', 'Request body must be a JSON object');
      return;
    }
    try {
      sendJson(req, res, 200, await operation(input));
    } catch (err) {
      if (err instanceof ServiceError) sendError(req, res, err.type, err.message);
      else throw err;
    }
  }

  const { port } = await listen(server, opts.port ?? 0, host);
  return {
    endpoint: urlFor(host, port),
    describeExecution: (arn) => stepFunctions.describe(arn),
    listExecutions: () => stepFunctions.list(),
    abortAll: (graceMs) => stepFunctions.abortAll(graceMs),
    close: async () => {
      await sqs.close();
      await stepFunctions.abortAll();
      await closeServer(server);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Step Functions

interface ExecutionRecord extends ExecutionDescription {
  aborted: boolean;
  abort(): void;
}

/**
 * Node's timers wait at most 2^31 - 1 ms (24.8 days; a longer one fires at once), and aws-local-stepfunctions waits
 * with one: a Wait state until a timestamp (WaitForExpiry: up to expirationHours, 360 days, as Step Functions does
 * in one Wait) runs here as a Task of the same name that waits one piece (20 days) at a time, ended by a stop of its
 * execution. The library also times every Task out (60 s unless TimeoutSeconds says more, and again with one Node
 * timer), so each piece is one attempt of the Task, within its TimeoutSeconds, and a wait that goes on fails with
 * {@link WAIT_GOES_ON}, which the Task retries at once, as often as the wait needs. AWS runs the one Wait state.
 */
export const MAX_TIMER_MS = 20 * 24 * 3600 * 1000;
const LOCAL_WAIT_FUNCTION = 'local-wait-until';
const WAIT_GOES_ON = 'Local.WaitGoesOn';

/** Turns every Wait state with a TimestampPath into such a Task (nested states too); answers their names. */
export function localTimestampWaits(machine: { States: Record<string, unknown> }, pieceMs: number): string[] {
  const names: string[] = [];
  for (const [name, raw] of Object.entries(machine.States)) {
    if (!isObject(raw)) continue;
    for (const nested of [raw.Iterator, raw.ItemProcessor, ...(Array.isArray(raw.Branches) ? raw.Branches : [])]) {
      if (isObject(nested) && isObject(nested.States)) {
        names.push(...localTimestampWaits({ States: nested.States }, pieceMs));
      }
    }
    if (raw.Type !== 'Wait' || typeof raw.TimestampPath !== 'string') continue;
    const { TimestampPath, Type: _type, ...rest } = raw;
    machine.States[name] = {
      ...rest,
      Type: 'Task',
      Resource: functionArn(LOCAL_WAIT_FUNCTION),
      Parameters: { 'until.$': TimestampPath },
      ResultPath: null,
      // One piece, with a second to spare: a piece never meets the Task's timeout.
      TimeoutSeconds: Math.ceil(pieceMs / 1000) + 1,
      Retry: [{ ErrorEquals: [WAIT_GOES_ON], IntervalSeconds: 1, MaxAttempts: 99_999_999, BackoffRate: 1 }],
    };
    names.push(name);
  }
  return names;
}

/**
 * Resolves at `until` (an ISO timestamp; at once when past); fails with {@link WAIT_GOES_ON} after one piece when
 * `until` is further away (the Task's Retry comes back); rejects when the execution stops.
 */
async function waitUntil(
  until: unknown,
  record: ExecutionRecord,
  onStop: Set<() => void>,
  pieceMs: number,
): Promise<unknown> {
  const at = typeof until === 'string' ? Date.parse(until) : Number.NaN;
  if (Number.isNaN(at)) throw Object.assign(new Error(`not a timestamp: ${String(until)}`), { name: 'States.Runtime' });
  if (record.aborted) throw new ExecutionStoppedError('Execution aborted');
  const left = at - Date.now();
  if (left <= 0) return {};
  await new Promise<void>((resolve) => {
    const stop = () => {
      clearTimeout(timer);
      onStop.delete(stop);
      resolve();
    };
    const timer = setTimeout(stop, Math.min(left, pieceMs));
    onStop.add(stop);
  });
  if (record.aborted) throw new ExecutionStoppedError('Execution aborted');
  if (Date.now() < at) throw Object.assign(new Error(`waiting until ${String(until)}`), { name: WAIT_GOES_ON });
  return {};
}

/** Errors with these flags skip Retry and Catch in aws-local-stepfunctions (see RuntimeError). */
class ExecutionStoppedError extends Error {
  override readonly name = 'States.Runtime';
  readonly isRetryable = false;
  readonly isCatchable = false;
}

type TaskOverride = (input: unknown) => Promise<unknown>;
type Execution = ReturnType<StateMachine['run']>;
type LocalHandlers = NonNullable<
  NonNullable<Parameters<StateMachine['run']>[1]>['overrides']
>['taskResourceLocalHandlers'];

interface TaskBinding {
  stateName: string;
  /** The function, or for a DynamoDB task `dynamodb:updateItem` (what a task hook sees). */
  functionName: string;
  /**
   * lambda:invoke integration (payload in `Payload`, result wrapped) vs a Lambda ARN as Resource, or the
   * DynamoDB UpdateItem integration (Parameters are the API's request; errors are named `DynamoDB.<Exception>`).
   */
  integration: boolean | 'dynamodb:updateItem';
  timeoutMs: number;
}

class LocalStepFunctions {
  private readonly executions = new Map<string, ExecutionRecord>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly machine: StateMachine;
  private readonly tasks: TaskBinding[];
  private readonly stateMachineName: string;
  /** Wait states run as local Tasks (localTimestampWaits). */
  private readonly timestampWaits: string[];
  /** Ends the waits of each execution when it stops. */
  private readonly waits = new Map<ExecutionRecord, Set<() => void>>();
  /** How long one attempt of a local timestamp wait lasts (localTimestampWaits). */
  private readonly waitPieceMs: number;

  constructor(
    private readonly opts: {
      stateMachineArn: string;
      definitionPath: string;
      tableName?: string;
      loadHandler: HandlerLoader;
      functionsDir?: string;
      log: (line: string) => void;
      functionConcurrency: Readonly<Record<string, number>>;
      taskHook?: TaskHook;
      retryIntervalMs?: Readonly<Record<string, number>>;
      observeStateTransition?: (executionName: string, stateName: string) => void;
      waitPieceMs?: number;
    },
  ) {
    const definition = loadDefinition(opts.definitionPath, opts.tableName);
    this.tasks = bindTasks(definition);
    this.waitPieceMs = Math.min(opts.waitPieceMs ?? MAX_TIMER_MS, MAX_TIMER_MS);
    this.timestampWaits = localTimestampWaits(
      definition as unknown as { States: Record<string, unknown> },
      this.waitPieceMs,
    );
    if (opts.functionsDir) {
      for (const { functionName, integration } of this.tasks) {
        if (integration === 'dynamodb:updateItem') continue;
        const dir = opts.functionsDir;
        if (!['.ts', '.js'].some((ext) => existsSync(join(dir, `${functionName}${ext}`)))) {
          throw new Error(`${opts.definitionPath} invokes ${functionName}, but ${dir} has no module for it`);
        }
      }
    }
    // Validates the definition (states, JSONPaths, ARNs) once, at start-up.
    this.machine = new StateMachine(definition);
    this.stateMachineName = opts.stateMachineArn.split(':').at(-1) ?? 'state-machine';
  }

  startExecution(input: JsonObject): { executionArn: string; startDate: number } {
    if (input.stateMachineArn !== this.opts.stateMachineArn) {
      throw new ServiceError(
        'StateMachineDoesNotExist',
        `State Machine Does Not Exist: '${String(input.stateMachineArn)}'`,
      );
    }
    const name = input.name === undefined ? randomUUID() : input.name;
    if (typeof name !== 'string' || !isValidExecutionName(name)) {
      throw new ServiceError('InvalidName', `Invalid Name: '${String(name)}'`);
    }
    const inputText = input.input === undefined ? '{}' : input.input;
    let parsedInput: unknown;
    try {
      if (typeof inputText !== 'string') throw new Error('input must be a string');
      parsedInput = JSON.parse(inputText);
    } catch {
      throw new ServiceError('InvalidExecutionInput', 'Invalid State Machine Execution Input: input must be JSON');
    }
    const executionArn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:execution:${this.stateMachineName}:${name}`;
    const existing = this.executions.get(executionArn);
    if (existing) {
      // As on AWS (standard workflows): the same name and input while running is an idempotent
      // retry of the same call; anything else with a used name is refused. Names are only
      // remembered for this process, since executions do not survive a restart either.
      if (existing.status === 'RUNNING' && existing.input === inputText) {
        return { executionArn, startDate: existing.startDate.getTime() / 1000 };
      }
      throw new ServiceError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }

    const startDate = new Date();
    const record: ExecutionRecord = {
      executionArn,
      stateMachineArn: this.opts.stateMachineArn,
      name,
      status: 'RUNNING',
      startDate,
      input: inputText,
      aborted: false,
      abort: () => {},
    };
    this.executions.set(executionArn, record);
    const execution = this.machine.run(parsedInput as never, {
      // Task results are whatever the functions return (JSON after jsonRoundTrip).
      overrides: {
        taskResourceLocalHandlers: this.overridesFor(record) as LocalHandlers,
        ...(this.opts.retryIntervalMs !== undefined && { retryIntervalOverrides: { ...this.opts.retryIntervalMs } }),
      },
      context: {
        Execution: { Id: executionArn, Name: name, StartTime: startDate.toISOString() },
        StateMachine: { Id: this.opts.stateMachineArn, Name: this.stateMachineName },
      },
    });
    record.abort = () => {
      execution.abort();
      for (const stop of this.waits.get(record) ?? []) stop();
    };
    execution.result.then(
      (output) => this.finish(record, 'SUCCEEDED', { output: JSON.stringify(output) }),
      (err: unknown) => this.finish(record, ...classifyFailure(err)),
    );
    void this.watch(record, execution.eventLogs);
    return { executionArn, startDate: startDate.getTime() / 1000 };
  }

  describeExecutionCall(input: JsonObject): unknown {
    const record = typeof input.executionArn === 'string' ? this.describe(input.executionArn) : undefined;
    if (!record)
      throw new ServiceError('ExecutionDoesNotExist', `Execution Does Not Exist: '${String(input.executionArn)}'`);
    return {
      ...record,
      startDate: record.startDate.getTime() / 1000,
      ...(record.stopDate ? { stopDate: record.stopDate.getTime() / 1000 } : {}),
    };
  }

  /**
   * StopExecution as Step Functions does it: a running execution becomes ABORTED at once (with the given error and
   * cause) and makes no further transition; a task function already running is not interrupted, and what it returns
   * goes nowhere. Stopping an execution that already ended changes nothing and answers its stop date.
   */
  stopExecution(input: JsonObject): { stopDate: number } {
    const record = typeof input.executionArn === 'string' ? this.executions.get(input.executionArn) : undefined;
    if (!record)
      throw new ServiceError('ExecutionDoesNotExist', `Execution Does Not Exist: '${String(input.executionArn)}'`);
    if (record.status === 'RUNNING') {
      record.aborted = true;
      this.finish(record, 'ABORTED', {
        ...(typeof input.error === 'string' && { error: input.error }),
        ...(typeof input.cause === 'string' && { cause: input.cause }),
      });
      record.abort();
    }
    return { stopDate: (record.stopDate ?? new Date()).getTime() / 1000 };
  }

  describe(executionArn: string): ExecutionDescription | undefined {
    const record = this.executions.get(executionArn);
    if (!record) return undefined;
    const { aborted: _aborted, abort: _abort, ...description } = record;
    return description;
  }

  list(): ExecutionDescription[] {
    return [...this.executions.keys()].flatMap((arn) => this.describe(arn) ?? []);
  }

  async abortAll(graceMs = 5_000): Promise<void> {
    for (const record of this.executions.values()) {
      if (record.status !== 'RUNNING') continue;
      record.aborted = true;
      record.abort();
    }
    if (this.inFlight.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inFlight]),
      new Promise((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
  }

  private finish(
    record: ExecutionRecord,
    status: ExecutionStatus,
    detail: { output?: string; error?: string; cause?: string },
  ) {
    // Ended once: a stopped execution's aborted run settles later and must not overwrite what StopExecution wrote.
    if (record.status !== 'RUNNING') return;
    Object.assign(record, { status, stopDate: new Date() }, detail);
    if (status === 'FAILED' || status === 'TIMED_OUT') {
      this.opts.log(`[sfn] ${record.name} ${status}: ${detail.error ?? ''} ${detail.cause ?? ''}`.trimEnd());
    }
  }

  /** Reports failed and retried states, which would otherwise only show up as a final status. */
  private async watch(record: ExecutionRecord, events: Execution['eventLogs']) {
    for await (const event of events) {
      if (event.type === 'StateFailed' && !record.aborted) {
        this.opts.log(`[sfn] ${record.name} ${event.state.name}: ${event.Error}: ${String(event.Cause)}`);
      }
      if (event.type === 'StateEntered' || event.type === 'StateRetried') {
        this.opts.observeStateTransition?.(record.name, event.state.name);
      }
    }
  }

  /** One local handler per Task state: invokes the function module in-process, as Lambda would. */
  private overridesFor(record: ExecutionRecord): Record<string, TaskOverride> {
    const overrides: Record<string, TaskOverride> = {};
    for (const name of this.timestampWaits) {
      overrides[name] = async (input) => {
        const waits = this.waits.get(record) ?? new Set<() => void>();
        this.waits.set(record, waits);
        try {
          return await waitUntil(isObject(input) ? input.until : undefined, record, waits, this.waitPieceMs);
        } finally {
          if (waits.size === 0) this.waits.delete(record);
        }
      };
    }
    for (const task of this.tasks) {
      overrides[task.stateName] = (input) => {
        // aws-local-stepfunctions re-runs a Task once more when aborted during a Retry pause; a
        // stopped execution must not call functions (their backends may be closing).
        if (record.aborted) return Promise.reject(new ExecutionStoppedError('Execution aborted'));
        const invocation = this.invoke(task, input);
        this.inFlight.add(invocation);
        void invocation.finally(() => this.inFlight.delete(invocation)).catch(() => {});
        return invocation;
      };
    }
    return overrides;
  }

  /** One limiter per function whose concurrency is limited, made on its first invocation. */
  private readonly limiters = new Map<string, Limiter>();

  /** Invokes the function, waiting for a free slot first when its concurrency is limited. */
  private invoke(task: TaskBinding, input: unknown): Promise<unknown> {
    const limit = this.opts.functionConcurrency[task.functionName];
    if (limit === undefined) return this.invokeNow(task, input);
    let slots = this.limiters.get(task.functionName);
    if (slots === undefined) {
      slots = limiter(limit);
      this.limiters.set(task.functionName, slots);
    }
    return slots(() => this.invokeNow(task, input));
  }

  private async invokeNow(task: TaskBinding, input: unknown): Promise<unknown> {
    if (task.integration === 'dynamodb:updateItem') return this.updateItem(input);
    const payload = jsonRoundTrip(task.integration && isObject(input) ? input.Payload : input);
    let result: unknown;
    try {
      const handler = await this.opts.loadHandler(task.functionName).catch((err: unknown) => {
        throw Object.assign(toError(err), { name: 'Runtime.ImportModuleError' });
      });
      const run = () => handler(payload, lambdaContext(task.functionName, task.timeoutMs));
      const hook = this.opts.taskHook;
      result = jsonRoundTrip(await (hook ? hook(task.functionName, payload, run) : run()));
    } catch (err) {
      throw lambdaError(err);
    }
    // lambda:invoke returns the Invoke response; the function's result is its Payload.
    return task.integration ? { ExecutedVersion: '$LATEST', Payload: result, StatusCode: 200 } : result;
  }

  private dynamodb: DynamoDBClient | undefined;

  /**
   * arn:aws:states:::dynamodb:updateItem, as Step Functions runs it: the resolved Parameters are the UpdateItem
   * request, sent to the local DynamoDB; the result is its response, and an error is named `DynamoDB.<name>`.
   */
  private async updateItem(input: unknown): Promise<unknown> {
    const run = async () => {
      // Created on first use: AWS_ENDPOINT_URL_DYNAMODB is set once the whole local stack is up.
      this.dynamodb ??= new DynamoDBClient({});
      try {
        const { $metadata: _metadata, ...output } = await this.dynamodb.send(
          new UpdateItemCommand(input as UpdateItemCommandInput),
        );
        return jsonRoundTrip(output);
      } catch (err) {
        const error = toError(err);
        throw Object.assign(new Error(error.message), { name: `DynamoDB.${error.name}` });
      }
    };
    const hook = this.opts.taskHook;
    return hook ? hook('dynamodb:updateItem', input, run) : run();
  }
}

/**
 * Step Functions names a Lambda error after the function's errorType (the Node.js runtime reports
 * `error.name`, so error classes must set `name`) and puts the runtime's error JSON in the cause:
 * Retry/Catch match the name, and a Catch's ResultPath receives `{Error, Cause}` as on AWS.
 */
/**
 * The documented rule: 1-80 characters, none of whitespace, brackets, wildcards, special characters
 * or control characters.
 */
function isValidExecutionName(name: string): boolean {
  if (name.length < 1 || name.length > 80 || /[\s<>{}[\]?*"#%\\^|~`$&,;:/]/.test(name)) return false;
  return [...name].every((c) => {
    const code = c.codePointAt(0) ?? 0;
    return code > 0x1f && (code < 0x7f || code > 0x9f);
  });
}

function lambdaError(err: unknown): Error {
  const error = toError(err);
  const cause = JSON.stringify({
    errorType: error.name,
    errorMessage: error.message,
    trace: (error.stack ?? '').split('\n'),
  });
  return Object.assign(new Error(cause), { name: error.name });
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(typeof err === 'string' ? err : JSON.stringify(err));
}

function classifyFailure(err: unknown): [ExecutionStatus, { error?: string; cause?: string }] {
  const name = err instanceof Error ? err.name : '';
  if (name === 'ExecutionAbortedError') return ['ABORTED', {}];
  if (name === 'ExecutionTimeoutError') return ['TIMED_OUT', { error: 'States.Timeout' }];
  // ExecutionError wraps the state's RuntimeError (for a Fail state: name = Error, message = Cause).
  const inner = err instanceof Error && err.cause instanceof Error ? err.cause : toError(err);
  return ['FAILED', { error: inner.name, cause: inner.message }];
}

/**
 * Reads the ASL and replaces each `${<Name>FunctionArn}` with the local ARN of the function
 * `<name>` (kebab-case), e.g. `${RestoreJobStepFunctionArn}` → `...:function:restore-job-step`, and
 * `${TableName}` with `tableName`. Unreplaced placeholders pass the library's validation, so any other
 * placeholder is an error.
 */
export function loadDefinition(path: string, tableName?: string): StateMachineDefinition {
  const text = readFileSync(path, 'utf8');
  const substituted = text.replace(/\$\{([A-Za-z0-9]*)\}/g, (placeholder, key: string) => {
    if (key === 'TableName' && tableName !== undefined) return tableName;
    const match = /^([A-Z][A-Za-z0-9]*)FunctionArn$/.exec(key);
    if (!match?.[1]) throw new Error(`${path}: no local value for placeholder ${placeholder}`);
    return functionArn(match[1].replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase());
  });
  if (substituted.includes('${')) throw new Error(`${path}: unreplaced placeholder after substitution`);
  return JSON.parse(substituted) as StateMachineDefinition;
}

/** Finds every Task state (nested Parallel/Map machines too) and the function it invokes. */
function bindTasks(definition: StateMachineDefinition): TaskBinding[] {
  const bindings = new Map<string, TaskBinding>();
  const visit = (machine: { States: Record<string, unknown> }) => {
    for (const [stateName, raw] of Object.entries(machine.States)) {
      if (!isObject(raw)) continue;
      for (const nested of [raw.Iterator, raw.ItemProcessor, ...(Array.isArray(raw.Branches) ? raw.Branches : [])]) {
        if (isObject(nested) && isObject(nested.States)) visit({ States: nested.States });
      }
      if (raw.Type !== 'Task') continue;
      const resource = String(raw.Resource);
      const parameters = isObject(raw.Parameters) ? raw.Parameters : {};
      let integration: TaskBinding['integration'];
      let target: unknown;
      if (resource === 'arn:aws:states:::dynamodb:updateItem') {
        const timeoutMs = (typeof raw.TimeoutSeconds === 'number' ? raw.TimeoutSeconds : 60) * 1000;
        bindings.set(stateName, {
          stateName,
          functionName: 'dynamodb:updateItem',
          integration: 'dynamodb:updateItem',
          timeoutMs,
        });
        continue;
      }
      if (resource === 'arn:aws:states:::lambda:invoke') {
        integration = true;
        target = parameters.FunctionName;
      } else if (resource.startsWith('arn:aws:lambda:')) {
        integration = false;
        target = resource;
      } else {
        // Without a local handler the library would call the real AWS service.
        throw new Error(`Task state ${stateName}: resource ${resource} has no local implementation`);
      }
      const functionName =
        typeof target === 'string'
          ? (/^arn:aws:lambda:[^:]*:[^:]*:function:([^:]+)/.exec(target)?.[1] ?? target)
          : undefined;
      if (!functionName) throw new Error(`Task state ${stateName}: FunctionName must be a literal function ARN`);
      const timeoutMs = (typeof raw.TimeoutSeconds === 'number' ? raw.TimeoutSeconds : 60) * 1000;
      const previous = bindings.get(stateName);
      if (previous && previous.functionName !== functionName) {
        throw new Error(
          `Task state name ${stateName} is used for two functions; local overrides are keyed by state name`,
        );
      }
      bindings.set(stateName, { stateName, functionName, integration, timeoutMs });
    }
  };
  visit(definition as unknown as { States: Record<string, unknown> });
  return [...bindings.values()];
}

// ---------------------------------------------------------------------------------------------
// EventBridge

class LocalEventBridge {
  /** Appends are chained so concurrent PutEvents calls keep their order in the file. */
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly file: string) {}

  async putEvents(input: JsonObject): Promise<unknown> {
    const entries = input.Entries;
    if (!Array.isArray(entries) || entries.length < 1 || entries.length > 10) {
      throw new ServiceError('ValidationException', 'Entries must contain between 1 and 10 entries');
    }
    const lines: string[] = [];
    const results = entries.map((entry: unknown) => {
      const checked = checkEntry(entry);
      if ('ErrorCode' in checked) return checked;
      const id = randomUUID();
      lines.push(`${JSON.stringify({ id, ...checked })}\n`);
      return { EventId: id };
    });
    if (lines.length > 0) {
      const write = this.tail.then(() => appendFile(this.file, lines.join('')));
      this.tail = write.catch(() => {});
      await write;
    }
    return { FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length, Entries: results };
  }
}

function checkEntry(entry: unknown): Record<string, unknown> | { ErrorCode: string; ErrorMessage: string } {
  if (!isObject(entry)) return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Entry must be an object.' };
  for (const field of ['Source', 'DetailType', 'Detail'] as const) {
    if (typeof entry[field] !== 'string' || entry[field] === '') {
      return {
        ErrorCode: 'InvalidArgument',
        ErrorMessage: `Parameter ${field} is not valid. Reason: ${field} is a required argument.`,
      };
    }
  }
  let detail: unknown;
  try {
    detail = JSON.parse(entry.Detail as string);
  } catch {
    detail = undefined;
  }
  if (!isObject(detail)) return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
  // The SDK sends Time as epoch seconds.
  const time = typeof entry.Time === 'number' ? new Date(entry.Time * 1000) : new Date();
  return {
    time: time.toISOString(),
    source: entry.Source,
    'detail-type': entry.DetailType,
    detail,
    eventBusName: typeof entry.EventBusName === 'string' ? entry.EventBusName : 'default',
    resources: Array.isArray(entry.Resources) ? entry.Resources : [],
  };
}

// ---------------------------------------------------------------------------------------------
// Secrets Manager

class LocalSecretsManager {
  private secret: Promise<{ value: string; createdDate: Date }> | undefined;
  private readonly name: string;

  constructor(
    private readonly file: string,
    private readonly arn: string,
  ) {
    // Secret ARNs end in `secret:<name>-<6 random characters>`.
    this.name = (arn.split(':')[6] ?? arn).replace(/-[A-Za-z0-9]{6}$/, '');
  }

  async getSecretValue(input: JsonObject): Promise<unknown> {
    if (input.SecretId !== this.arn && input.SecretId !== this.name) {
      throw new ServiceError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    }
    this.secret ??= this.load();
    const { value, createdDate } = await this.secret;
    return {
      ARN: this.arn,
      Name: this.name,
      SecretString: value,
      VersionId: '00000000-0000-0000-0000-000000000001',
      VersionStages: ['AWSCURRENT'],
      CreatedDate: createdDate.getTime() / 1000,
    };
  }

  /** Generated once per data directory and kept, so tokens signed before a restart stay valid. */
  private async load(): Promise<{ value: string; createdDate: Date }> {
    try {
      await writeFile(this.file, randomBytes(32).toString('base64url'), { flag: 'wx', mode: 0o600 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const value = (await readFile(this.file, 'utf8')).trim();
    if (value === '') throw new Error(`${this.file} is empty; delete it to generate a new secret`);
    return { value, createdDate: new Date() };
  }
}

// ---------------------------------------------------------------------------------------------
// AWS JSON protocol plumbing

type JsonObject = Record<string, unknown>;

class ServiceError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new Error(`Request body exceeds ${limit} bytes`));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendJson(req: IncomingMessage, res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body ?? {});
  res.writeHead(status, {
    // Answer in the protocol version the client spoke (1.0 for Step Functions, 1.1 for the others).
    'content-type': String(req.headers['content-type'] ?? 'application/x-amz-json-1.1'),
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
  });
  res.end(text);
}

function sendError(req: IncomingMessage, res: ServerResponse, type: string, message: string): void {
  res.setHeader('x-amzn-errortype', type);
  sendJson(req, res, 400, { __type: type, message });
}
