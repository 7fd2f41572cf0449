import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { DEFAULT_ROUTE_HANDLER, type RouteDefinition, routeMatcher } from '../functions/routes.js';
import { errors } from '../lib/domain/errors.js';
import { closeServer, listen, urlFor } from './http-util.js';
import {
  createHandlerLoader,
  type HandlerLoader,
  type InvocationObserver,
  jsonRoundTrip,
  LOCAL_ACCOUNT_ID,
  lambdaContext,
} from './lambda.js';

const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface ApiGatewayOptions {
  /** 0 picks an ephemeral port. */
  port: number;
  /** Default 127.0.0.1 (use '::' for every interface, IPv4 and IPv6). */
  host?: string;
  /** Handlers are loaded from `<projectRoot>/functions/<handler>.ts`. */
  projectRoot?: string;
  routes?: readonly RouteDefinition[];
  /** Replaces the module loader (tests). */
  loadHandler?: HandlerLoader;
  /** Told every function invocation's duration (the default loader's; bench/metering.ts). */
  observeInvocation?: InvocationObserver;
  /** Default API Gateway's 10 MB; larger bodies get 413 (MongoDB's body here; API Gateway's own on AWS). */
  maxBodyBytes?: number;
  /** HTTP APIs give up on an integration after 30 s (503); the function's own timeout is shorter. */
  integrationTimeoutMs?: number;
}

export interface ApiGateway {
  url: string;
  port: number;
  close(): Promise<void>;
}

const API_ID = 'local';
/** HTTP APIs' payload limit ("10 MB" in API Gateway's quotas). */
const DEFAULT_MAX_BODY = 10 * 1024 * 1024;

/**
 * An HTTP API ($default stage) in front of the API functions: each request matched against the
 * route table becomes a payload format 2.0 event, and the function's result becomes the response,
 * both by API Gateway's rules. A request no route matches goes to the `$default` route's function,
 * as on AWS (cdk/service-stack.ts).
 */
export async function startApiGateway(opts: ApiGatewayOptions): Promise<ApiGateway> {
  const host = opts.host ?? '127.0.0.1';
  const matchRoute = routeMatcher(opts.routes);
  const loadHandler =
    opts.loadHandler ??
    createHandlerLoader(join(opts.projectRoot ?? PROJECT_ROOT, 'functions'), opts.observeInvocation);
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const integrationTimeoutMs = opts.integrationTimeoutMs ?? 30_000;
  /** Set once the server listens. */
  let domainName = 'localhost';

  const server = createServer((req, res) => {
    const requestId = randomBytes(10).toString('base64').replace(/=+$/, '');
    res.setHeader('apigw-requestid', requestId);
    handle(req, res, requestId).catch((err: unknown) => {
      console.error('local API Gateway: request failed', err);
      if (!res.headersSent) sendJson(res, 500, { message: 'Internal Server Error' });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    const rawUrl = req.url ?? '/';
    const queryStart = rawUrl.indexOf('?');
    const rawPath = queryStart === -1 ? rawUrl : rawUrl.slice(0, queryStart);
    const rawQueryString = queryStart === -1 ? '' : rawUrl.slice(queryStart + 1);
    const declared = Number(req.headers['content-length'] ?? 0);
    const body = declared > maxBodyBytes ? undefined : await readBody(req, maxBodyBytes);
    if (body === undefined) {
      // Stop reading: closing the connection is the only way not to receive the rest. API Gateway's own answer
      // here is `{"message":"Request Entity Too Large"}`, which cannot be reshaped; locally it is MongoDB's body.
      res.setHeader('connection', 'close');
      sendJson(res, 413, errors.requestEntityTooLarge(maxBodyBytes).toJSON());
      return;
    }
    const match = matchRoute(req.method ?? 'GET', rawPath);
    const routed = match.kind === 'route';
    const handlerName = routed ? match.route.handler : DEFAULT_ROUTE_HANDLER;
    const event = toEvent(req, {
      requestId,
      rawPath,
      rawQueryString,
      domainName,
      routeKey: routed ? match.routeKey : '$default',
      pathParameters: routed ? match.params : {},
      body,
    });
    const handler = await loadHandler(handlerName);
    const context = lambdaContext(handlerName, integrationTimeoutMs);
    let result: unknown;
    let timer: NodeJS.Timeout | undefined;
    try {
      const outcome = await Promise.race([
        handler(jsonRoundTrip(event), context).then((value) => ({ value })),
        new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), integrationTimeoutMs);
        }),
      ]);
      if (outcome === 'timeout') {
        sendJson(res, 503, { message: 'Service Unavailable' });
        return;
      }
      result = jsonRoundTrip(outcome.value);
    } catch (err) {
      // Lambda reports the error to API Gateway, which hides it from the client.
      console.error(`local API Gateway: ${handlerName} failed`, err);
      sendJson(res, 500, { message: 'Internal Server Error' });
      return;
    } finally {
      clearTimeout(timer);
    }
    writeResult(res, result, handlerName);
  }

  const { port } = await listen(server, opts.port, host);
  const url = urlFor(host === '::' || host === '0.0.0.0' ? '127.0.0.1' : host, port);
  // API Gateway's domainName is the domain it serves the API on, whatever Host a client sends.
  domainName = new URL(url).host;
  return {
    url,
    port,
    close: () => closeServer(server),
  };
}

// ---------------------------------------------------------------------------------------------
// Request → event

