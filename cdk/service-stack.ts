import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ArnFormat, CfnOutput, Duration, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  HttpApi,
  HttpMethod,
  HttpStage,
  LogGroupLogDestination,
  PayloadFormatVersion,
  type ThrottleSettings,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { type IEventBus, Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Bucket, EventType, type IBucket } from 'aws-cdk-lib/aws-s3';
import { LambdaDestination } from 'aws-cdk-lib/aws-s3-notifications';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { DEFAULT_CROSS_STACK_REFERENCES } from 'aws-cdk-lib/cx-api';
import type { Construct } from 'constructs';
import { parseBaseUrl } from '../functions/commons/base-url.js';
import { type ApiHandlerName, DEFAULT_ROUTE_HANDLER, routes } from '../functions/routes.js';
import { IDEMPOTENCY_KEY_PREFIX } from '../lib/adapters/dynamodb/table.js';
import { MANIFEST_PREFIX, MANIFEST_SUFFIX } from '../lib/domain/manifest.js';
import { ENV } from '../lib/env.js';
import { AlarmTopic } from './constructs/alarm-topic.js';
import { ArtifactPurge } from './constructs/artifact-purge.js';
import { FailureQueue } from './constructs/failure-queue.js';
import { OperationsDashboard } from './constructs/operations-dashboard.js';
import { PROJECT_ROOT, RestoreFunction, type RestoreFunctionName } from './constructs/restore-function.js';
import { acknowledgeWildcardResource } from './nag.js';
import { RESTORE_BUCKET_PREFIXES } from './stateful-stack.js';

/** Logical id of CDK's singleton Custom::S3BucketNotifications handler (aws-s3 notifications-resource-handler). */
const BUCKET_NOTIFICATIONS_HANDLER_ID = 'BucketNotificationsHandler050a0587b7544547bf325f094a3db834';

/** Path of the one state machine definition (shared with the local stack). */
export const STATE_MACHINE_DEFINITION = join(PROJECT_ROOT, 'lib', 'state-machine', 'restore-job.asl.json');

/** Props for {@link ServiceStack}: the stateful resources it runs against, plus tuning knobs. */
export interface ServiceStackProps extends StackProps {
  /** The single table. */
  readonly table: ITable;
  /** Bucket holding snapshot files (read by the fan-out build: artifact-step and build-artifact-range). */
  readonly snapshotBucket: IBucket;
  /** Bucket holding built restore artifacts (`restores/`) and the builds' work areas (`work/`). */
  readonly restoreBucket: IBucket;
  /** Bus receiving restore job lifecycle events. */
  readonly eventBus: IEventBus;
  /** HMAC key for Digest nonces and delivery tokens. */
  readonly secret: ISecret;
  /**
   * Throttling of the API's default stage (applies to every route).
   * @default { rateLimit: 50, burstLimit: 100 }
   */
  readonly apiThrottle?: ThrottleSettings;
  /**
   * The API's public base URL, `https://host` (a custom domain mapped at its root): delivery URLs, links and
   * events are built on it. Never taken from request headers, which clients control.
   * @default - `https://` and the domain API Gateway received the request on (the execute-api domain)
   */
  readonly publicBaseUrl?: string;
  /**
   * Retention of the function, state machine and API access log groups.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
}

/**
 * The stateless service: one function per module of functions/, the restore job state machine and the HTTP API
 * whose routes come from functions/routes.ts. Everything it stores lives in the stateful stack passed in as props.
 */
export class ServiceStack extends Stack {
  /** Every function, by handler module name. */
  public readonly functions: Readonly<Record<RestoreFunctionName, RestoreFunction>>;
  /** The restore job state machine. */
  public readonly stateMachine: StateMachine;
  /** Alarms on failed, throttled and timed-out executions (their action: {@link alarmTopic}). */
  public readonly stateMachineAlarms: readonly Alarm[];
  /** The topic every alarm of this stack notifies (output `AlarmTopicArn`): what operators subscribe to. */
  public readonly alarmTopic: AlarmTopic;
  /** ingest-manifest's on-failure destination: S3 notifications that failed every retry (docs/ingest.md). */
  public readonly ingestFailures: FailureQueue;
  /** Deletes artifacts whose downloads are used up, once the last presigned URL handed out has expired. */
  public readonly artifactPurge: ArtifactPurge;
  /** The HTTP API. */
  public readonly api: HttpApi;
  /** The API's `$default` stage (throttled, access-logged). */
  public readonly apiStage: HttpStage;
  /** The CloudWatch dashboard (output `OperationsDashboardName`) and the alarms on the service's own metrics. */
  public readonly operations: OperationsDashboard;

