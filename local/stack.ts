import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../functions/commons/metric-names.js';
import { DEFAULT_DOWNLOAD_URL_SECONDS } from '../lib/adapters/s3/restore-artifacts.js';
import { MANIFEST_PREFIX, MANIFEST_SUFFIX } from '../lib/domain/manifest.js';
import { ENV } from '../lib/env.js';
import { type ApiGateway, startApiGateway } from './api-gateway.js';
import { type AwsEndpoints, startAwsEndpoints, type TaskHook } from './aws-endpoints.js';
import { type LocalDynamoDb, startLocalDynamoDb } from './dynamodb.js';
import {
  createHandlerLoader,
  type InvocationObserver,
  jsonRoundTrip,
  LOCAL_ACCOUNT_ID,
  LOCAL_REGION,
  lambdaContext,
  startInvocationScopes,
} from './lambda.js';
import { type LocalS3, type LocalS3Request, startLocalS3 } from './s3.js';
import { prepareTable } from './table-migration.js';

/** Resource names of the local stack (on AWS, CDK names them). */
export const LOCAL_RESOURCES = {
  tableName: 'restore-jobs',
  snapshotBucket: 'restore-jobs-snapshots',
  restoreBucket: 'restore-jobs-restores',
  stateMachineArn: `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stateMachine:restore-job`,
  eventBusName: 'restore-jobs',
  artifactPurgeQueueName: 'restore-jobs-artifact-purges',
  // Secret ARNs end in a 6-character suffix, which handlers must not rely on being absent.
  secretArn: `arn:aws:secretsmanager:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:secret:restore-jobs-local-LoCaL1`,
} as const;

/** Functions invoked by S3 notifications are loaded from here (the API and task functions load their own). */
const loadFunction = createHandlerLoader(join(dirname(fileURLToPath(import.meta.url)), '..', 'functions'));

/** One key pair for every local service: s3rver's default, which the S3 front verifies; the others ignore it. */
const LOCAL_ACCESS_KEY_ID = 'S3RVER';
const LOCAL_SECRET_ACCESS_KEY = 'S3RVER';

export interface LocalStackOptions {
  /** Everything persistent lives here: dynamodb/, s3/ (and s3-multipart/, uploads in progress), events.ndjson, secret. */
  dataDir: string;
  /** API port; 0 picks an ephemeral one. */
  port: number;
  /** API host, default 127.0.0.1. The AWS endpoints always listen on 127.0.0.1. */
  host?: string;
  /** S3 port, for S3 clients outside the stack (a backup provider uploading snapshots); 0 or absent: ephemeral. */
  s3Port?: number;
  /** Build tuning (tests shrink it so a small snapshot exercises many ranges and hash links). */
  build?: {
    rangeBytes?: number;
    countBatchBytes?: number;
    hashLinkBytes?: number;
    /** Range builds at once (default LOCAL_RANGE_CONCURRENCY). */
    rangeConcurrency?: number;
    /**
     * The largest part a range output is uploaded in (default LOCAL_UPLOAD_PART_MAX_BYTES; bench/metering.ts passes
     * AWS's, whose requests it counts).
     */
    uploadPartMaxBytes?: number;
    /** From how many parts the assembly runs as a Map of batches (default 17; 1 drives the Map with any snapshot). */
    assemblyMapFromParts?: number;
  };
  /** Wraps every state machine task invocation (tests inject faults). */
  taskHook?: TaskHook;
  /** Retry pauses of the named states, in ms, instead of their IntervalSeconds and backoff (tests). */
  retryIntervalMs?: Readonly<Record<string, number>>;
  /**
   * Lifetime of presigned artifact URLs in seconds (default 300, as on AWS); a used-up artifact is purged twice
   * that long after its last download. Tests shrink it.
   */
  downloadUrlSeconds?: number;
  /** What the stack's services are asked to do, as AWS would bill it (bench/metering.ts's cost model). */
  observe?: LocalObservers;
}

