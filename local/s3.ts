import { createHash, createHmac, type Hash, type Hmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import type { S3Event } from 'aws-lambda';
import S3rver from 's3rver';
import { closeServer, listen, urlFor } from './http-util.js';
import type { PayloadAuth } from './s3-body.js';
import { signingKey } from './s3-chunked.js';
import { MultipartUploads } from './s3-multipart.js';
import { type CreatedObject, type FrontContext, frontOperation } from './s3-operations.js';
import { internalError, parseQuery, S3Error, type S3ErrorInfo, safeDecode, sendError } from './s3-protocol.js';
import { ObjectStore } from './s3-store.js';

// @smithy/types is only a transitive dependency: take the types from the signer's own signature.
type HttpRequest = Parameters<SignatureV4['presign']>[0];
type QueryParameterBag = NonNullable<HttpRequest['query']>;

/** s3rver's default key pair; the local stack gives the same pair to every SDK client. */
export const LOCAL_S3_CREDENTIALS: Readonly<Record<string, string>> = { S3RVER: 'S3RVER' };

export interface LocalS3Options {
  dataDir: string;
  buckets: string[];
  port?: number;
  host?: string;
  /** Access key id → secret access key accepted by the signature check. */
  credentials?: Readonly<Record<string, string>>;
  /** Clock for expiry checks (tests). */
  now?: () => number;
  /** S3 event notifications (ObjectCreated), as a bucket's notification configuration would send them. */
  notifications?: readonly LocalS3Notification[];
  /** Told every request before it is answered (refused ones too, which S3 bills as well): bench/metering.ts. */
  onRequest?: (request: LocalS3Request) => void;
}

/** What a request asks for: enough to tell S3's request kinds (and so their price) apart. */
export interface LocalS3Request {
  readonly method: string;
  readonly bucket: string;
  readonly key: string;
  /** The query's parameter names (`uploads`, `uploadId`, `partNumber`, `list-type`, `delete`, …). */
  readonly query: readonly string[];
  /** `x-amz-copy-source` is set (CopyObject, UploadPartCopy). */
  readonly copy: boolean;
}

/** One ObjectCreated notification of a bucket, filtered by key prefix and suffix like S3's filter rules. */
export interface LocalS3Notification {
  bucket: string;
  prefix?: string;
  suffix?: string;
  /** Runs after the response is sent, like S3's asynchronous Lambda invocation; a failure is only logged. */
  invoke(event: S3Event): Promise<unknown>;
}

export interface LocalS3 {
  endpoint: string;
  close(): Promise<void>;
}

/**
 * s3rver (objects on disk under `${dataDir}/s3`) behind a plain HTTP server that verifies SigV4, which s3rver
 * itself does not: presigned URLs (query-string auth) and SDK requests (Authorization header) alike.
 *
 * The front also implements what s3rver gets wrong or lacks, as S3 does it (see s3-operations.ts): PutObject
 * (aws-chunked bodies decoded, chunk signatures and checksums verified, the object replaced only once the whole
 * body checked out) and the multipart API (UploadPartCopy, ListParts, Abort, ListMultipartUploads, and
 * CompleteMultipartUpload with S3's rules). Their objects are written into s3rver's store, which serves every read.
 * Bodies are streamed, never buffered: memory stays flat whatever the object size.
 */
export async function startLocalS3(opts: LocalS3Options): Promise<LocalS3> {
  const host = opts.host ?? '127.0.0.1';
  const directory = join(opts.dataDir, 's3');
  await mkdir(directory, { recursive: true });
  const s3rver = new S3rver({
    directory,
    silent: true,
    // Signatures are checked here, in front; s3rver's own partial V4 check must not second-guess it.
    allowMismatchedSignatures: true,
    // Path-style only (S3_FORCE_PATH_STYLE): a Host of 127.0.0.1 must never be read as a bucket.
    vhostBuckets: false,
    configureBuckets: opts.buckets.map((name) => ({ name })),
  });
  await s3rver.configureBuckets();
  const s3 = s3rver.getMiddleware();
  const credentials = opts.credentials ?? LOCAL_S3_CREDENTIALS;
  const now = opts.now ?? Date.now;
  const objects = await ObjectStore.open(s3rver, opts.dataDir);
  const uploads = await MultipartUploads.open(opts.dataDir, objects);

  const notifications = opts.notifications ?? [];
  const pending = new Set<Promise<unknown>>();
  const notify = (created: CreatedObject) => {
    for (const target of notifications) {
      if (target.bucket !== created.bucket) continue;
      if (!created.key.startsWith(target.prefix ?? '') || !created.key.endsWith(target.suffix ?? '')) continue;
      const invocation = target
        .invoke(s3Event(created))
        .catch((err: unknown) => console.error(`local S3: notification for ${created.key} failed`, err))
        .finally(() => pending.delete(invocation));
      pending.add(invocation);
    }
  };
  const front: FrontContext = { objects, uploads, created: notify };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (opts.onRequest !== undefined) {
      const { path, query } = splitUrl(req.url);
      opts.onRequest({
        method: req.method ?? 'GET',
        ...splitPath(path),
        query: Object.keys(query),
        copy: req.headers['x-amz-copy-source'] !== undefined,
      });
    }
    const authenticated = await authenticate(req, credentials, now());
    if ('failure' in authenticated) {
      sendError(req, res, authenticated.failure);
      return;
    }
    const { path, query } = splitUrl(req.url);
    const { bucket, key } = splitPath(path);
    const headers = authenticated.presigned ? withHoistedHeaders(req.headers, query) : req.headers;
    const operation = bucket === '' ? undefined : frontOperation({ req, key, query, headers });
    if (operation) {
      try {
        await operation(front, { req, res, bucket, key, query, headers, auth: authenticated.auth });
      } catch (err) {
        if (!(err instanceof S3Error)) console.error(`local S3: ${req.method} ${req.url} failed`, err);
        sendError(req, res, err instanceof S3Error ? err : internalError());
      }
      return;
    }
    // CopyObject stays with s3rver: notify when it succeeds.
    const copied = notifications.length > 0 ? objectCopiedBy(req, bucket, key, query) : undefined;
    if (copied !== undefined) {
      res.on('finish', () => {
        if (res.statusCode === 200) notify({ ...copied, etag: String(res.getHeader('etag') ?? '') });
      });
    }
    s3(req, res);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      console.error('local S3: request failed', err);
      sendError(req, res, internalError());
    });
  });
  const { port } = await listen(server, opts.port ?? 0, host);
  return {
    endpoint: urlFor(host, port),
    close: async () => {
      await closeServer(server);
      // Let notifications already sent finish while their backends are still up.
      await Promise.allSettled([...pending]);
    },
  };
}

