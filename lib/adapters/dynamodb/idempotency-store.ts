import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  IdempotencyValidationError,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { Context } from 'aws-lambda';
import type { IdempotentOutcome, IdempotentRuns } from '../../use-cases/create-restore-job.js';
import { IDEMPOTENCY_KEY_PREFIX, TABLE } from './table.js';

/**
 * Powertools' DynamoDB persistence, in our table. Powertools keys a record by `keyAttr` alone, or, for a table with
 * a sort key, by one static partition key (`staticPkValue`) with the record's key as sort key: every record of the
 * service would share one partition and its ~1,000 writes a second. Overriding `getKey` (the one place the layer
 * builds keys: get, put, update and delete all use it) spreads records over partitions like every other item here:
 * `IDEMPOTENCY#<prefix>#<hash>` / `IDEMPOTENCY`. Its other attributes are Powertools' own, except the expiry, which
 * is the table's TTL attribute, so DynamoDB removes records after their 24 hours (Powertools writes epoch seconds,
 * the TTL format). The version is pinned exactly and test/integration/idempotency.test.ts reads the records.
 */
class TablePersistenceLayer extends DynamoDBPersistenceLayer {
  protected override getKey(idempotencyKey: string): Record<string, AttributeValue> {
    return marshall({
      [TABLE.partitionKey]: `${IDEMPOTENCY_KEY_PREFIX}${idempotencyKey}`,
      [TABLE.sortKey]: 'IDEMPOTENCY',
    });
  }
}

export interface IdempotencyStoreOptions {
  /** Part of every record's key; fixed (Powertools' default is the function's name, which a redeploy may change). */
  readonly name: string;
  /** How long a completed run is replayed. */
  readonly lifetimeSeconds: number;
}

/**
 * {@link IdempotentRuns} with Powertools' Idempotency utility (`makeIdempotent` around the work): the scope is hashed
 * (SHA-256) into the record's key, the payload into its validation hash; the record holds the work's result. The
 * conditional PutItem that claims a scope (attribute_not_exists, or expired, or an in-progress claim whose
 * invocation's time ran out) makes two concurrent runs of one scope impossible; a failed run deletes its record.
 */
export class DynamoIdempotentRuns implements IdempotentRuns {
  private readonly persistence: TablePersistenceLayer;

  constructor(
    client: DynamoDBClient,
    tableName: string,
    private readonly options: IdempotencyStoreOptions,
  ) {
    this.persistence = new TablePersistenceLayer({
      tableName,
      awsSdkV3Client: client,
      keyAttr: TABLE.partitionKey,
      expiryAttr: TABLE.ttlAttribute,
    });
  }

  async run<T extends Record<string, unknown>>(
    request: {
      readonly scope: Readonly<Record<string, string>>;
      readonly payload: unknown;
      readonly remainingTimeMs: () => number;
    },
    work: () => Promise<T>,
  ): Promise<IdempotentOutcome<T>> {
    // A config per run: Powertools reads the invocation's remaining time from the config's Lambda context, and the
    // local stack runs several invocations in one process. The persistence layer is configured by the first only
    // (the settings are the same every time).
    const config = new IdempotencyConfig({
      eventKeyJmesPath: 'scope',
      payloadValidationJmesPath: 'payload',
      throwOnNoIdempotencyKey: true,
      expiresAfterSeconds: this.options.lifetimeSeconds,
      hashFunction: 'sha256',
      lambdaContext: { getRemainingTimeInMillis: request.remainingTimeMs } as Context,
    });
    let ran = false;
    const once = makeIdempotent(
      async (_input: { scope: Readonly<Record<string, string>>; payload: unknown }) => {
        ran = true;
        return work();
      },
      { persistenceStore: this.persistence, config, keyPrefix: this.options.name },
    );
    try {
      const value = (await once({ scope: request.scope, payload: request.payload })) as T;
      return { kind: ran ? 'ran' : 'replayed', value };
    } catch (error) {
      if (error instanceof IdempotencyValidationError) return { kind: 'payloadMismatch' };
      if (error instanceof IdempotencyAlreadyInProgressError) return { kind: 'inProgress' };
      throw error;
    }
  }
}