/** Counters of billable operations: each is told as the operation happens. */
export interface LocalObservers {
  /** Every function invocation (API routes, state machine tasks, queue consumers) and its duration. */
  invocation?: InvocationObserver;
  /** Every state an execution enters and every retry: Step Functions' billed state transitions. */
  stateTransition?: (executionName: string, stateName: string) => void;
  /** Every S3 request. */
  s3Request?: (request: LocalS3Request) => void;
  /** Every DynamoDB API call, by operation. */
  dynamodbRequest?: (operation: string) => void;
}

/**
 * On one machine every build step shares this process: one range build at a time (it already gzips on every
 * core), a 16 MiB read window instead of a Lambda's 64 MiB, range outputs uploaded in parts of at most 16 MiB
 * instead of 64 MiB (lib-storage holds five at once) and hash chains reading two chunks ahead keep a 4 GiB
 * restore's peak RSS under 512 MB (docs/benchmarks.md).
 */
export const LOCAL_RANGE_CONCURRENCY = 1;
const LOCAL_READ_WINDOW_BYTES = 16 * 1024 * 1024;
const LOCAL_UPLOAD_PART_MAX_BYTES = 16 * 1024 * 1024;
const LOCAL_HASH_READ_AHEAD = 2;

/** What an S3 client outside the stack needs to reach its S3 (path-style; demo.json gives it to users). */
export interface LocalS3Access {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  snapshotBucket: string;
  restoreBucket: string;
}

export interface LocalStack {
  /** The API's base URL, e.g. http://127.0.0.1:3000 */
  baseUrl: string;
  dataDir: string;
  /** The variables set on process.env for the functions (also what a separate process would need). */
  env: Readonly<Record<string, string>>;
  endpoints: { dynamodb: string; s3: string; aws: string };
  /** The S3 endpoint with its credentials and bucket names, for S3 clients outside the stack (path-style). */
  s3: LocalS3Access;
  /** Step Functions' executions in this process (describe/list/abortAll), for seeding, re-drive and tests. */
  stepFunctions: Pick<AwsEndpoints, 'describeExecution' | 'listExecutions' | 'abortAll'>;
  /** Stops the API, aborts executions (waiting briefly for running tasks), then closes every service. */
  stop(): Promise<void>;
}

/**
 * The one place that wires the local stack: real local implementations of DynamoDB (dynalite), S3
 * (s3rver behind a front that verifies SigV4 and implements PutObject and multipart as S3 does),
 * Step Functions/EventBridge/Secrets Manager (aws-endpoints),
 * and an HTTP API in front of the same function modules that run on Lambda.
 *
 * The functions find everything through process.env, set here before any function module is
 * imported (they load lazily, on first request or task). Module state is per process, so run one
 * stack per process.
 */
