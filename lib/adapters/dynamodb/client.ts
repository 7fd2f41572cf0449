import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { CONTROL_PLANE_CLIENT, type InstrumentClient, uninstrumented } from '../client-config.js';

/** One DynamoDB client per process; endpoints come from the SDK's own configuration (AWS_ENDPOINT_URL_DYNAMODB locally). */
export function createDynamoDbClient(instrument: InstrumentClient = uninstrumented): DynamoDBClient {
  return instrument(new DynamoDBClient(CONTROL_PLANE_CLIENT));
}

/** A document client over `client` (its middleware stack is the client's: an instrumented client stays so). */
export function createDocumentClient(client: DynamoDBClient = createDynamoDbClient()): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
  });
}