function splitUrl(rawUrl = '/'): { path: string; query: QueryParameterBag } {
  const queryStart = rawUrl.indexOf('?');
  const path = queryStart === -1 ? rawUrl : rawUrl.slice(0, queryStart);
  return { path, query: parseQuery(queryStart === -1 ? '' : rawUrl.slice(queryStart + 1)) };
}

/** Path-style: `/bucket/key…` (the key may be empty). */
function splitPath(path: string): { bucket: string; key: string } {
  const slash = path.indexOf('/', 1);
  if (slash === -1) return { bucket: safeDecode(path.slice(1)), key: '' };
  return { bucket: safeDecode(path.slice(1, slash)), key: safeDecode(path.slice(slash + 1)) };
}

/**
 * A presigned URL carries the x-amz-* headers it was signed with as query parameters (the presigner hoists them);
 * S3 reads them as headers (x-amz-meta-*, x-amz-checksum-*, x-amz-storage-class, …).
 */
function withHoistedHeaders(headers: IncomingHttpHeaders, query: QueryParameterBag): IncomingHttpHeaders {
  const merged: IncomingHttpHeaders = { ...headers };
  for (const [name, value] of Object.entries(query)) {
    const lower = name.toLowerCase();
    if (!lower.startsWith('x-amz-') || typeof value !== 'string') continue;
    if ((QUERY_AUTH_PARAMS as readonly string[]).includes(name) || lower === 'x-amz-content-sha256') continue;
    merged[lower] ??= value;
  }
  return merged;
}

/** The object a CopyObject (served by s3rver) creates if it succeeds. */
function objectCopiedBy(
  req: IncomingMessage,
  bucket: string,
  key: string,
  query: QueryParameterBag,
): Omit<CreatedObject, 'etag'> | undefined {
  if (req.method !== 'PUT' || bucket === '' || key === '' || req.headers['x-amz-copy-source'] === undefined) {
    return undefined;
  }
  if ('uploadId' in query || 'partNumber' in query) return undefined;
  return { bucket, key, size: 0, eventName: 'ObjectCreated:Copy' };
}