export async function startLocalStack(opts: LocalStackOptions): Promise<LocalStack> {
  const dataDir = resolve(opts.dataDir);
  await mkdir(dataDir, { recursive: true });
  const started: { close(): Promise<void> }[] = [];
  try {
    const dynamodb: LocalDynamoDb = await startLocalDynamoDb({
      dataDir,
      ...(opts.observe?.dynamodbRequest !== undefined && { onRequest: opts.observe.dynamodbRequest }),
    });
    started.push(dynamodb);
    const s3: LocalS3 = await startLocalS3({
      dataDir,
      port: opts.s3Port ?? 0,
      buckets: [LOCAL_RESOURCES.snapshotBucket, LOCAL_RESOURCES.restoreBucket],
      credentials: { [LOCAL_ACCESS_KEY_ID]: LOCAL_SECRET_ACCESS_KEY },
      ...(opts.observe?.s3Request !== undefined && { onRequest: opts.observe.s3Request }),
      // As cdk/service-stack.ts configures the snapshot bucket: manifests/*.json → ingest-manifest.
      notifications: [
        {
          bucket: LOCAL_RESOURCES.snapshotBucket,
          prefix: MANIFEST_PREFIX,
          suffix: MANIFEST_SUFFIX,
          invoke: async (event) => {
            const handler = await loadFunction('ingest-manifest');
            return handler(jsonRoundTrip(event), lambdaContext('ingest-manifest', 10_000));
          },
        },
      ],
    });
    started.push(s3);
    const aws: AwsEndpoints = await startAwsEndpoints({
      dataDir,
      stateMachineArn: LOCAL_RESOURCES.stateMachineArn,
      secretArn: LOCAL_RESOURCES.secretArn,
      tableName: LOCAL_RESOURCES.tableName,
      // On AWS each range build is a 6-vCPU Lambda; here they share this process and its cores.
      functionConcurrency: { 'build-artifact-range': opts.build?.rangeConcurrency ?? LOCAL_RANGE_CONCURRENCY },
      ...(opts.taskHook !== undefined && { taskHook: opts.taskHook }),
      ...(opts.retryIntervalMs !== undefined && { retryIntervalMs: opts.retryIntervalMs }),
      ...(opts.observe?.invocation !== undefined && { observeInvocation: opts.observe.invocation }),
      ...(opts.observe?.stateTransition !== undefined && { observeStateTransition: opts.observe.stateTransition }),
      // As cdk/constructs/artifact-purge.ts deploys it: the purge queue's event source and dead-letter rule.
      queues: {
        [LOCAL_RESOURCES.artifactPurgeQueueName]: {
          functionName: 'purge-restore-artifact',
          maxReceiveCount: 5,
          visibilityTimeoutMs: 180_000,
          timeoutMs: 30_000,
        },
      },
    });
    started.push(aws);

    const env: Record<string, string> = {
      [ENV.tableName]: LOCAL_RESOURCES.tableName,
      [ENV.snapshotBucket]: LOCAL_RESOURCES.snapshotBucket,
      [ENV.restoreBucket]: LOCAL_RESOURCES.restoreBucket,
      [ENV.stateMachineArn]: LOCAL_RESOURCES.stateMachineArn,
      [ENV.eventBusName]: LOCAL_RESOURCES.eventBusName,
      [ENV.secretArn]: LOCAL_RESOURCES.secretArn,
      [ENV.s3ForcePathStyle]: 'true',
      [ENV.buildReadWindowBytes]: String(LOCAL_READ_WINDOW_BYTES),
      [ENV.buildHashReadAhead]: String(LOCAL_HASH_READ_AHEAD),
      [ENV.buildUploadPartMaxBytes]: String(opts.build?.uploadPartMaxBytes ?? LOCAL_UPLOAD_PART_MAX_BYTES),
      [ENV.artifactPurgeQueueUrl]: `${aws.endpoint}/${LOCAL_ACCOUNT_ID}/${LOCAL_RESOURCES.artifactPurgeQueueName}`,
      // Always set: a stack started later in the same process must not inherit a test's shorter lifetime.
      [ENV.downloadUrlSeconds]: String(opts.downloadUrlSeconds ?? DEFAULT_DOWNLOAD_URL_SECONDS),
      ...(opts.build?.rangeBytes !== undefined && { [ENV.buildRangeBytes]: String(opts.build.rangeBytes) }),
      ...(opts.build?.countBatchBytes !== undefined && {
        [ENV.buildCountBatchBytes]: String(opts.build.countBatchBytes),
      }),
      ...(opts.build?.hashLinkBytes !== undefined && { [ENV.buildHashLinkBytes]: String(opts.build.hashLinkBytes) }),
      ...(opts.build?.assemblyMapFromParts !== undefined && {
        [ENV.buildAssemblyMapFromParts]: String(opts.build.assemblyMapFromParts),
      }),
      // The SDK's own per-service endpoint variables: the functions' clients need no local code.
      AWS_ENDPOINT_URL_DYNAMODB: dynamodb.endpoint,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ENDPOINT_URL_SFN: aws.endpoint,
      AWS_ENDPOINT_URL_EVENTBRIDGE: aws.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.endpoint,
      AWS_ENDPOINT_URL_SQS: aws.endpoint,
      // Lambda sets both.
      AWS_REGION: LOCAL_REGION,
      AWS_DEFAULT_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: LOCAL_SECRET_ACCESS_KEY,
      // No checksum settings: the SDK's defaults (aws-chunked bodies with trailing checksums), as on AWS.
      // Powertools, as CDK configures it. Metrics go to stdout as EMF lines, as on Lambda (where CloudWatch Logs
      // turns them into metrics); X-Ray has no daemon here, so tracing is off (Powertools would also turn it off
      // for want of AWS_EXECUTION_ENV: this says so).
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      POWERTOOLS_TRACE_ENABLED: 'false',
      // Every function shares this process and runs concurrently: as in a Lambda environment that does, Powertools
      // keeps each invocation's state in the runtime's InvokeStore (lambda.ts). Only its presence is read.
      AWS_LAMBDA_MAX_CONCURRENCY: '100',
    };
    // The store exists before the variable that tells Powertools to use it.
    await startInvocationScopes();
    Object.assign(process.env, env);
    // A session token from the developer's shell would pair real-credential state with the local key.
    delete process.env.AWS_SESSION_TOKEN;

    const ddb = new DynamoDBClient({
      endpoint: dynamodb.endpoint,
      region: LOCAL_REGION,
      credentials: { accessKeyId: LOCAL_ACCESS_KEY_ID, secretAccessKey: LOCAL_SECRET_ACCESS_KEY },
    });
    try {
      await prepareTable(ddb, LOCAL_RESOURCES.tableName, dataDir);
    } finally {
      ddb.destroy();
    }

    const api: ApiGateway = await startApiGateway({
      port: opts.port,
      host: opts.host ?? '127.0.0.1',
      ...(opts.observe?.invocation !== undefined && { observeInvocation: opts.observe.invocation }),
    });
    started.push(api);
    // The functions build delivery URLs, links and events on this configured base, as on AWS with a custom
    // domain, never on the Host or X-Forwarded-* headers a client sends. Known once the API listens (port 0).
    env[ENV.publicBaseUrl] = api.url;
    process.env[ENV.publicBaseUrl] = api.url;

    let stopping: Promise<void> | undefined;
    return {
      baseUrl: api.url,
      dataDir,
      env,
      endpoints: { dynamodb: dynamodb.endpoint, s3: s3.endpoint, aws: aws.endpoint },
      s3: {
        endpoint: s3.endpoint,
        region: LOCAL_REGION,
        accessKeyId: LOCAL_ACCESS_KEY_ID,
        secretAccessKey: LOCAL_SECRET_ACCESS_KEY,
        snapshotBucket: LOCAL_RESOURCES.snapshotBucket,
        restoreBucket: LOCAL_RESOURCES.restoreBucket,
      },
      stepFunctions: {
        describeExecution: (arn) => aws.describeExecution(arn),
        listExecutions: () => aws.listExecutions(),
        abortAll: (graceMs) => aws.abortAll(graceMs),
      },
      stop: () => {
        stopping ??= closeAll(started);
        return stopping;
      },
    };
  } catch (err) {
    await closeAll(started).catch(() => {});
    throw err;
  }
}

/**
 * Closes in reverse start order: the API stops taking requests, then executions are aborted (the
 * AWS endpoints wait for running tasks), and only then do S3 and DynamoDB go, so nothing in flight
 * loses its backend. Every service is closed even if one fails.
 */
async function closeAll(services: { close(): Promise<void> }[]): Promise<void> {
  const errors: unknown[] = [];
  for (const service of [...services].reverse()) {
    try {
      await service.close();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length > 0) throw new AggregateError(errors, 'Some local services failed to stop');
}
