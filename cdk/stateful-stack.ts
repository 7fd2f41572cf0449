import { Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY } from 'aws-cdk-lib/cx-api';
import type { Construct } from 'constructs';
import { TABLE } from '../lib/adapters/dynamodb/table.js';
import { MAX_EXPIRATION_HOURS } from '../lib/domain/job.js';

/**
 * The two areas of the restore bucket: built artifacts (lib/use-cases/build-artifact.ts `artifactKey`) and each
 * build's work area, `work/<jobId>/` (plan, layout, oplog counts, range outputs; lib/adapters/s3/artifact-work.ts).
 */
export const RESTORE_BUCKET_PREFIXES = { artifacts: 'restores/', work: 'work/' } as const;

/** How long a build's work area may outlive its build (see the restore bucket's lifecycle rules). */
export const BUILD_WORK_RETENTION = Duration.days(7);

/** Props for {@link StatefulStack}. */
export interface StatefulStackProps extends StackProps {
  /**
   * How long a built restore artifact may stay in the restore bucket. The state machine deletes each artifact
   * when its download link expires; this lifecycle rule is only the backstop for executions that never got there,
   * so it must outlast the longest link (MAX_EXPIRATION_HOURS, 360 days) or a valid link would lead to nothing.
   * @default Duration.days(370)
   */
  readonly restoreArtifactRetention?: Duration;
  /**
   * How long S3 server access logs are kept.
   * @default Duration.days(365)
   */
  readonly accessLogRetention?: Duration;
}

/**
 * Everything that holds data: the single table, the snapshot and restore buckets, the event bus and the HMAC
 * secret. Kept apart from the service stack so the stateless parts can be replaced (or a second stage deployed)
 * without touching data. No physical names are set, so two stages fit in one account.
 */
export class StatefulStack extends Stack {
  /** The single table (key schema from lib/adapters/dynamodb/table.ts). */
  public readonly table: Table;
  /** Where snapshot files live; the fan-out build (artifact-step, build-artifact-range) reads them. */
  public readonly snapshotBucket: Bucket;
  /**
   * Where built restore artifacts (tar.gz, under `restores/`) live until their download link expires, and where
   * builds keep their work area (`work/<jobId>/`) until the artifact is assembled or the job broke.
   */
  public readonly restoreBucket: Bucket;
  /** Receives the restore job lifecycle events (RESTORE_JOB_* state changes). */
  public readonly eventBus: EventBus;
  /** HMAC key for Digest nonces and download delivery tokens. */
  public readonly secret: Secret;
  /** Destination of the other buckets' server access logs. */
  public readonly accessLogsBucket: Bucket;

  constructor(scope: Construct, id: string, props: StatefulStackProps = {}) {
    super(scope, id, props);
    // Deliver server access logs through a bucket policy instead of the LogDeliveryWrite ACL (which would force
    // ACLs back on). Set on this stack, before any child exists, so it holds whatever App builds the stack;
    // cdk.json's context is not read by test Apps.
    this.node.setContext(S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY, true);
    const restoreArtifactRetention = props.restoreArtifactRetention ?? Duration.days(370);
    if (restoreArtifactRetention.toHours() <= MAX_EXPIRATION_HOURS) {
      throw new Error(
        `restoreArtifactRetention must be longer than the longest download link (${MAX_EXPIRATION_HOURS} hours)`,
      );
    }
    const accessLogRetention = props.accessLogRetention ?? Duration.days(365);

    this.table = new Table(this, 'Table', {
      partitionKey: { name: TABLE.partitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE.sortKey, type: AttributeType.STRING },
      timeToLiveAttribute: TABLE.ttlAttribute,
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const index of TABLE.indexes) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: AttributeType.STRING },
        // What each index holds is decided in table.ts (the local stack creates the same): the list index keys
        // and a batch's job ids only, so a list reads ~100 bytes per entry, then its page's items.
        ...(index.projection.type === 'INCLUDE'
          ? { projectionType: ProjectionType.INCLUDE, nonKeyAttributes: [...index.projection.nonKeyAttributes] }
          : { projectionType: ProjectionType[index.projection.type] }),
      });
    }

    this.accessLogsBucket = new Bucket(this, 'AccessLogsBucket', {
      // S3 server access logging cannot deliver to SSE-KMS buckets, so this one is S3-managed.
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      // ACLs disabled: log delivery is granted by a bucket policy (CDK adds it for the source buckets).
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: accessLogRetention }],
    });
    // No AwsSolutions-S1 finding here: cdk-nag recognises a bucket that receives other buckets' access logs.

    this.snapshotBucket = new Bucket(this, 'SnapshotBucket', {
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'snapshot-bucket/',
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{ id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(7) }],
    });

    this.restoreBucket = new Bucket(this, 'RestoreBucket', {
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'restore-bucket/',
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        { id: 'expire-restore-artifacts', expiration: restoreArtifactRetention },
        // artifact-step deletes a build's work area once the artifact is assembled, restore-job-step when the job
        // breaks; this is the backstop for builds that never got to either (an aborted execution, a range output
        // written after its job broke). A week outlasts any build.
        { id: 'expire-build-work', prefix: RESTORE_BUCKET_PREFIXES.work, expiration: BUILD_WORK_RETENTION },
        // Range outputs (lib-storage) and the artifact are multipart uploads; a crashed range build or an aborted
        // assembly must not leave parts billed forever.
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });

    this.eventBus = new EventBus(this, 'EventBus', {
      description: 'Restore job lifecycle events',
    });

    this.secret = new Secret(this, 'HmacSecret', {
      description: 'HMAC key for HTTP Digest nonces and restore artifact delivery tokens',
      generateSecretString: {
        // 64 alphanumeric characters is ~380 bits: well above the 256-bit HMAC-SHA256 block-size guidance.
        passwordLength: 64,
        excludePunctuation: true,
        includeSpace: false,
      },
    });
    Validations.of(this.secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The secret is an HMAC key, not a credential for another system, so there is nothing for a rotation Lambda ' +
        'to rotate against. Replacing it only invalidates outstanding Digest nonces (clients re-challenge) and ' +
        'unexpired download tokens, which is done deliberately by updating the secret value.',
    });
  }
}