/** An S3 event as AWS sends it: the key URL-encoded with `+` for spaces. */
function s3Event(created: CreatedObject): S3Event {
  const key = encodeURIComponent(created.key).replace(/%2F/g, '/').replace(/%20/g, '+');
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: 'us-east-1',
        eventTime: new Date().toISOString(),
        eventName: created.eventName,
        userIdentity: { principalId: 'AWS:LOCAL' },
        requestParameters: { sourceIPAddress: '127.0.0.1' },
        responseElements: { 'x-amz-request-id': randomBytes(8).toString('hex').toUpperCase(), 'x-amz-id-2': '' },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'local',
          bucket: {
            name: created.bucket,
            ownerIdentity: { principalId: 'LOCAL' },
            arn: `arn:aws:s3:::${created.bucket}`,
          },
          object: {
            key,
            size: created.size,
            eTag: created.etag.replace(/"/g, ''),
            sequencer: Date.now().toString(16).toUpperCase().padStart(16, '0'),
          },
        },
      },
    ],
  };
}

type AuthFailure = S3ErrorInfo;

/** A request whose signature checked out, and what its body's decoding needs. */
interface Authenticated {
  presigned: boolean;
  auth: PayloadAuth;
}

const MAX_PRESIGNED_EXPIRES = 7 * 24 * 3600;
/** S3 rejects header-signed requests whose X-Amz-Date is more than 15 minutes off. */
const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;
const QUERY_AUTH_PARAMS = [
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-SignedHeaders',
  'X-Amz-Signature',
] as const;
const signatureMismatch: AuthFailure = {
  status: 403,
  code: 'SignatureDoesNotMatch',
  message:
    'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
};

/** Why the request is refused, or what its valid signature established. */
async function authenticate(
  req: IncomingMessage,
  credentials: Readonly<Record<string, string>>,
  nowMs: number,
): Promise<{ failure: AuthFailure } | Authenticated> {
  const failure = (f: AuthFailure) => ({ failure: f });
  const rawUrl = req.url ?? '/';
  const queryStart = rawUrl.indexOf('?');
  const path = queryStart === -1 ? rawUrl : rawUrl.slice(0, queryStart);
  const query = parseQuery(queryStart === -1 ? '' : rawUrl.slice(queryStart + 1));
  const authorization = req.headers.authorization;
  const queryAuth = 'X-Amz-Algorithm' in query || 'X-Amz-Signature' in query;
  if (queryAuth && authorization !== undefined) {
    return failure({
      status: 400,
      code: 'InvalidArgument',
      message:
        'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified',
    });
  }
  if (queryAuth) {
    const refused = await verifyPresigned(req, path, query, credentials, nowMs);
    if (refused) return failure(refused);
    // A presigned URL's payload is unsigned unless it carries a hash (X-Amz-Content-Sha256, query or header).
    const hoisted = query['X-Amz-Content-Sha256'] ?? query['x-amz-content-sha256'];
    const payloadHash =
      (typeof hoisted === 'string' ? hoisted : undefined) ??
      stringHeader(req, 'x-amz-content-sha256') ??
      'UNSIGNED-PAYLOAD';
    return { presigned: true, auth: { payloadHash } };
  }
  if (authorization !== undefined) {
    const verified = await verifyAuthorizationHeader(req, path, query, authorization, credentials, nowMs);
    return 'failure' in verified ? verified : { presigned: false, auth: verified };
  }
  // Both buckets are private on AWS: anonymous requests are refused.
  return failure({ status: 403, code: 'AccessDenied', message: 'Access Denied' });
}

