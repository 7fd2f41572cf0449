import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Arn, ArnFormat, Duration, type Size, Stack, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, LoggingFormat, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../functions/commons/metric-names.js';
import type {
  ApiHandlerName,
  DefaultRouteHandlerName,
  EventHandlerName,
  TaskHandlerName,
} from '../../functions/routes.js';
import { TABLE } from '../../lib/adapters/dynamodb/table.js';
import { ENV } from '../../lib/env.js';
import { acknowledgeWildcardResource } from '../nag.js';

/** Repository root: cdk/constructs/ is two levels down. Entries, lock file and tsconfig are resolved from here. */
export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A module under functions/ that exports `handler`. */
export type RestoreFunctionName = ApiHandlerName | DefaultRouteHandlerName | TaskHandlerName | EventHandlerName;

/**
 * Table access: `read` is GetItem/BatchGetItem/Query/ConditionCheckItem and never writes (except Digest nonce items
 * when {@link BindTableOptions.recordDigestNonces} asks for it); `readUpdate` adds UpdateItem only (conditional
 * updates of existing items, such as a job's build progress); `readWrite` adds single-item and batch writes.
 */
export type TableAccess = 'read' | 'readUpdate' | 'readWrite';

/**
 * Bucket access: the object actions of a mode are granted on the objects under the grant's key prefix, its
 * bucket-level actions on the bucket.
 *
 * - `read`: GetObject (also HeadObject and ranged GETs), plus ListBucket: without it a missing key answers 403
 *   instead of 404, which handlers could not tell apart from a permissions problem.
 * - `write`: PutObject (which also covers CreateMultipartUpload, UploadPart and CompleteMultipartUpload) plus
 *   AbortMultipartUpload (lib-storage aborts a failed upload).
 * - `delete`: DeleteObject (also each key of DeleteObjects).
 * - `readWrite`, `readDelete`, `readWriteDelete`: the union of those modes (a scratch area a function writes,
 *   reads back, lists and deletes).
 * - `assemble`: building an object server-side from parts and reading it back: PutObject (CreateMultipartUpload,
 *   UploadPart, UploadPartCopy's destination, CompleteMultipartUpload), ListMultipartUploadParts (ListParts),
 *   AbortMultipartUpload plus ListBucketMultipartUploads (an upload a lost execution left on the key is found and
 *   aborted before a new one starts) and GetObject (HeadObject and ranged reads of the result), plus ListBucket as
 *   for `read`. No delete. UploadPartCopy also needs GetObject on its source objects: grant that with a second,
 *   reading grant.
 * - `cleanUp`: removing what others left: AbortMultipartUpload and DeleteObject, plus ListBucketMultipartUploads
 *   and ListBucket to find them. It reads and writes no object, so (unless the same binding also reads) its
 *   ListBucket is limited by `s3:prefix` to the listing of its grants' key prefixes.
 */
export type BucketAccess =
  | 'read'
  | 'write'
  | 'readWrite'
  | 'delete'
  | 'readDelete'
  | 'readWriteDelete'
  | 'assemble'
  | 'cleanUp';

const GET = 's3:GetObject';
const PUT = 's3:PutObject';
const ABORT = 's3:AbortMultipartUpload';
const DELETE = 's3:DeleteObject';

/** The object actions of each {@link BucketAccess} mode. */
const BUCKET_OBJECT_ACTIONS: Readonly<Record<BucketAccess, readonly string[]>> = {
  read: [GET],
  write: [PUT, ABORT],
  readWrite: [GET, PUT, ABORT],
  delete: [DELETE],
  readDelete: [GET, DELETE],
  readWriteDelete: [GET, PUT, ABORT, DELETE],
  assemble: [GET, PUT, 's3:ListMultipartUploadParts', ABORT],
  cleanUp: [ABORT, DELETE],
};

/** One grant of {@link RestoreFunction.bindBucket}: an access mode on the objects under a key prefix. */
export interface BucketGrant {
  readonly access: BucketAccess;
  /**
   * Limits the grant's object actions to keys starting with this prefix (e.g. `work/`).
   * @default - every object of the bucket
   */
  readonly keyPrefix?: string;
}

