/**
 * The API's public base URL, which the service stores on a job and renders into links, events and delivery URLs.
 * Never taken from Host or X-Forwarded-*: a client sets those, and a job's delivery URL (and the automated
 * restore event that carries it) would then point wherever the client liked.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { ENV } from '#lib/env.js';

/**
 * `scheme://host[:port]`, no trailing slash: the configured PUBLIC_BASE_URL when set (a custom domain on AWS, the
 * embedded stack's own address locally), else `https://` and the domain API Gateway received the request on
 * (`requestContext.domainName`, set by API Gateway: the execute-api domain or a custom domain of this API).
 */
export function publicBaseUrl(event: APIGatewayProxyEventV2, configured = configuredBaseUrl()): string {
  if (configured !== undefined) return configured;
  return `https://${event.requestContext.domainName}`;
}

/**
 * Read per call rather than once: a Lambda's environment never changes, but the embedded stack may restart on
 * another port in the same process.
 */
function configuredBaseUrl(): string | undefined {
  const value = process.env[ENV.publicBaseUrl];
  return value === undefined || value === '' ? undefined : parseBaseUrl(value, ENV.publicBaseUrl);
}

/**
 * An origin (`http(s)://host[:port]`): a path, query or fragment would not survive being joined with the API's
 * paths, so they are refused rather than dropped. A wrong value is a deployment error and throws.
 */
export function parseBaseUrl(value: string, name: string, protocols: readonly string[] = ['https:', 'http:']): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${name} must be an absolute URL, got ${JSON.stringify(value)}`);
  }
  if (!protocols.includes(url.protocol) || url.pathname !== '/' || url.search !== '' || url.hash !== '') {
    throw new Error(
      `${name} must be ${protocols.map((p) => `${p}//`).join(' or ')}host[:port] with no path, got ${JSON.stringify(value)}`,
    );
  }
  if (url.username !== '' || url.password !== '') throw new Error(`${name} must not carry credentials`);
  return url.origin;
}
