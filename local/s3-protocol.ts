import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';

/** What S3 answers for a refused request: the HTTP status, its error code and the XML body's fields. */
export interface S3ErrorInfo {
  status: number;
  code: string;
  message: string;
  /** Further elements of the `<Error>` body, in order (S3 adds e.g. `<UploadId>`, `<ProposedSize>`). */
  extra?: Record<string, string>;
}

/** An S3 error thrown by an operation of the local front; the request handler turns it into the XML reply. */
export class S3Error extends Error implements S3ErrorInfo {
  readonly status: number;
  readonly code: string;
  readonly extra?: Record<string, string>;
  constructor(status: number, code: string, message: string, extra?: Record<string, string>) {
    super(message);
    this.name = code;
    this.status = status;
    this.code = code;
    if (extra !== undefined) this.extra = extra;
  }
}

export const internalError = (): S3ErrorInfo => ({
  status: 500,
  code: 'InternalError',
  message: 'We encountered an internal error. Please try again.',
});

export type Query = Record<string, string | string[] | null>;

/**
 * Splits a raw query string into decoded keys and values. Unlike URLSearchParams, `+` stays a plus:
 * SigV4 encodes spaces as %20, and a literal `+` must survive to be re-encoded as %2B.
 */
export function parseQuery(raw: string): Query {
  const query: Query = {};
  if (raw === '') return query;
  for (const pair of raw.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = safeDecode(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : safeDecode(pair.slice(eq + 1));
    const existing = query[key];
    if (existing === undefined || existing === null) query[key] = value;
    else query[key] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return query;
}

/** The first value of a query parameter, or undefined. */
export function queryValue(query: Query, name: string): string | undefined {
  const value = query[name];
  if (Array.isArray(value)) return value[0];
  return value ?? undefined;
}

export function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** A header's value (repeated headers joined as SigV4 and Node do), or undefined. */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

export function escapeXml(value: string): string {
  return value.replace(/[<>&'"]/g, (c) => XML_ENTITIES[c] ?? c);
}
const XML_ENTITIES: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' };

export function unescapeXml(value: string): string {
  return value.replace(/&(lt|gt|amp|apos|quot|#\d+|#x[0-9a-fA-F]+);/g, (_, entity: string) => {
    if (entity.startsWith('#x')) return String.fromCodePoint(Number.parseInt(entity.slice(2), 16));
    if (entity.startsWith('#')) return String.fromCodePoint(Number.parseInt(entity.slice(1), 10));
    return { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' }[entity] ?? '';
  });
}

/** `<Name>escaped</Name>`; an undefined value leaves the element out. */
export function xmlElement(name: string, value: string | number | boolean | undefined): string {
  return value === undefined ? '' : `<${name}>${escapeXml(String(value))}</${name}>`;
}

export const S3_XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';

export function newRequestId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}

export function sendXml(res: ServerResponse, status: number, xml: string, headers: Record<string, string> = {}): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n${xml}`;
  res.writeHead(status, {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(body),
    'x-amz-request-id': newRequestId(),
    ...headers,
  });
  res.end(body);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-length': 0, 'x-amz-request-id': newRequestId(), ...headers });
  res.end();
}

/** A request body up to this long is read and discarded before an error reply, so the connection can be reused. */
const DRAIN_LIMIT_BYTES = 8 * 1024 * 1024;
/** A client that stops sending its body gets the error reply (and a closed connection) after this long. */
const DRAIN_TIMEOUT_MS = 5_000;

/**
 * Replies with S3's XML error body. A request body not read yet is drained first (up to a limit) so the
 * client gets to read the reply instead of a reset connection; a larger body (declared or sent) is not
 * waited for: S3 too answers such a request early and closes the connection.
 */
export function sendError(req: IncomingMessage, res: ServerResponse, failure: S3ErrorInfo): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const requestId = newRequestId();
  const fields = { Code: failure.code, Message: failure.message, ...failure.extra, RequestId: requestId };
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error>${Object.entries(fields)
    .map(([name, value]) => xmlElement(name, value))
    .join('')}</Error>`;
  let timer: NodeJS.Timeout | undefined;
  const reply = (close: boolean) => {
    clearTimeout(timer);
    if (res.headersSent || res.destroyed) return;
    res.writeHead(failure.status, {
      'content-type': 'application/xml',
      'content-length': Buffer.byteLength(body),
      'x-amz-request-id': requestId,
      ...(close ? { connection: 'close' } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  if (req.complete || req.readableEnded || req.destroyed) {
    reply(false);
    return;
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > DRAIN_LIMIT_BYTES) {
    reply(true);
    return;
  }
  let drained = 0;
  const onData = (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > DRAIN_LIMIT_BYTES) {
      req.off('data', onData);
      req.pause();
      reply(true);
    }
  };
  req.on('data', onData);
  req.once('end', () => reply(false));
  req.once('close', () => reply(true));
  timer = setTimeout(() => reply(true), DRAIN_TIMEOUT_MS);
  timer.unref();
  req.resume();
}