  constructor(scope: Construct, id: string, props: ServiceStackProps) {
    super(scope, id, props);
    // References to the stateful stack are CloudFormation exports/imports ("strong"): the stateful stack cannot
    // drop an output this stack still uses. Stated here, where the references are consumed, rather than left to a
    // default that CDK warns may change.
    this.node.setContext(DEFAULT_CROSS_STACK_REFERENCES, 'strong');
    const logRetention = props.logRetention ?? RetentionDays.ONE_MONTH;
    const { table, snapshotBucket, restoreBucket, eventBus, secret } = props;
    // The functions that render URLs (through functions/commons/http.ts) get the configured base, if any.
    const urlEnvironment: Record<string, string> =
      props.publicBaseUrl === undefined
        ? {}
        : { [ENV.publicBaseUrl]: parseBaseUrl(props.publicBaseUrl, 'publicBaseUrl', ['https:']) };

    // Digest-authenticated API functions read the API key (table), verify the nonce's HMAC (secret) and record
    // the nonce's nc against replays (one UpdateItem on a NONCE# item; see bindTable's recordDigestNonces).
    const listRestoreJobs = new RestoreFunction(this, 'ListRestoreJobs', {
      name: 'list-restore-jobs',
      logRetention,
      environment: urlEnvironment,
    })
      .bindTable(table, 'read', { recordDigestNonces: true })
      .bindSecret(secret);
    const getRestoreJob = new RestoreFunction(this, 'GetRestoreJob', {
      name: 'get-restore-job',
      logRetention,
      environment: urlEnvironment,
    })
      .bindTable(table, 'read', { recordDigestNonces: true })
      .bindSecret(secret);
    const listSnapshots = new RestoreFunction(this, 'ListSnapshots', {
      name: 'list-snapshots',
      logRetention,
      environment: urlEnvironment,
    })
      .bindTable(table, 'read', { recordDigestNonces: true })
      .bindSecret(secret);
    const getSnapshot = new RestoreFunction(this, 'GetSnapshot', {
      name: 'get-snapshot',
      logRetention,
      environment: urlEnvironment,
    })
      .bindTable(table, 'read', { recordDigestNonces: true })
      .bindSecret(secret);
    // Checkpoints of sharded clusters (read only, like the snapshot reads).
    const listCheckpoints = new RestoreFunction(this, 'ListCheckpoints', {
      name: 'list-checkpoints',
      logRetention,
      environment: urlEnvironment,
    })
      .bindTable(table, 'read', { recordDigestNonces: true })
      .bindSecret(secret);
    const getCheckpoint = new RestoreFunction(this, 'GetCheckpoint', {
      name: 'get-checkpoint',
      logRetention,
      environment: urlEnvironment,
    })
      .bindTable(table, 'read', { recordDigestNonces: true })
      .bindSecret(secret);
    // The backup side's manifests (docs/ingest.md): reads manifests/* only, registers them in the table.
    const ingestManifest = new RestoreFunction(this, 'IngestManifest', {
      name: 'ingest-manifest',
      logRetention,
      // A manifest may name a file list of up to 1,000,000 lines, streamed and checked line by line (names kept
      // in a Set for uniqueness): measured ~6 s and ~200 MB on one core here; 1 GB and a minute leave room.
      memorySize: 1024,
      timeout: Duration.minutes(1),
    })
      // COUNT#SNAPSHOTS#, COUNT#CHECKPOINTS#: a new snapshot or checkpoint adds to its cluster's count
      // (lib/adapters/dynamodb/list-counts.ts).
      .bindTable(table, 'readWrite', {
        writableKeyPrefixes: ['GROUP#', 'SNAPSHOT#', 'OPLOG#', 'CHECKPOINT#', 'COUNT#SNAPSHOTS#', 'COUNT#CHECKPOINTS#'],
      })
      .bindBucket(ENV.snapshotBucket, snapshotBucket, 'read', { keyPrefix: MANIFEST_PREFIX });
    this.addManifestNotification(snapshotBucket, ingestManifest);
    // S3 invokes it asynchronously: Lambda retries a failed invocation twice, then sends the S3 event with the
    // error to this queue instead of dropping it (a rejected manifest does not fail: it is logged, not retried).
    this.ingestFailures = new FailureQueue(this, 'IngestFailures', {
      alarmDescription:
        'A manifest notification failed ingest-manifest and its retries; the message holds the S3 event and the ' +
        'error. Fix the cause, then re-drive it (docs/ingest.md, "When ingestion fails").',
    });
    this.ingestFailures.receiveFailuresOf(ingestManifest.function, { retryAttempts: 2 });

    // The delivery URL (bearer token, no Digest): counts the download with a conditional write, presigns a GET of
    // the artifact, and publishes the status change when the last allowed download used the link up.
    const downloadRestoreArtifact = new RestoreFunction(this, 'DownloadRestoreArtifact', {
      name: 'download-restore-artifact',
      logRetention,
    })
      .bindTable(table, 'readWrite', { writableKeyPrefixes: ['JOB#'] })
      .bindBucket(ENV.restoreBucket, restoreBucket, 'read')
      .bindEventBus(eventBus)
      .bindSecret(secret);

    // State machine tasks.
    const { artifacts: artifactsPrefix, work: workPrefix } = RESTORE_BUCKET_PREFIXES;
    const restoreJobStep = new RestoreFunction(this, 'RestoreJobStep', { name: 'restore-job-step', logRetention })
      .bindTable(table, 'readWrite', { writableKeyPrefixes: ['JOB#'] })
      .bindEventBus(eventBus)
      // `expire` deletes the artifact; `fail` aborts the artifact's multipart upload and deletes the job's work
      // area (both found by listing). The step never reads or writes object contents.
      .bindBucket(ENV.restoreBucket, restoreBucket, [
        { access: 'cleanUp', keyPrefix: artifactsPrefix },
        { access: 'cleanUp', keyPrefix: workPrefix },
      ])
      .bindSecret(secret);

    // Used-up artifacts are deleted, not kept until the link expires: the last download (or the hash chain, if it
    // ends later) asks for a purge delayed past the last presigned URL's lifetime (cdk/constructs/artifact-purge.ts).
    this.artifactPurge = new ArtifactPurge(this, 'ArtifactPurge', {
      table,
      restoreBucket,
      artifactsPrefix,
      senders: [downloadRestoreArtifact, restoreJobStep],
      logRetention,
    });

    // The fan-out build (lib/use-cases/build-artifact.ts). artifact-step runs the control steps (prepare, count,
    // plan, verify, complete, hash): it reads the catalog and snapshot files, keeps the build's state in its work
    // area, assembles the artifact's multipart upload from the range outputs and hashes the result.
    const artifactStep = new RestoreFunction(this, 'ArtifactStep', {
      name: 'artifact-step',
      logRetention,
      // Its heavy steps hash (SHA-256 of split files, SHA-1 of the artifact), which is single-threaded: 1769 MB is
      // where Lambda allots one full vCPU.
      memorySize: 1769,
      // The state machine gives its tasks TimeoutSeconds 900; chained steps hand on after ~10 minutes.
      timeout: Duration.minutes(15),
    })
      // Build progress on the job (UpdateItem on JOB# items); catalog items are only read.
      .bindTable(table, 'readUpdate', { writableKeyPrefixes: ['JOB#'] })
      .bindBucket(ENV.snapshotBucket, snapshotBucket, 'read')
      .bindBucket(ENV.restoreBucket, restoreBucket, [
        // work/<jobId>/: plan, layout and oplog counts written, read back, listed and deleted; the range outputs
        // are also UploadPartCopy's sources, which takes GetObject on them.
        { access: 'readWriteDelete', keyPrefix: workPrefix },
        // restores/…: the artifact's multipart upload (one a lost execution left is found and aborted first;
        // parts copied or uploaded, listed, completed), then HeadObject and ranged reads of it for its SHA-1.
        { access: 'assemble', keyPrefix: artifactsPrefix },
      ]);

    // One Map iteration per range: ranged reads of the snapshot files, tar, gzip on every vCPU, into the range's
    // own object under work/<jobId>/ranges/.
    const buildArtifactRange = new RestoreFunction(this, 'BuildArtifactRange', {
      name: 'build-artifact-range',
      logRetention,
      // Lambda's maximum: 10,240 MB comes with 6 vCPUs, and gzip is CPU bound.
      memorySize: 10_240,
      timeout: Duration.minutes(15),
      environment: {
        // zlib's async gzip runs on libuv's threadpool, 4 threads by default, which would leave 2 of the 6 vCPUs
        // idle (PLATFORM.md: 6 cores, default pool 5.7 s, 8 threads 4.5 s). The pool starts before any handler
        // code runs, so only the function's environment can size it: ParallelGzip runs vCPUs + 1 jobs (one queued
        // so no core waits on the main thread), plus room for fs and DNS work: vCPUs + 3.
        UV_THREADPOOL_SIZE: '9',
      },
    })
      // Counts its range into the job's progress (UpdateItem on JOB# items) and publishes a progress event each
      // time the build crosses another tenth.
      .bindTable(table, 'readUpdate', { writableKeyPrefixes: ['JOB#'] })
      .bindEventBus(eventBus)
      .bindBucket(ENV.snapshotBucket, snapshotBucket, 'read')
      // Reads plan.json and layout.ndjson, writes its output (lib-storage: multipart, aborted on failure). It may
      // delete range outputs only: one written after its job broke (and after the failure's clean-up) is removed by
      // its own worker. Everything else in work/ is cleaned by artifact-step, restore-job-step and the expiry rule.
      .bindBucket(ENV.restoreBucket, restoreBucket, [
        { access: 'readWrite', keyPrefix: workPrefix },
        { access: 'delete', keyPrefix: `${workPrefix}*/ranges/` },
      ]);

    this.stateMachine = this.createStateMachine(
      { restoreJobStep, artifactStep, buildArtifactRange },
      table,
      logRetention,
    );
    this.stateMachineAlarms = this.createStateMachineAlarms(this.stateMachine);

    // create-restore-job starts executions; it is not referenced by the definition, so no dependency cycle.
    const createRestoreJob = new RestoreFunction(this, 'CreateRestoreJob', {
      name: 'create-restore-job',
      logRetention,
      environment: urlEnvironment,
    })
      // COUNT#JOBS#: a new job or batch adds to its cluster's job count (lib/adapters/dynamodb/list-counts.ts).
      // IDEMPOTENCY#: Idempotency-Key records (Powertools), deleted again when the create they guard failed.
      .bindTable(table, 'readWrite', {
        writableKeyPrefixes: ['JOB#', 'BATCH#', 'COUNT#JOBS#', IDEMPOTENCY_KEY_PREFIX],
        deletableKeyPrefixes: [IDEMPOTENCY_KEY_PREFIX],
        recordDigestNonces: true,
      })
      .bindStateMachine(this.stateMachine)
      .bindSecret(secret);

    // DELETE of a job (lib/use-cases/cancel-restore-job.ts): kills a running job or revokes a READY link with
    // conditional updates of JOB# items (it reads BATCH# items for a sharded batch), stops the job's execution,
    // cleans the build up as the fail step does (aborts the artifact's upload, deletes the work area and any
    // artifact: no object read or written), and publishes the status change.
    const cancelRestoreJob = new RestoreFunction(this, 'CancelRestoreJob', {
      name: 'cancel-restore-job',
      logRetention,
      environment: urlEnvironment,
    })
      .bindTable(table, 'readUpdate', { writableKeyPrefixes: ['JOB#'], recordDigestNonces: true })
      .bindEventBus(eventBus)
      .bindBucket(ENV.restoreBucket, restoreBucket, [
        { access: 'cleanUp', keyPrefix: artifactsPrefix },
        { access: 'cleanUp', keyPrefix: workPrefix },
      ])
      .bindStateMachine(this.stateMachine, 'stop')
      .bindSecret(secret);

    // The sweeper (lib/use-cases/redrive-unfinished-jobs.ts): a job with no execution (its create request died
    // between writing it and starting it) is started; one whose execution ended without ending it, or that the
    // state machine's last-resort write broke, gets the fail step that MarkBroken runs, hence the same bindings
    // as restore-job-step. It stops starting on jobs 25 s before its timeout; the rest wait for the next run.
    const redriveUnfinishedJobs = new RestoreFunction(this, 'RedriveUnfinishedJobs', {
      name: 'redrive-unfinished-jobs',
      logRetention,
      timeout: Duration.seconds(90),
    })
      .bindTable(table, 'readUpdate', { writableKeyPrefixes: ['JOB#'] })
      .bindEventBus(eventBus)
      .bindBucket(ENV.restoreBucket, restoreBucket, [
        { access: 'cleanUp', keyPrefix: artifactsPrefix },
        { access: 'cleanUp', keyPrefix: workPrefix },
      ])
      .bindSecret(secret)
      .bindStateMachine(this.stateMachine);
    // Whether a job's execution (named after the job) runs, ended, or never was: DescribeExecution on this state
    // machine's executions (their ARNs cannot be narrower: an execution's name is the job's id).
    const executions = Stack.of(this).formatArn({
      service: 'states',
      resource: 'execution',
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      resourceName: `${this.stateMachine.stateMachineName}:*`,
    });
    redriveUnfinishedJobs.function.addToRolePolicy(
      new PolicyStatement({ effect: Effect.ALLOW, actions: ['states:DescribeExecution'], resources: [executions] }),
    );
    acknowledgeWildcardResource(
      redriveUnfinishedJobs,
      executions,
      "The sweeper describes the execution of any job; executions are named after the jobs' ids, so the ARN of " +
        "this one state machine's executions ends in a wildcard (DescribeExecution only).",
    );
    new Rule(this, 'RedriveUnfinishedJobsSchedule', {
      schedule: Schedule.rate(Duration.minutes(5)),
      targets: [new LambdaFunction(redriveUnfinishedJobs.function)],
    });

    // The $default route: MongoDB's 404/405 for any request no route matches, from functions/routes.ts alone. No
    // bindings: it reads no table, no secret and no key (it authenticates nobody).
    const defaultRoute = new RestoreFunction(this, 'DefaultRoute', { name: DEFAULT_ROUTE_HANDLER, logRetention });
    // GET /api/openapi.json: the OpenAPI document, bundled into the function (docs/openapi.json). No bindings either:
    // it is public and reads nothing.
    const getOpenApi = new RestoreFunction(this, 'GetOpenApi', { name: 'get-openapi', logRetention });

    this.functions = {
      'list-restore-jobs': listRestoreJobs,
      'get-restore-job': getRestoreJob,
      'create-restore-job': createRestoreJob,
      'cancel-restore-job': cancelRestoreJob,
      'download-restore-artifact': downloadRestoreArtifact,
      'restore-job-step': restoreJobStep,
      'artifact-step': artifactStep,
      'build-artifact-range': buildArtifactRange,
      'list-snapshots': listSnapshots,
      'get-snapshot': getSnapshot,
      'list-checkpoints': listCheckpoints,
      'get-checkpoint': getCheckpoint,
      'ingest-manifest': ingestManifest,
      'purge-restore-artifact': this.artifactPurge.function,
      'redrive-unfinished-jobs': redriveUnfinishedJobs,
      'default-route': defaultRoute,
      'get-openapi': getOpenApi,
    };

    const { api, stage } = this.createApi(
      {
        'list-restore-jobs': listRestoreJobs,
        'get-restore-job': getRestoreJob,
        'create-restore-job': createRestoreJob,
        'cancel-restore-job': cancelRestoreJob,
        'download-restore-artifact': downloadRestoreArtifact,
        'list-snapshots': listSnapshots,
        'get-snapshot': getSnapshot,
        'list-checkpoints': listCheckpoints,
        'get-checkpoint': getCheckpoint,
        'get-openapi': getOpenApi,
      },
      defaultRoute,
      props.apiThrottle ?? { rateLimit: 50, burstLimit: 100 },
      logRetention,
    );
    this.api = api;
    this.apiStage = stage;
    this.operations = new OperationsDashboard(this, 'Operations', {
      functions: this.functions,
      stateMachine: this.stateMachine,
      api,
      alarms: [...this.stateMachineAlarms, this.ingestFailures.alarm, this.artifactPurge.failures.alarm],
    });

    new CfnOutput(this, 'ApiUrl', { value: stage.url, description: 'Base URL of the restore jobs API' });
    new CfnOutput(this, 'TableName', { value: table.tableName });
    new CfnOutput(this, 'SnapshotBucketName', { value: snapshotBucket.bucketName });
    new CfnOutput(this, 'RestoreBucketName', { value: restoreBucket.bucketName });
    new CfnOutput(this, 'EventBusName', { value: eventBus.eventBusName });
    new CfnOutput(this, 'StateMachineArn', { value: this.stateMachine.stateMachineArn });
    new CfnOutput(this, 'OperationsDashboardName', {
      value: this.operations.dashboard.dashboardName,
      description: 'CloudWatch dashboard of the service: jobs, builds, downloads, auth failures, executions, API',
    });

    // Created last, but it reaches every alarm of the stack, whenever it was added (AlarmTopic's aspect).
    this.alarmTopic = new AlarmTopic(this, 'Alarms');
    new CfnOutput(this, 'AlarmTopicArn', {
      value: this.alarmTopic.topic.topicArn,
      description: 'SNS topic every alarm of the service notifies: subscribe operators to it',
    });
    new CfnOutput(this, 'IngestFailureQueueUrl', {
      value: this.ingestFailures.queue.queueUrl,
      description: 'Manifest notifications that failed ingest-manifest and its retries (docs/ingest.md)',
    });
    new CfnOutput(this, 'ArtifactPurgeFailureQueueUrl', {
      value: this.artifactPurge.failures.queue.queueUrl,
      description: 'Purges of used-up artifacts that failed 5 times (docs/architecture.md, Delivery)',
    });
  }

