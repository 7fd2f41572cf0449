import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ApiKey, KeyStore } from '../../use-cases/ports.js';

const apiKeyKey = (publicKey: string) => ({ pk: `APIKEY#${publicKey}`, sk: 'APIKEY' });

/** Programmatic API keys (HA1 only, never the private key) and the nc high-water mark of each Digest nonce. */
export class DynamoKeyStore implements KeyStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async getApiKey(publicKey: string): Promise<ApiKey | undefined> {
    const result = await this.db.send(new GetCommand({ TableName: this.tableName, Key: apiKeyKey(publicKey) }));
    if (result.Item === undefined) return undefined;
    const { pk: _pk, sk: _sk, ...key } = result.Item;
    return key as ApiKey;
  }

  async putApiKey(key: ApiKey): Promise<void> {
    await this.db.send(new PutCommand({ TableName: this.tableName, Item: { ...key, ...apiKeyKey(key.publicKey) } }));
  }

  async recordNonceUse(nonce: string, nc: number, expiresAt: number): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: `NONCE#${nonce}`, sk: 'NONCE' },
          ConditionExpression: 'attribute_not_exists(lastNc) OR lastNc < :nc',
          UpdateExpression: 'SET lastNc = :nc, #ttl = :ttl',
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          // TTL in seconds; DynamoDB deletes used nonces a while after they expire.
          ExpressionAttributeValues: { ':nc': nc, ':ttl': Math.ceil(expiresAt / 1000) + 3600 },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