function toEvent(
  req: IncomingMessage,
  r: {
    requestId: string;
    rawPath: string;
    rawQueryString: string;
    domainName: string;
    routeKey: string;
    pathParameters: Record<string, string>;
    body: Buffer;
  },
): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] ?? '').toLowerCase();
    const value = raw[i + 1] ?? '';
    if (name === 'cookie') {
      // Payload 2.0 moves cookies out of the headers into `cookies`.
      cookies.push(
        ...value
          .split(';')
          .map((c) => c.trim())
          .filter((c) => c !== ''),
      );
      continue;
    }
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  const sourceIp = (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
  // Headers API Gateway adds for the integration.
  headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${sourceIp}` : sourceIp;
  headers['x-forwarded-proto'] = 'http';
  headers['x-forwarded-port'] = String(req.socket.localPort ?? '');
  headers['x-amzn-trace-id'] ??=
    `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;

  const queryStringParameters = parseQuery(r.rawQueryString);
  const now = new Date();
  const { domainName } = r;
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey: r.routeKey,
    rawPath: r.rawPath,
    rawQueryString: r.rawQueryString,
    headers,
    requestContext: {
      accountId: LOCAL_ACCOUNT_ID,
      apiId: API_ID,
      domainName,
      domainPrefix: domainName.split('.')[0] ?? domainName,
      http: {
        method: req.method ?? 'GET',
        path: r.rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: r.requestId,
      routeKey: r.routeKey,
      stage: '$default',
      time: clfTime(now),
      timeEpoch: now.getTime(),
    },
    isBase64Encoded: false,
  };
  // Like API Gateway, optional members are absent (not empty) when the request has none.
  if (cookies.length > 0) event.cookies = cookies;
  if (queryStringParameters) event.queryStringParameters = queryStringParameters;
  if (Object.keys(r.pathParameters).length > 0) event.pathParameters = r.pathParameters;
  if (r.body.length > 0) {
    const text = isTextContentType(headers['content-type']);
    event.body = r.body.toString(text ? 'utf8' : 'base64');
    event.isBase64Encoded = !text;
  }
  return event;
}

/** Decoded values; a repeated key's values are joined with commas (payload 2.0). */
function parseQuery(raw: string): Record<string, string> | undefined {
  if (raw === '') return undefined;
  const params: Record<string, string> = {};
  for (const pair of raw.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = safeDecode(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : safeDecode(pair.slice(eq + 1));
    params[key] = params[key] === undefined ? value : `${params[key]},${value}`;
  }
  return Object.keys(params).length > 0 ? params : undefined;
}

/**
 * Bodies with these types reach the function as text; anything else (including no type, and
 * form posts) arrives base64-encoded, as HTTP APIs do.
 */
function isTextContentType(contentType: string | undefined): boolean {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return (
    type.startsWith('text/') ||
    type === 'application/json' ||
    type.endsWith('+json') ||
    type === 'application/xml' ||
    type.endsWith('+xml') ||
    type === 'application/javascript'
  );
}

/** `12/Mar/2020:19:03:58 +0000` */
function clfTime(date: Date): string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`;
}

// ---------------------------------------------------------------------------------------------
// Result → response

/**
 * Payload 2.0 response rules: an object with a statusCode is a full response; any other valid
 * result is a 200 application/json response whose body is the result (a string as is, anything
 * else as JSON). A malformed full response is API Gateway's 500.
 */
function writeResult(res: ServerResponse, result: unknown, handlerName: string): void {
  if (!isObject(result) || !('statusCode' in result)) {
    const body = typeof result === 'string' ? result : result === null ? '' : JSON.stringify(result);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  const { statusCode, headers, multiValueHeaders, cookies, body, isBase64Encoded } = result;
  const valid =
    typeof statusCode === 'number' &&
    Number.isInteger(statusCode) &&
    statusCode >= 100 &&
    statusCode <= 599 &&
    (headers === undefined || isObject(headers)) &&
    (multiValueHeaders === undefined || isObject(multiValueHeaders)) &&
    (cookies === undefined || (Array.isArray(cookies) && cookies.every((c) => typeof c === 'string'))) &&
    (body === undefined || body === null || typeof body === 'string');
  if (!valid) {
    console.error(`local API Gateway: ${handlerName} returned a malformed response`, result);
    sendJson(res, 500, { message: 'Internal Server Error' });
    return;
  }
  const out = new Map<string, string[]>();
  const add = (name: string, value: unknown) => {
    // Hop-by-hop and length headers are API Gateway's, not the function's.
    const lower = name.toLowerCase();
    if (
      ['content-length', 'transfer-encoding', 'connection'].includes(lower) ||
      value === null ||
      value === undefined
    ) {
      return;
    }
    out.set(lower, [...(out.get(lower) ?? []), String(value)]);
  };
  for (const [name, values] of Object.entries(multiValueHeaders ?? {})) {
    for (const value of Array.isArray(values) ? values : [values]) add(name, value);
  }
  for (const [name, value] of Object.entries(headers ?? {})) {
    out.delete(name.toLowerCase());
    add(name, value);
  }
  for (const cookie of (cookies as string[] | undefined) ?? []) add('set-cookie', cookie);
  const payload =
    typeof body === 'string' ? Buffer.from(body, isBase64Encoded === true ? 'base64' : 'utf8') : Buffer.alloc(0);
  for (const [name, values] of out)
    res.setHeader(name, values.length === 1 && name !== 'set-cookie' ? (values[0] ?? '') : values);
  res.setHeader('content-length', payload.length);
  res.writeHead(statusCode);
  res.end(payload);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        resolve(undefined);
      } else chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