  /**
   * S3 invokes ingest-manifest for every object created under manifests/ ending in .json. The bucket is imported
   * here rather than used as is: a notification on the stateful stack's own Bucket would put the configuration
   * in that stack, referencing this stack's function (a cycle between the two stacks). On an imported bucket CDK
   * manages the configuration with a custom resource in this stack instead, and leaves notifications it did not
   * create alone.
   */
  private addManifestNotification(snapshotBucket: IBucket, ingestManifest: RestoreFunction): void {
    const bucket = Bucket.fromBucketAttributes(this, 'ManifestBucket', {
      bucketArn: snapshotBucket.bucketArn,
      bucketName: snapshotBucket.bucketName,
    });
    bucket.addEventNotification(EventType.OBJECT_CREATED, new LambdaDestination(ingestManifest.function), {
      prefix: MANIFEST_PREFIX,
      suffix: MANIFEST_SUFFIX,
    });
    // CDK's singleton handler of Custom::S3BucketNotifications (inline code, created by the call above). It always
    // attaches AWSLambdaBasicExecutionRole, even to a role passed in; its only other grant is
    // s3:PutBucketNotification on the snapshot bucket.
    const handler = this.node.tryFindChild(BUCKET_NOTIFICATIONS_HANDLER_ID);
    if (handler === undefined) throw new Error(`CDK no longer creates ${BUCKET_NOTIFICATIONS_HANDLER_ID}`);
    Validations.of(handler).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason:
        "CDK's bucket notifications handler attaches this managed policy itself (even to a given role); it only " +
        'runs during deployments to configure the snapshot bucket notification.',
    });
  }

  private createStateMachine(
    tasks: {
      readonly restoreJobStep: RestoreFunction;
      readonly artifactStep: RestoreFunction;
      readonly buildArtifactRange: RestoreFunction;
    },
    table: ITable,
    logRetention: RetentionDays,
  ): StateMachine {
    const definition = readFileSync(STATE_MACHINE_DEFINITION, 'utf8');
    const definitionSubstitutions: Record<string, string> = {
      TableName: table.tableName,
      RestoreJobStepFunctionArn: tasks.restoreJobStep.function.functionArn,
      ArtifactStepFunctionArn: tasks.artifactStep.function.functionArn,
      BuildArtifactRangeFunctionArn: tasks.buildArtifactRange.function.functionArn,
    };
    // Step Functions accepts a definition with an unreplaced `${…}` and only fails the task at run time.
    const placeholders = new Set([...definition.matchAll(/\$\{([^}]+)\}/g)].map((match) => match[1]));
    const unknown = [...placeholders].filter((name) => name === undefined || !(name in definitionSubstitutions));
    const unused = Object.keys(definitionSubstitutions).filter((name) => !placeholders.has(name));
    if (unknown.length > 0 || unused.length > 0) {
      throw new Error(
        `${STATE_MACHINE_DEFINITION}: placeholders without a substitution [${unknown.join(', ')}], ` +
          `substitutions without a placeholder [${unused.join(', ')}]`,
      );
    }

    const logGroup = new LogGroup(this, 'StateMachineLogs', { retention: logRetention });
    const stateMachine = new StateMachine(this, 'RestoreJobStateMachine', {
      definitionBody: DefinitionBody.fromString(definition),
      definitionSubstitutions,
      stateMachineType: StateMachineType.STANDARD,
      // Execution data is job ids, artifact metadata and error causes: no secrets, and needed to debug a BROKEN job.
      logs: { destination: logGroup, level: LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
      comment: 'Drives one restore job (see lib/state-machine/restore-job.asl.json)',
    });
    // Neither DefinitionBody method grants anything (PLATFORM.md). The definition calls the unqualified ARNs,
    // so invoking exactly these three functions (no `:*` versions/aliases) is enough.
    stateMachine.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['lambda:InvokeFunction'],
        resources: [
          tasks.restoreJobStep.function.functionArn,
          tasks.artifactStep.function.functionArn,
          tasks.buildArtifactRange.function.functionArn,
        ],
      }),
    );
    // RecordBrokenDirectly, the last resort when the fail step's Lambda cannot run: one UpdateItem of a JOB# item.
    stateMachine.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['dynamodb:UpdateItem'],
        resources: [table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['JOB#*'] } },
      }),
    );
    // Both are added by the StateMachine construct itself (logs and tracingEnabled) and are unscoped by AWS design.
    Validations.of(stateMachine.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Step Functions log delivery (logs:CreateLogDelivery, PutResourcePolicy, DescribeLogGroups, …) and X-Ray ' +
        '(xray:PutTraceSegments, GetSamplingRules, …) do not support resource-level permissions.',
    });
    return stateMachine;
  }

  /** The aws-solutions-constructs habit (step-function-helper): page on failed, throttled and timed-out runs
   * (aborted ones are cancels). */
  private createStateMachineAlarms(stateMachine: StateMachine): Alarm[] {
    const period = Duration.minutes(5);
    const common = {
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      // No executions in a period is healthy, not unknown.
      treatMissingData: TreatMissingData.NOT_BREACHING,
    };
    return [
      new Alarm(this, 'ExecutionsFailedAlarm', {
        ...common,
        metric: stateMachine.metricFailed({ statistic: 'Sum', period }),
        alarmDescription: 'A restore job execution failed (the job is BROKEN, or marking it BROKEN failed).',
      }),
      new Alarm(this, 'ExecutionsThrottledAlarm', {
        ...common,
        metric: stateMachine.metricThrottled({ statistic: 'Sum', period }),
        alarmDescription: 'Restore job executions were throttled by Step Functions.',
      }),
      // Not aborted executions: a user's cancel (DELETE …/restoreJobs/{id}) stops its job's execution, and an
      // execution aborted any other way is the sweeper's (its job ends BROKEN within 5 minutes).
      new Alarm(this, 'ExecutionsTimedOutAlarm', {
        ...common,
        metric: stateMachine.metricTimedOut({ statistic: 'Sum', period }),
        alarmDescription: 'A restore job execution timed out; the sweeper ends its job BROKEN.',
      }),
    ];
  }

  private createApi(
    handlers: Readonly<Record<ApiHandlerName, RestoreFunction>>,
    defaultRoute: RestoreFunction,
    throttle: ThrottleSettings,
    logRetention: RetentionDays,
  ): { api: HttpApi; stage: HttpStage } {
    const api = new HttpApi(this, 'HttpApi', {
      description: 'MongoDB backup restore jobs API (Atlas v1.0 and Ops Manager v1.0 restoreJobs)',
      // The stage is created below with throttling and access logging, which the implicit one cannot take.
      createDefaultStage: false,
      // The `$default` route: without it API Gateway answers unrouted requests `{"message":"Not Found"}`, a body
      // MongoDB's clients cannot decode.
      defaultIntegration: new HttpLambdaIntegration(`${DEFAULT_ROUTE_HANDLER}-integration`, defaultRoute.function, {
        payloadFormatVersion: PayloadFormatVersion.VERSION_2_0,
      }),
    });
    Validations.of(api).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'Authentication is HTTP Digest (RFC 7616) as MongoDB clients expect, done inside the functions: an API ' +
        'Gateway authorizer can only deny with 401/403 and cannot answer 401 with the WWW-Authenticate challenge ' +
        '(nonce, realm, qop) the Digest handshake needs. Download links authenticate by their HMAC delivery token.',
    });

    const accessLogs = new LogGroup(this, 'ApiAccessLogs', { retention: logRetention });
    const stage = new HttpStage(this, 'ApiDefaultStage', {
      httpApi: api,
      stageName: '$default',
      autoDeploy: true,
      throttle,
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        // routeKey, not path: download paths carry the delivery token, which must not land in logs.
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            requestTime: '$context.requestTime',
            sourceIp: '$context.identity.sourceIp',
            userAgent: '$context.identity.userAgent',
            routeKey: '$context.routeKey',
            status: '$context.status',
            protocol: '$context.protocol',
            responseLength: '$context.responseLength',
            responseLatency: '$context.responseLatency',
            integrationLatency: '$context.integrationLatency',
            integrationStatus: '$context.integrationStatus',
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
    });

    const integrations = new Map<ApiHandlerName, HttpLambdaIntegration>();
    for (const route of routes) {
      let integration = integrations.get(route.handler);
      if (integration === undefined) {
        integration = new HttpLambdaIntegration(`${route.handler}-integration`, handlers[route.handler].function, {
          payloadFormatVersion: PayloadFormatVersion.VERSION_2_0,
        });
        integrations.set(route.handler, integration);
      }
      api.addRoutes({ path: route.path, methods: [HttpMethod[route.method]], integration });
    }
    return { api, stage };
  }
}
