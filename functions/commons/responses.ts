/**
 * Rendering answers, MongoDB's error body included. Apart from http.ts (authentication) so that a function that
 * authenticates nobody (the `$default` route's) renders errors without carrying the key store or the secret.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { ApiError, errors } from '#lib/domain/errors.js';
import { type OutputOptions, parseOutputOptions } from '#lib/domain/query.js';
import { DigestChallenge } from '#lib/use-cases/authenticate.js';
import { logger } from './logger.js';

export type HttpResult = APIGatewayProxyStructuredResultV2;

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

export function errorResponse(
  error: unknown,
  event: APIGatewayProxyEventV2,
  headers: Record<string, string> = {},
): HttpResult {
  const output = lenientOutput(event);
  if (error instanceof DigestChallenge) {
    return render(error.statusCode, error.toJSON(), 'single', output, {
      ...headers,
      'www-authenticate': error.challenge,
    });
  }
  if (error instanceof ApiError) return render(error.statusCode, error.toJSON(), 'single', output, headers);
  // Internal failures are logged with their stack but never described to the caller.
  // The route template, not the path: a download path carries its bearer token.
  logger.error('Unexpected error', { error: error instanceof Error ? error : String(error), route: event.routeKey });
  const unexpected = errors.unexpected();
  return render(unexpected.statusCode, unexpected.toJSON(), 'single', output);
}
