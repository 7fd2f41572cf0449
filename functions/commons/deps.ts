/**
 * The composition root for the Lambda functions: adapters are created on first use, once per process
 * (cold start), from the environment the CDK stack (or the local stack) sets. A function that never
 * uses an adapter never needs its variables. What every function needs (the table, the secret) is
 * here; S3, Step Functions and EventBridge have modules of their own so that a function's bundle
 * carries only the SDK clients it uses.
 */

import { DynamoCatalogStore } from '#lib/adapters/dynamodb/catalog-store.js';
import { createDocumentClient, createDynamoDbClient } from '#lib/adapters/dynamodb/client.js';
import { DynamoJobStore } from '#lib/adapters/dynamodb/job-store.js';
import { DynamoKeyStore } from '#lib/adapters/dynamodb/key-store.js';
import { createSecretsManagerClient, SecretsManagerSecret } from '#lib/adapters/secrets.js';
import { ENV, requireEnv } from '#lib/env.js';
import { systemClock } from '#lib/use-cases/ports.js';
import { instrumentClient } from './tracer.js';

export function once<T>(create: () => T): () => T {
  let value: T | undefined;
  return () => {
    value ??= create();
    return value;
  };
}

/** The process's DynamoDB client (traced): the stores' document client and the idempotency records share it. */
export const dynamoDbClient = /* @__PURE__ */ once(() => createDynamoDbClient(instrumentClient));
const documentClient = /* @__PURE__ */ once(() => createDocumentClient(dynamoDbClient()));
const tableName = /* @__PURE__ */ once(() => requireEnv(ENV.tableName));

export const jobStore = /* @__PURE__ */ once(() => new DynamoJobStore(documentClient(), tableName()));
export const catalogStore = /* @__PURE__ */ once(() => new DynamoCatalogStore(documentClient(), tableName()));
export const keyStore = /* @__PURE__ */ once(() => new DynamoKeyStore(documentClient(), tableName()));
export const secret = /* @__PURE__ */ once(
  () => new SecretsManagerSecret(createSecretsManagerClient(instrumentClient), requireEnv(ENV.secretArn)),
);
export const clock = systemClock;