/** Options of {@link RestoreFunction.bindTable}. */
export interface BindTableOptions {
  /**
   * The function authenticates requests with HTTP Digest and records each nonce's `nc` (replay protection) in
   * the table: UpdateItem on `NONCE#…` items.
   * @default false
   */
  readonly recordDigestNonces?: boolean;
  /**
   * With `readUpdate` or `readWrite`: the partition-key prefixes of the items the function may write (e.g.
   * `JOB#`), enforced with `dynamodb:LeadingKeys`, so that no function but the key registry can write `APIKEY#`
   * items.
   * @default - every item
   */
  readonly writableKeyPrefixes?: readonly string[];
  /**
   * With `readWrite`: partition-key prefixes (each also in `writableKeyPrefixes`) whose items the function may
   * delete too, e.g. the idempotency records Powertools deletes when the work they guard failed.
   * @default - none (nothing else is ever deleted)
   */
  readonly deletableKeyPrefixes?: readonly string[];
}

/** Options of {@link RestoreFunction.bindBucket}. */
export interface BindBucketOptions {
  /**
   * With a single access mode: limits the object actions to keys starting with this prefix (e.g. `manifests/`).
   * A list of {@link BucketGrant}s carries a prefix per grant instead.
   * @default - every object of the bucket
   */
  readonly keyPrefix?: string;
}

/** Partition key prefix of API key items (lib/adapters/dynamodb/key-store.ts): their HA1 values are secrets. */
export const API_KEY_KEY_PREFIX = 'APIKEY#';

/** Partition key prefix of Digest nonce items (lib/adapters/dynamodb/table.ts, key-store.ts). */
export const DIGEST_NONCE_KEY_PREFIX = 'NONCE#';

/** The environment variables a bucket can be bound to (lib/env.ts). */
export type BucketEnvName = typeof ENV.snapshotBucket | typeof ENV.restoreBucket;

/** The environment variables a queue can be bound to (lib/env.ts). */
export type QueueEnvName = typeof ENV.artifactPurgeQueueUrl;

/** Props for {@link RestoreFunction}. */
export interface RestoreFunctionProps {
  /** The handler module: `functions/<name>.ts`, which exports `handler`. */
  readonly name: RestoreFunctionName;
  /**
   * Function timeout. API functions answer through API Gateway, whose integration timeout is 30 s at most.
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;
  /**
   * Memory in MB (CPU scales with it).
   * @default 512 (on ARM64 that is enough CPU for SDK start-up and JSON work without paying for idle memory)
   */
  readonly memorySize?: number;
  /**
   * /tmp size.
   * @default - Lambda's default (512 MiB)
   */
  readonly ephemeralStorageSize?: Size;
  /**
   * Extra environment variables, merged with the ones this construct sets (NODE_OPTIONS, POWERTOOLS_SERVICE_NAME,
   * POWERTOOLS_METRICS_NAMESPACE) and the ones the bind helpers set. A clash throws instead of silently winning.
   * @default - none
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * Retention of the function's own log group.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * Powertools service name: the `service` field of log lines and the `service` dimension of metrics. The
   * operations dashboard and alarms read the default's metrics (functions/commons/metric-names.ts).
   * @default 'restore-jobs'
   */
  readonly serviceName?: string;
  /**
   * A description shown in the Lambda console.
   * @default - `restore-jobs <name>`
   */
  readonly description?: string;
}

/**
 * One Lambda function of the service, with the platform choices fixed in one place: Node.js 22 on ARM64, X-Ray
 * active tracing (Powertools Tracer adds the handler's and each AWS call's subsegments), Powertools' service name
 * and metrics namespace, its own log group with retention, JSON log format, ESM bundling with source maps. The bind
 * helpers set an environment variable AND grant the matching least-privilege access in one call, so a function
 * cannot end up with a variable it is not allowed to use (or a grant it cannot find).
 */
