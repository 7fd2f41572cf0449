/**
 * The composition root for the Lambda functions: adapters are created on first use, once per process
 * (cold start), from the environment the CDK stack (or the local stack) sets. A function that never
 * uses an adapter never needs its variables.
 */

import { DynamoCatalogStore } from '#lib/adapters/dynamodb/catalog-store.js';
import { createDocumentClient } from '#lib/adapters/dynamodb/client.js';
import { DynamoJobStore } from '#lib/adapters/dynamodb/job-store.js';
import { DynamoKeyStore } from '#lib/adapters/dynamodb/key-store.js';
import { createEventBridgeClient, EventBridgePublisher } from '#lib/adapters/events.js';
import { createS3Client } from '#lib/adapters/s3/client.js';
import { S3RestoreArtifacts } from '#lib/adapters/s3/restore-artifacts.js';
import { createSecretsManagerClient, SecretsManagerSecret } from '#lib/adapters/secrets.js';
import { createSfnClient, StepFunctionsWorkflow } from '#lib/adapters/sfn.js';
import { ENV, requireEnv } from '#lib/env.js';
import { systemClock } from '#lib/use-cases/ports.js';

function once<T>(create: () => T): () => T {
  let value: T | undefined;
  return () => {
    value ??= create();
    return value;
  };
}

const documentClient = once(() => createDocumentClient());
const tableName = once(() => requireEnv(ENV.tableName));

export const jobStore = once(() => new DynamoJobStore(documentClient(), tableName()));
export const catalogStore = once(() => new DynamoCatalogStore(documentClient(), tableName()));
export const keyStore = once(() => new DynamoKeyStore(documentClient(), tableName()));
export const secret = once(() => new SecretsManagerSecret(createSecretsManagerClient(), requireEnv(ENV.secretArn)));
export const workflow = once(() => new StepFunctionsWorkflow(createSfnClient(), requireEnv(ENV.stateMachineArn)));
export const events = once(() => new EventBridgePublisher(createEventBridgeClient(), requireEnv(ENV.eventBusName)));
// The download function only presigns, so it is deployed without SNAPSHOT_BUCKET; write() requires it.
export const restoreArtifacts = once(
  () =>
    new S3RestoreArtifacts(createS3Client({ forcePathStyle: process.env[ENV.s3ForcePathStyle] === 'true' }), {
      restores: requireEnv(ENV.restoreBucket),
      snapshots: () => requireEnv(ENV.snapshotBucket),
    }),
);
export const clock = systemClock;
