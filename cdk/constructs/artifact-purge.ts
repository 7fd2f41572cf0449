import { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../../lib/env.js';
import { FailureQueue } from './failure-queue.js';
import { RestoreFunction } from './restore-function.js';

/** Props for {@link ArtifactPurge}. */
export interface ArtifactPurgeProps {
  /** The single table: the purge reads the job (GetItem). */
  readonly table: ITable;
  /** The restore bucket: the purge deletes artifacts under `artifactsPrefix` and touches nothing else. */
  readonly restoreBucket: IBucket;
  /** Key prefix of built artifacts in the restore bucket (`restores/`). */
  readonly artifactsPrefix: string;
  /** The functions that ask for purges (download-restore-artifact, restore-job-step): they may send to the queue. */
  readonly senders: readonly RestoreFunction[];
  /**
   * Retention of the purge function's log group.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
}

/** How often SQS hands a failing purge to the function before it moves it to the dead-letter queue. */
const MAX_RECEIVE_COUNT = 5;
const PURGE_TIMEOUT = Duration.seconds(30);

/**
 * Deletes artifacts whose downloads are used up (lib/use-cases/purge-restore-artifact.ts). The last allowed
 * download (or the hash chain, if it ends later) sends `{jobId}` to a queue, delayed past the lifetime of the
 * presigned URL that download was redirected to (lib/adapters/sqs.ts); purge-restore-artifact reads the job and
 * deletes the artifact. A message that keeps failing ends in a dead-letter queue whose alarm reaches the alarm
 * topic; the expiry step of the job's execution deletes the artifact in any case.
 */
export class ArtifactPurge extends Construct {
  /** The delayed purge requests. */
  public readonly queue: Queue;
  /** Purges that failed `MAX_RECEIVE_COUNT` times. */
  public readonly failures: FailureQueue;
  /** purge-restore-artifact. */
  public readonly function: RestoreFunction;

  constructor(scope: Construct, id: string, props: ArtifactPurgeProps) {
    super(scope, id);
    this.function = new RestoreFunction(this, 'Function', {
      name: 'purge-restore-artifact',
      timeout: PURGE_TIMEOUT,
      ...(props.logRetention !== undefined && { logRetention: props.logRetention }),
    })
      .bindTable(props.table, 'read')
      .bindBucket(ENV.restoreBucket, props.restoreBucket, 'delete', { keyPrefix: props.artifactsPrefix });

    this.failures = new FailureQueue(this, 'Failures', {
      alarmDescription:
        'An artifact purge failed 5 times (purge-restore-artifact); the message holds the job id. The artifact ' +
        'stays until its link expires. See the function log for the error, then re-drive the message to the ' +
        'purge queue (SQS "start DLQ redrive") or delete it (docs/architecture.md, Delivery).',
    });
    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // Lambda's advice for an SQS event source: at least six times the function's timeout.
      visibilityTimeout: Duration.seconds(6 * PURGE_TIMEOUT.toSeconds()),
      deadLetterQueue: { queue: this.failures.queue, maxReceiveCount: MAX_RECEIVE_COUNT },
    });
    // Failed messages of a batch are retried alone (batchItemFailures), not with the ones that worked.
    this.function.function.addEventSource(
      new SqsEventSource(this.queue, { batchSize: 10, reportBatchItemFailures: true }),
    );
    for (const sender of props.senders) sender.bindQueue(ENV.artifactPurgeQueueUrl, this.queue);
  }
}
