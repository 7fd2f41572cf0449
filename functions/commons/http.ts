/**
 * The HTTP edge shared by the API functions: middy with observability (observability.ts), header and event
 * normalizers, Digest authentication and authorization, MongoDB's `pretty` and `envelope` output options, and
 * MongoDB's error body (responses.ts). Registered in that order; the error handler is last so it sees every failure.
 */
import middy from '@middy/core';
import httpEventNormalizer from '@middy/http-event-normalizer';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { ApiError, errors } from '#lib/domain/errors.js';
import type { ApiFamily } from '#lib/domain/job.js';
import { isObjectId } from '#lib/domain/object-id.js';
import { parseOutputOptions } from '#lib/domain/query.js';
import { authenticate, authFailureReason, authorize, type Permission } from '#lib/use-cases/authenticate.js';
import type { ApiKey } from '#lib/use-cases/ports.js';
import { checkGroupId } from '#lib/use-cases/resolve-cluster.js';
import { publicBaseUrl } from './base-url.js';
import { clock, keyStore, secret } from './deps.js';
import { correlate } from './logger.js';
import { countAuthFailure } from './metrics.js';
import { observability } from './observability.js';
import { errorResponse, type HttpResult, render } from './responses.js';

export { errorResponse, type HttpResult, render } from './responses.js';

export type HttpEvent = APIGatewayProxyEventV2 & {
  queryStringParameters: Record<string, string | undefined>;
  pathParameters: Record<string, string | undefined>;
};

/** What an API operation gets: the request, who is calling, and how to render for them. */
export interface ApiRequest {
  readonly event: HttpEvent;
  readonly key: ApiKey;
  readonly groupId: string;
  readonly family: ApiFamily;
  /** The API's public base URL (configured, or API Gateway's domain): never from the request's headers. */
  readonly baseUrl: string;
  readonly secret: string;
  readonly now: number;
  /** The invocation's Lambda context (its remaining time). */
  readonly context: Context;
}

/** A single result is enveloped as `{status, content}`; a list gets `status` added to its body. */
export interface ApiResponse {
  readonly statusCode: number;
  readonly body: unknown;
  readonly shape: 'single' | 'list';
}

const mongoErrors = (): middy.MiddlewareObj<HttpEvent, HttpResult> => ({
  onError: async (request) => {
    request.response = errorResponse(request.error, request.event);
  },
});

/**
 * The largest body an API operation takes: a create request is a few hundred bytes, so 64 KiB leaves room for
 * pretty-printed JSON and refuses anything else before it is parsed. (API Gateway itself refuses bodies over
 * 10 MB with an answer of its own, which cannot be reshaped: docs/architecture.md.)
 */
export const MAX_REQUEST_BODY_BYTES = 64 * 1024;

function bodyBytes(event: APIGatewayProxyEventV2): number {
  if (event.body === undefined) return 0;
  return Buffer.byteLength(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
}

/** Counts `error` in the AuthFailures metric if it is a refusal by authentication or authorization. */
function countIfAuthFailure(error: unknown): void {
  const reason = authFailureReason(error);
  if (reason !== undefined) countAuthFailure(reason);
}

/** {@link authorize}, counting a refusal (the create request's target group is authorized this way too). */
export function authorizeCounted(key: ApiKey, groupId: string, permission: Permission): void {
  try {
    authorize(key, groupId, permission);
  } catch (error) {
    countIfAuthFailure(error);
    throw error;
  }
}

/**
 * Correlates the invocation's log lines with the job the path names (get, cancel, download). Only an ObjectId is
 * taken: the path is the caller's to fill, and anything else names no job.
 */
export function correlatePathJob(event: { pathParameters?: Record<string, string | undefined> }): void {
  const jobId = event.pathParameters?.jobId;
  if (jobId !== undefined && isObjectId(jobId)) correlate({ jobId });
}

/**
 * A function API Gateway invokes with an HTTP request (the API operations, the download URL): observability,
 * normalized headers and event, the job the path names in the log, MongoDB's error body for whatever `handle` throws.
 */
export function httpEndpoint(handle: (event: HttpEvent, context: Context) => Promise<HttpResult>) {
  return middy<HttpEvent, HttpResult, Error, Context>()
    .use(observability())
    .use(httpHeaderNormalizer())
    .use(httpEventNormalizer())
    .use(mongoErrors())
    .handler(async (event, context) => {
      correlatePathJob(event);
      try {
        return await handle(event, context);
      } catch (error) {
        // MongoDB's error answers (a 401 challenge, a 404, a 409) are answers, not failures of the function: they
        // are rendered here, so that traces and the error path see only what went wrong (mongoErrors: a 500).
        if (error instanceof ApiError) return errorResponse(error, event);
        throw error;
      }
    });
}

/** An API operation behind Digest authentication and the caller's role on the path's group. */
export function apiHandler(permission: Permission, operation: (request: ApiRequest) => Promise<ApiResponse>) {
  return httpEndpoint((event, context) => answer(permission, operation, event, context));
}

async function answer(
  permission: Permission,
  operation: (request: ApiRequest) => Promise<ApiResponse>,
  event: HttpEvent,
  context: Context,
): Promise<HttpResult> {
  // Before authentication, as API Gateway's own limit is: the size is no secret, and no key is read for it.
  if (bodyBytes(event) > MAX_REQUEST_BODY_BYTES) throw errors.requestEntityTooLarge(MAX_REQUEST_BODY_BYTES);
  const serviceSecret = await secret().get();
  const requestUri = event.rawQueryString ? `${event.rawPath}?${event.rawQueryString}` : event.rawPath;
  // Authentication comes before anything that reads the request: clients only sign after a 401 challenge.
  const key = await authenticate(
    { keys: keyStore(), secret: serviceSecret, clock },
    {
      method: event.requestContext.http.method,
      requestUri,
      sourceIp: event.requestContext.http.sourceIp,
      ...(event.headers.authorization !== undefined && { authorization: event.headers.authorization }),
    },
  ).catch((error: unknown) => {
    countIfAuthFailure(error);
    throw error;
  });
  const groupId = event.pathParameters.groupId ?? '';
  checkGroupId(groupId);
  authorizeCounted(key, groupId, permission);
  const output = parseOutputOptions(event.queryStringParameters);
  const response = await operation({
    event,
    key,
    groupId,
    // From the matched route, not the raw path (which may be percent-encoded or behind a base path).
    family: event.routeKey.includes(' /api/atlas/') ? 'atlas' : 'public',
    baseUrl: publicBaseUrl(event),
    secret: serviceSecret,
    now: clock.now(),
    context,
  });
  return render(response.statusCode, response.body, response.shape, output);
}

/** The cluster path segment of the request, whichever family it uses. */
export function clusterSegment(event: HttpEvent): string {
  return event.pathParameters.clusterName ?? event.pathParameters.clusterId ?? '';
}
