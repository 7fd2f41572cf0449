import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ensureTable, startLocalDynamoDb } from '#local/dynamodb.js';

export interface TestDynamoDb {
  client: DynamoDBClient;
  db: DynamoDBDocumentClient;
  /** Destroys the client, closes the local DynamoDB and removes its data directory. */
  stop(): Promise<void>;
}

/**
 * The local DynamoDB (dynalite, local/dynamodb.ts) in a fresh data directory under the OS's temp directory (named
 * `${name}-…`), with `table` created as the service's table is (ensureTable), and a client and document client for it.
 */
export async function startTestDynamoDb(name: string, table: string): Promise<TestDynamoDb> {
  const dataDir = await mkdtemp(join(tmpdir(), `${name}-`));
  let dynamodb: Awaited<ReturnType<typeof startLocalDynamoDb>> | undefined;
  let client: DynamoDBClient | undefined;
  const stop = async () => {
    client?.destroy();
    await dynamodb?.close();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    dynamodb = await startLocalDynamoDb({ dataDir });
    client = new DynamoDBClient({
      endpoint: dynamodb.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const db = DynamoDBDocumentClient.from(client);
    await ensureTable(client, table);
    return { client, db, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
