import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import document from '../docs/openapi.json' with { type: 'json' };
import { observed } from './commons/observability.js';
import type { HttpResult } from './commons/responses.js';

// The committed document, bundled (test/lib/openapi/document.test.ts fails when it is stale), in the file's own
// form: generating it here would bundle zod and zod-openapi into the function and redo the work on every cold start.
const body = `${JSON.stringify(document, null, 2)}\n`;

/**
 * GET /api/openapi.json: the API's OpenAPI 3.1 document (docs/openapi.json), unauthenticated and with no data access,
 * like the `$default` route's function. It describes the API, not any group's data, so it is public.
 */
export const handler = observed(
  async (_event: APIGatewayProxyEventV2): Promise<HttpResult> => ({
    statusCode: 200,
    headers: { 'content-type': 'application/json', 'cache-control': 'public, max-age=300' },
    body,
  }),
);
