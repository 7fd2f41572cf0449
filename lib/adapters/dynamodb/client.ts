import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { CONTROL_PLANE_CLIENT } from '../client-config.js';

/** One document client per process; endpoints come from the SDK's own configuration (AWS_ENDPOINT_URL_DYNAMODB locally). */
export function createDocumentClient(
  client: DynamoDBClient = new DynamoDBClient(CONTROL_PLANE_CLIENT),
): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
  });
}
