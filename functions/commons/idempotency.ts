import { DynamoIdempotentRuns } from '#lib/adapters/dynamodb/idempotency-store.js';
import { ENV, requireEnv } from '#lib/env.js';
import { dynamoDbClient, once } from './deps.js';

/** How long an Idempotency-Key of a restore job create is honoured (README: 24 hours). */
export const IDEMPOTENCY_LIFETIME_SECONDS = 24 * 60 * 60;

/** A module of its own so that only the create function's bundle carries Powertools' Idempotency utility. */
export const idempotentRuns = /* @__PURE__ */ once(
  () =>
    new DynamoIdempotentRuns(dynamoDbClient(), requireEnv(ENV.tableName), {
      name: 'create-restore-job',
      lifetimeSeconds: IDEMPOTENCY_LIFETIME_SECONDS,
    }),
);