function stringHeader(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

async function verifyPresigned(
  req: IncomingMessage,
  path: string,
  query: QueryParameterBag,
  credentials: Readonly<Record<string, string>>,
  nowMs: number,
): Promise<AuthFailure | undefined> {
  const params: Partial<Record<(typeof QUERY_AUTH_PARAMS)[number], string>> = {};
  for (const name of QUERY_AUTH_PARAMS) {
    const value = query[name];
    if (typeof value !== 'string') {
      return {
        status: 400,
        code: 'AuthorizationQueryParametersError',
        message: `Query-string authentication version 4 requires the ${QUERY_AUTH_PARAMS.join(', ')} parameters.`,
      };
    }
    params[name] = value;
  }
  const { 'X-Amz-Algorithm': algorithm, 'X-Amz-Credential': credential, 'X-Amz-Date': amzDate } = params;
  const expiresIn = Number(params['X-Amz-Expires']);
  const signingDate = parseAmzDate(amzDate ?? '');
  const scope = parseScope(credential ?? '');
  if (
    algorithm !== 'AWS4-HMAC-SHA256' ||
    !scope ||
    !signingDate ||
    scope.date !== amzDate?.slice(0, 8) ||
    !Number.isInteger(expiresIn) ||
    expiresIn < 1 ||
    expiresIn > MAX_PRESIGNED_EXPIRES
  ) {
    return {
      status: 400,
      code: 'AuthorizationQueryParametersError',
      message: 'Error parsing the X-Amz-Credential, X-Amz-Date or X-Amz-Expires parameter.',
    };
  }
  const secret = credentials[scope.accessKeyId];
  if (secret === undefined) return invalidAccessKey(scope.accessKeyId);

  // Rebuild the request as the presigner saw it: the auth parameters are what presign() adds, and
  // X-Amz-Content-Sha256 started as a header (UNSIGNED-PAYLOAD) that presign() hoisted into the
  // query. Left in the query, presign() would hash an empty payload instead and never match.
  const unsignedQuery: QueryParameterBag = { ...query };
  for (const name of QUERY_AUTH_PARAMS) delete unsignedQuery[name];
  const headers: Record<string, string> = {};
  for (const key of Object.keys(unsignedQuery)) {
    const value = unsignedQuery[key];
    if (key.toLowerCase() === 'x-amz-content-sha256' && typeof value === 'string') {
      headers[key] = value;
      delete unsignedQuery[key];
    }
  }
  const signedHeaders = (params['X-Amz-SignedHeaders'] ?? '').split(';');
  if (!copySignedHeaders(req, signedHeaders, headers)) return signatureMismatch;

  const signer = signerFor(scope.accessKeyId, secret, scope);
  const presigned = await signer.presign(httpRequest(req, path, unsignedQuery, headers), {
    signingDate,
    expiresIn,
    signingRegion: scope.region,
    signingService: scope.service,
    signableHeaders: new Set(signedHeaders),
    // Headers still signed as headers were not hoisted by the original presign: keep them headers.
    unhoistableHeaders: new Set(signedHeaders),
  });
  const expected = presigned.query?.['X-Amz-Signature'];
  if (typeof expected !== 'string' || !sameSignature(expected, params['X-Amz-Signature'] ?? '')) {
    return signatureMismatch;
  }
  const expiresAtMs = signingDate.getTime() + expiresIn * 1000;
  if (nowMs > expiresAtMs) {
    return {
      status: 403,
      code: 'AccessDenied',
      message: 'Request has expired',
      extra: {
        'X-Amz-Expires': String(expiresIn),
        Expires: new Date(expiresAtMs).toISOString(),
        ServerTime: new Date(nowMs).toISOString(),
      },
    };
  }
  if (signingDate.getTime() > nowMs + MAX_CLOCK_SKEW_MS) {
    return { status: 403, code: 'AccessDenied', message: 'Request is not valid yet' };
  }
  return undefined;
}

async function verifyAuthorizationHeader(
  req: IncomingMessage,
  path: string,
  query: QueryParameterBag,
  authorization: string,
  credentials: Readonly<Record<string, string>>,
  nowMs: number,
): Promise<{ failure: AuthFailure } | PayloadAuth> {
  const match = /^AWS4-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]+)$/.exec(
    authorization.trim(),
  );
  const amzDate = stringHeader(req, 'x-amz-date');
  const scope = match ? parseScope(match[1] ?? '') : undefined;
  const signingDate = amzDate !== undefined ? parseAmzDate(amzDate) : undefined;
  if (!match || !scope || !signingDate || amzDate === undefined || scope.date !== amzDate.slice(0, 8)) {
    return {
      failure: {
        status: 400,
        code: 'AuthorizationHeaderMalformed',
        message: 'The authorization header is malformed; only AWS4-HMAC-SHA256 with an X-Amz-Date header is supported.',
      },
    };
  }
  const secret = credentials[scope.accessKeyId];
  if (secret === undefined) return { failure: invalidAccessKey(scope.accessKeyId) };

  const signedHeaders = (match[2] ?? '').split(';');
  const headers: Record<string, string> = {};
  if (!copySignedHeaders(req, signedHeaders, headers)) return { failure: signatureMismatch };
  // The signature covers the payload hash the client declares in x-amz-content-sha256. The body is
  // checked against it (or decoded as aws-chunked, its chunks' signatures chained to this one) by
  // the operations the front implements (PutObject, UploadPart, CompleteMultipartUpload).
  const payloadHash = headers['x-amz-content-sha256'];
  if (payloadHash === undefined) {
    return {
      failure: {
        status: 400,
        code: 'InvalidRequest',
        message: 'Missing required header for this request: x-amz-content-sha256',
      },
    };
  }
  const signer = signerFor(scope.accessKeyId, secret, scope);
  const signed = await signer.sign(httpRequest(req, path, query, headers), {
    signingDate,
    signingRegion: scope.region,
    signingService: scope.service,
    signableHeaders: new Set(signedHeaders),
  });
  const expected = /Signature=([0-9a-f]+)$/.exec(String(signed.headers.authorization ?? ''))?.[1];
  if (expected === undefined || !sameSignature(expected, match[3] ?? '')) return { failure: signatureMismatch };
  if (Math.abs(nowMs - signingDate.getTime()) > MAX_CLOCK_SKEW_MS) {
    return {
      failure: {
        status: 403,
        code: 'RequestTimeTooSkewed',
        message: 'The difference between the request time and the current time is too large.',
      },
    };
  }
  return {
    payloadHash,
    signing: {
      signingKey: signingKey(secret, scope.date, scope.region, scope.service),
      amzDate,
      scope: `${scope.date}/${scope.region}/${scope.service}/aws4_request`,
      seedSignature: expected,
    },
  };
}

