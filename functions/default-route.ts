import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { errors } from '#lib/domain/errors.js';
import { observed } from './commons/observability.js';
import { errorResponse, type HttpResult } from './commons/responses.js';
import { routeMatcher } from './routes.js';

const matchRoute = routeMatcher();

/**
 * The HTTP API's `$default` route: every request no route matches (an unknown path, or a method a path does not
 * take) gets MongoDB's error body instead of API Gateway's `{"message":"Not Found"}`, which MongoDB's clients
 * cannot decode. It answers from the route table alone: no authentication and no data (its role has no table or
 * secret access), so a 404 or 405 says only that no route exists, never whether a group or job does; API
 * Gateway answers an unrouted request before any authorizer just the same.
 */
export const handler = observed(async (event: APIGatewayProxyEventV2): Promise<HttpResult> => {
  const { method } = event.requestContext.http;
  const match = matchRoute(method, event.rawPath);
  switch (match.kind) {
    case 'notFound':
      return errorResponse(errors.resourceNotFound(event.rawPath), event);
    case 'methodNotAllowed':
      return errorResponse(errors.methodNotAllowed(method, event.rawPath), event, { allow: match.allow.join(', ') });
    case 'route':
      // API Gateway sends a routed request to its route's function; reaching here means the deployed routes and
      // the table disagree. A logged 500, not a 404 that would hide it.
      return errorResponse(new Error(`$default received routed request ${match.routeKey}`), event);
  }
});
