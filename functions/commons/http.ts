/**
 * The HTTP edge shared by the API functions: middy with header and event normalizers, Digest
 * authentication and authorization, MongoDB's `pretty` and `envelope` output options, and MongoDB's
 * error body. Registered in that order; the error handler is last so it sees every failure.
 */
import middy from '@middy/core';
import httpEventNormalizer from '@middy/http-event-normalizer';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { ApiError, errors } from '#lib/domain/errors.js';
import type { ApiFamily } from '#lib/domain/job.js';
import { type OutputOptions, parseOutputOptions } from '#lib/domain/query.js';
import { authenticate, authorize, DigestChallenge, type Permission } from '#lib/use-cases/authenticate.js';
import type { ApiKey } from '#lib/use-cases/ports.js';
import { checkGroupId } from '#lib/use-cases/resolve-cluster.js';
import { clock, keyStore, secret } from './deps.js';
import { logger } from './logger.js';

export type HttpEvent = APIGatewayProxyEventV2 & {
  queryStringParameters: Record<string, string | undefined>;
  pathParameters: Record<string, string | undefined>;
};
export type HttpResult = APIGatewayProxyStructuredResultV2;

/** What an API operation gets: the request, who is calling, and how to render for them. */
export interface ApiRequest {
  readonly event: HttpEvent;
  readonly key: ApiKey;
  readonly groupId: string;
  readonly family: ApiFamily;
  /** `scheme://host` as the client called us. */
  readonly baseUrl: string;
  readonly secret: string;
  readonly now: number;
}

/** A single result is enveloped as `{status, content}`; a list gets `status` added to its body. */
export interface ApiResponse {
  readonly statusCode: number;
  readonly body: unknown;
  readonly shape: 'single' | 'list';
}

export function requestBaseUrl(event: APIGatewayProxyEventV2): string {
  const proto = event.headers['x-forwarded-proto']?.split(',')[0]?.trim() || 'https';
  const host = event.headers.host ?? event.requestContext.domainName;
  return `${proto}://${host}`;
}

export function render(
  statusCode: number,
  body: unknown,
  shape: 'single' | 'list',
  output: OutputOptions,
  headers: Record<string, string> = {},
): HttpResult {
  let payload = body;
  if (output.envelope) {
    payload =
      shape === 'list' && typeof body === 'object' && body !== null
        ? { ...body, status: statusCode }
        : { status: statusCode, content: body };
  }
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: output.pretty ? `${JSON.stringify(payload, null, 2)}\n` : JSON.stringify(payload),
  };
}

/** Output options for error responses: never fail while reporting a failure. */
function lenientOutput(event: APIGatewayProxyEventV2): OutputOptions {
  try {
    return parseOutputOptions(event.queryStringParameters ?? {});
  } catch {
    return { pretty: false, envelope: false };
  }
}

export function errorResponse(error: unknown, event: APIGatewayProxyEventV2): HttpResult {
  const output = lenientOutput(event);
  if (error instanceof DigestChallenge) {
    return render(error.statusCode, error.toJSON(), 'single', output, { 'www-authenticate': error.challenge });
  }
  if (error instanceof ApiError) return render(error.statusCode, error.toJSON(), 'single', output);
  // Internal failures are logged with their stack but never described to the caller.
  // The route template, not the path: a download path carries its bearer token.
  logger.error('Unexpected error', { error: error instanceof Error ? error : String(error), route: event.routeKey });
  const unexpected = errors.unexpected();
  return render(unexpected.statusCode, unexpected.toJSON(), 'single', output);
}

const mongoErrors = (): middy.MiddlewareObj<HttpEvent, HttpResult> => ({
  onError: async (request) => {
    request.response = errorResponse(request.error, request.event);
  },
});

/** An API operation behind Digest authentication and the caller's role on the path's group. */
export function apiHandler(permission: Permission, operation: (request: ApiRequest) => Promise<ApiResponse>) {
  return middy<HttpEvent, HttpResult, Error, Context>()
    .use(httpHeaderNormalizer())
    .use(httpEventNormalizer())
    .use(mongoErrors())
    .handler(async (event) => {
      const serviceSecret = await secret().get();
      const requestUri = event.rawQueryString ? `${event.rawPath}?${event.rawQueryString}` : event.rawPath;
      // Authentication comes before anything else: clients only sign after a 401 challenge.
      const key = await authenticate(
        { keys: keyStore(), secret: serviceSecret, clock },
        {
          method: event.requestContext.http.method,
          requestUri,
          sourceIp: event.requestContext.http.sourceIp,
          ...(event.headers.authorization !== undefined && { authorization: event.headers.authorization }),
        },
      );
      const groupId = event.pathParameters.groupId ?? '';
      checkGroupId(groupId);
      authorize(key, groupId, permission);
      const output = parseOutputOptions(event.queryStringParameters);
      const response = await operation({
        event,
        key,
        groupId,
        // From the matched route, not the raw path (which may be percent-encoded or behind a base path).
        family: event.routeKey.includes(' /api/atlas/') ? 'atlas' : 'public',
        baseUrl: requestBaseUrl(event),
        secret: serviceSecret,
        now: clock.now(),
      });
      return render(response.statusCode, response.body, response.shape, output);
    });
}

/** The cluster path segment of the request, whichever family it uses. */
export function clusterSegment(event: HttpEvent): string {
  return event.pathParameters.clusterName ?? event.pathParameters.clusterId ?? '';
}