interface Scope {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
}

/** `AKID/20240101/us-east-1/s3/aws4_request` */
function parseScope(credential: string): Scope | undefined {
  const parts = credential.split('/');
  const [accessKeyId, date, region, service, terminator] = parts;
  if (parts.length !== 5 || !accessKeyId || !date || !region || service !== 's3' || terminator !== 'aws4_request') {
    return undefined;
  }
  return { accessKeyId, date, region, service };
}

/** `20240101T120000Z` */
function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const date = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/**
 * Copies the signed headers' received values; false when one is missing (the signature cannot match).
 * Node joins repeated headers with ", ", which is also how SigV4 canonicalises them.
 */
function copySignedHeaders(req: IncomingMessage, signedHeaders: string[], into: Record<string, string>): boolean {
  for (const name of signedHeaders) {
    const value = req.headers[name];
    if (value === undefined) return false;
    into[name] = Array.isArray(value) ? value.join(',') : value;
  }
  return true;
}

function httpRequest(
  req: IncomingMessage,
  path: string,
  query: QueryParameterBag,
  headers: Record<string, string>,
): HttpRequest {
  // hostname/port are not part of the signature (the Host header is); path is used as received,
  // because S3 signs the already-encoded path (uriEscapePath: false).
  return { method: req.method ?? 'GET', protocol: 'http:', hostname: 'localhost', path, query, headers };
}

function signerFor(accessKeyId: string, secretAccessKey: string, scope: Scope): SignatureV4 {
  return new SignatureV4({
    credentials: { accessKeyId, secretAccessKey },
    region: scope.region,
    service: scope.service,
    sha256: NodeSha256,
    // As the SDK's S3 signer: S3 signs the path as sent, without double-encoding.
    uriEscapePath: false,
    applyChecksum: false,
  });
}

/** SHA-256 (keyed: HMAC) for @smithy/signature-v4, over node:crypto. */
class NodeSha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: string | Uint8Array | ArrayBuffer | ArrayBufferView) {
    this.hash =
      secret === undefined
        ? createHash('sha256')
        : createHmac('sha256', typeof secret === 'string' ? secret : toBuffer(secret));
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }
  reset(): void {
    throw new Error('reset is not supported');
  }
}

function toBuffer(data: ArrayBuffer | ArrayBufferView): Buffer {
  return ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data);
}

function sameSignature(expected: string, provided: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(provided);
  return a.length === b.length && timingSafeEqual(a, b);
}

function invalidAccessKey(accessKeyId: string): AuthFailure {
  return {
    status: 403,
    code: 'InvalidAccessKeyId',
    message: 'The AWS Access Key Id you provided does not exist in our records.',
    extra: { AWSAccessKeyId: accessKeyId },
  };
}