export class RestoreFunction extends Construct {
  /** The underlying function. */
  public readonly function: NodejsFunction;
  /** The function's execution role (no managed policies: logging is granted on its own log group only). */
  public readonly role: Role;
  /** The function's log group. */
  public readonly logGroup: LogGroup;
  /** The handler module name. */
  public readonly name: RestoreFunctionName;
  /** Names set by the construct, props or a bind helper; binding one twice is a wiring mistake. */
  private readonly boundEnvironment = new Set<string>();

  constructor(scope: Construct, id: string, props: RestoreFunctionProps) {
    super(scope, id);
    this.name = props.name;

    this.logGroup = new LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
    });

    // An explicit role instead of the default one with AWSLambdaBasicExecutionRole: that managed policy allows
    // writing to every log group in the account, while this function only needs its own.
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of restore-jobs ${props.name}`,
    });
    this.logGroup.grantWrite(this.role);

    const baseEnvironment: Record<string, string> = {
      // sourceMap: true does not add this (PLATFORM.md); without it stack traces point into minified code.
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: props.serviceName ?? SERVICE_NAME,
      // Where the functions' Embedded Metric Format lines put their metrics (the dashboard reads them there).
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
    };
    for (const [key, value] of Object.entries(props.environment ?? {})) {
      if (key in baseEnvironment) {
        throw new Error(`RestoreFunction ${props.name}: environment variable ${key} is set by the construct`);
      }
      baseEnvironment[key] = value;
    }
    for (const key of Object.keys(baseEnvironment)) this.boundEnvironment.add(key);

    this.function = new NodejsFunction(this, 'Function', {
      entry: join(PROJECT_ROOT, 'functions', `${props.name}.ts`),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      description: props.description ?? `restore-jobs ${props.name}`,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(10),
      ephemeralStorageSize: props.ephemeralStorageSize,
      tracing: Tracing.ACTIVE,
      role: this.role,
      logGroup: this.logGroup,
      // Powertools Logger already writes JSON; JSON format keeps Lambda's own platform lines structured too.
      loggingFormat: LoggingFormat.JSON,
      environment: baseEnvironment,
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        // Prefer the ESM build of dual packages so esbuild can tree-shake them.
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap: true,
        sourceMapMode: SourceMapMode.DEFAULT,
        // Line mapping is what stack traces need; embedding sources would only double the asset size.
        sourcesContent: false,
        tsconfig: join(PROJECT_ROOT, 'tsconfig.json'),
        // The AWS SDK v3 is bundled rather than taken from the runtime: the runtime's copy is whatever version
        // Lambda ships that month, while package.json pins the versions the local stack and the tests ran
        // against (lib-storage, s3-request-presigner and lib-dynamodb must match their clients). Bundled and
        // tree-shaken, the SDK adds little to cold start and makes deployments reproducible.
        bundleAwsSDK: true,
        // An ESM bundle has no `require`; CommonJS dependencies bundled into it (esbuild's __require shim)
        // would throw "Dynamic require of ... is not supported" without one.
        banner:
          "import { createRequire as __restoreJobsCreateRequire } from 'node:module';" +
          'const require = __restoreJobsCreateRequire(import.meta.url);',
      },
    });

    // X-Ray's PutTraceSegments/PutTelemetryRecords are added by Tracing.ACTIVE and have no resource scope.
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords do not support resource-level permissions.',
    });
    // NODEJS_22_X is a deliberate pin, not an oversight: the project, its Node engine and the local stack run on 22.
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Node.js 22 is pinned on purpose: package.json engines, the local stack and the tests run Node 22; moving ' +
        'to a newer runtime is a tested change, not a synth-time default.',
    });
  }

  /**
   * Binds the table: sets TABLE_NAME and grants item access on the table and its indexes (named from
   * lib/adapters/dynamodb/table.ts, so no `index/*` wildcard). Scan and transactions are never granted: every
   * access pattern of the single-table design is GetItem, Query or a (conditional) single-item write.
   */
  public bindTable(table: ITable, access: TableAccess, options: BindTableOptions = {}): this {
    this.setEnv(ENV.tableName, table.tableName);
    const readActions = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:ConditionCheckItem'];
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: readActions,
        resources: [table.tableArn, ...TABLE.indexes.map((index) => `${table.tableArn}/index/${index.name}`)],
      }),
    );
    if (!options.recordDigestNonces) {
      // API keys' HA1 values are as good as passwords for Digest: only the functions that authenticate requests
      // (those recording nonces) may read APIKEY# items. An explicit Deny, so no later Allow can widen it.
      this.role.addToPrincipalPolicy(
        new PolicyStatement({
          effect: Effect.DENY,
          actions: readActions,
          resources: [table.tableArn],
          conditions: { 'ForAnyValue:StringLike': { 'dynamodb:LeadingKeys': [`${API_KEY_KEY_PREFIX}*`] } },
        }),
      );
    }
    // Writes are single items (no DeleteItem but on deletableKeyPrefixes), limited by partition-key prefix.
    const writes = access !== 'read';
    const prefixes = [
      ...(writes ? (options.writableKeyPrefixes ?? []) : []),
      ...(options.recordDigestNonces ? [DIGEST_NONCE_KEY_PREFIX] : []),
    ];
    const unrestricted = writes && options.writableKeyPrefixes === undefined;
    if (unrestricted || prefixes.length > 0) {
      this.role.addToPrincipalPolicy(
        new PolicyStatement({
          effect: Effect.ALLOW,
          actions:
            access === 'readWrite'
              ? ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem']
              : ['dynamodb:UpdateItem'],
          resources: [table.tableArn],
          ...(!unrestricted && {
            conditions: {
              'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': prefixes.map((prefix) => `${prefix}*`) },
            },
          }),
        }),
      );
    }
    const deletable = options.deletableKeyPrefixes ?? [];
    if (deletable.length > 0) {
      const writable = options.writableKeyPrefixes ?? [];
      if (access !== 'readWrite' || deletable.some((prefix) => !writable.includes(prefix))) {
        throw new Error(`RestoreFunction ${this.name}: deletableKeyPrefixes must be readWrite and writable prefixes`);
      }
      this.role.addToPrincipalPolicy(
        new PolicyStatement({
          effect: Effect.ALLOW,
          actions: ['dynamodb:DeleteItem'],
          resources: [table.tableArn],
          conditions: {
            'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': deletable.map((prefix) => `${prefix}*`) },
          },
        }),
      );
    }
    return this;
  }

  /**
   * Binds a bucket: sets `envName` to the bucket name and grants object access (see {@link BucketAccess}): one
   * mode (limited to `options.keyPrefix`), or a list of grants, each a mode on its own key prefix, for a function
   * that does different things in different areas of one bucket.
   */
  public bindBucket(
    envName: BucketEnvName,
    bucket: IBucket,
    access: BucketAccess | readonly BucketGrant[],
    options: BindBucketOptions = {},
  ): this {
    let grants: readonly BucketGrant[];
    if (typeof access === 'string') {
      grants = [{ access, ...(options.keyPrefix !== undefined && { keyPrefix: options.keyPrefix }) }];
    } else {
      if (access.length === 0) throw new Error(`RestoreFunction ${this.name}: bindBucket ${envName} without grants`);
      if (options.keyPrefix !== undefined) {
        throw new Error(`RestoreFunction ${this.name}: bindBucket ${envName}: give each grant its own keyPrefix`);
      }
      grants = access;
    }
    this.setEnv(envName, bucket.bucketName);

    const acknowledged = new Set<string>();
    for (const grant of grants) {
      const objects = bucket.arnForObjects(`${grant.keyPrefix ?? ''}*`);
      this.role.addToPrincipalPolicy(
        new PolicyStatement({
          effect: Effect.ALLOW,
          actions: [...BUCKET_OBJECT_ACTIONS[grant.access]],
          resources: [objects],
        }),
      );
      const key = grant.keyPrefix ?? '';
      if (acknowledged.has(key)) continue;
      acknowledged.add(key);
      const modes = grants.filter((g) => (g.keyPrefix ?? '') === key).map((g) => g.access);
      acknowledgeWildcardResource(
        this.role,
        objects,
        'Objects are keyed by snapshot or job id, known only at run time; the grant is limited to the object ' +
          `actions of the ${modes.join(' and ')} mode${modes.length > 1 ? 's' : ''} under ` +
          `${key === '' ? 'any key' : `the ${key} prefix`} of this one bucket.`,
      );
    }

    // Bucket-level actions. A mode that reads objects lists the whole bucket (404 for a missing key); cleaning
    // up only lists the areas it cleans.
    const reads = grants.some((grant) => BUCKET_OBJECT_ACTIONS[grant.access].includes(GET));
    const cleanUps = grants.filter((grant) => grant.access === 'cleanUp');
    if (reads || cleanUps.length > 0) {
      const listedPrefixes = cleanUps.map((grant) => grant.keyPrefix ?? '');
      const limited = !reads && !listedPrefixes.includes('');
      this.role.addToPrincipalPolicy(
        new PolicyStatement({
          effect: Effect.ALLOW,
          actions: ['s3:ListBucket'],
          resources: [bucket.bucketArn],
          ...(limited && {
            conditions: { StringLike: { 's3:prefix': listedPrefixes.map((prefix) => `${prefix}*`) } },
          }),
        }),
      );
    }
    if (grants.some((grant) => grant.access === 'cleanUp' || grant.access === 'assemble')) {
      // ListMultipartUploads (to find an upload to abort) has no prefix condition key: the bucket it is.
      this.role.addToPrincipalPolicy(
        new PolicyStatement({
          effect: Effect.ALLOW,
          actions: ['s3:ListBucketMultipartUploads'],
          resources: [bucket.bucketArn],
        }),
      );
    }
    return this;
  }

  /** Binds the event bus: sets EVENT_BUS_NAME and grants events:PutEvents on that bus only. */
  public bindEventBus(eventBus: IEventBus): this {
    this.setEnv(ENV.eventBusName, eventBus.eventBusName);
    eventBus.grantPutEventsTo(this.function);
    return this;
  }

  /** Binds the HMAC secret: sets SECRET_ARN and grants reading that secret only. */
  public bindSecret(secret: ISecret): this {
    this.setEnv(ENV.secretArn, secret.secretArn);
    secret.grantRead(this.function);
    return this;
  }

  /**
   * Binds a queue the function sends to: sets `envName` to the queue's URL and grants sqs:SendMessage on it, and
   * nothing else (sending needs no GetQueueUrl or GetQueueAttributes; the queue is SSE-SQS, so no KMS grant).
   */
  public bindQueue(envName: QueueEnvName, queue: IQueue): this {
    this.setEnv(envName, queue.queueUrl);
    this.role.addToPrincipalPolicy(
      new PolicyStatement({ effect: Effect.ALLOW, actions: ['sqs:SendMessage'], resources: [queue.queueArn] }),
    );
    return this;
  }

  /**
   * Binds the restore job state machine: sets STATE_MACHINE_ARN and grants states:StartExecution on it; with
   * `stop`, states:StopExecution on its executions instead (and no start).
   */
  public bindStateMachine(stateMachine: IStateMachine, access: 'start' | 'stop' = 'start'): this {
    this.setEnv(ENV.stateMachineArn, stateMachine.stateMachineArn);
    if (access === 'start') {
      stateMachine.grantStartExecution(this.function);
      return this;
    }
    // arn:…:execution:<state machine name>:* (as grantExecution computes it): executions are named after the jobs.
    const executions = Stack.of(this).formatArn({
      service: 'states',
      resource: 'execution',
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      resourceName: `${Arn.split(stateMachine.stateMachineArn, ArnFormat.COLON_RESOURCE_NAME).resourceName}:*`,
    });
    this.role.addToPrincipalPolicy(
      new PolicyStatement({ effect: Effect.ALLOW, actions: ['states:StopExecution'], resources: [executions] }),
    );
    acknowledgeWildcardResource(
      this.role,
      executions,
      "Executions are named after the jobs' ids, known only at run time: StopExecution on this one state " +
        "machine's executions.",
    );
    return this;
  }

  private setEnv(name: string, value: string): void {
    if (this.boundEnvironment.has(name)) {
      throw new Error(`RestoreFunction ${this.name}: ${name} is already bound`);
    }
    this.boundEnvironment.add(name);
    this.function.addEnvironment(name, value);
  }
}
