import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, ListBucketsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { hasCurrentIndexes } from '../../local/table-migration.js';

let dataDir: string;
let stack: LocalStack | undefined;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'local-stack-'));
  stack = await startLocalStack({ dataDir, port: 0 });
});

afterAll(async () => {
  await stack?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('startLocalStack', () => {
  it('points SDK clients configured only by the environment at the local services', async () => {
    expect(process.env.TABLE_NAME).toBe('restore-jobs');
    expect(process.env.AWS_ENDPOINT_URL_S3).toBe(stack?.endpoints.s3);

    const { Table } = await new DynamoDBClient({}).send(
      new DescribeTableCommand({ TableName: process.env.TABLE_NAME }),
    );
    // The indexes CDK deploys, projections included (lib/adapters/dynamodb/table.ts).
    expect(Table !== undefined && hasCurrentIndexes(Table)).toBe(true);
    expect(Table?.GlobalSecondaryIndexes?.map((i) => i.IndexName).sort()).toEqual(['gsi1', 'gsi2', 'list']);

    const s3 = new S3Client({ forcePathStyle: process.env.S3_FORCE_PATH_STYLE === 'true' });
    const { Buckets } = await s3.send(new ListBucketsCommand({}));
    expect(Buckets?.map((b) => b.Name).sort()).toEqual(
      [process.env.RESTORE_BUCKET, process.env.SNAPSHOT_BUCKET].sort(),
    );
    // The checksum settings come from the environment too: the object is stored without framing.
    await s3.send(new PutObjectCommand({ Bucket: process.env.RESTORE_BUCKET, Key: 'k', Body: 'hello' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: process.env.RESTORE_BUCKET, Key: 'k' }));
    expect(await got.Body?.transformToString()).toBe('hello');

    const secret = await new SecretsManagerClient({}).send(
      new GetSecretValueCommand({ SecretId: process.env.SECRET_ARN }),
    );
    expect(secret.SecretString).toMatch(/^[A-Za-z0-9_-]{43}$/);

    await expect(
      new SFNClient({}).send(new DescribeExecutionCommand({ executionArn: `${process.env.STATE_MACHINE_ARN}:nope` })),
    ).rejects.toMatchObject({ name: 'ExecutionDoesNotExist' });
  });

  it('serves the API at baseUrl, and tells the functions that is their public base URL', async () => {
    const res = await fetch(`${stack?.baseUrl}/nowhere`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 404, errorCode: 'RESOURCE_NOT_FOUND' });
    expect(process.env.PUBLIC_BASE_URL).toBe(stack?.baseUrl);
    expect(stack?.env.PUBLIC_BASE_URL).toBe(stack?.baseUrl);
  });

  it('refuses a second stack on the same data directory, and restarts on it after stop', async () => {
    await expect(startLocalStack({ dataDir, port: 0 })).rejects.toThrow(/already open in this process/);
    await stack?.stop();
    stack = await startLocalStack({ dataDir, port: 0 });
    const got = await new S3Client({ forcePathStyle: true }).send(
      new GetObjectCommand({ Bucket: process.env.RESTORE_BUCKET, Key: 'k' }),
    );
    expect(await got.Body?.transformToString()).toBe('hello');
  });
});
