import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Digests, MAX_PUT_BYTES, MemorySink, type PayloadAuth, receiveBody } from './s3-body.js';
import {
  type ChecksumAlgorithm,
  checksumElement,
  checksumHeader,
  isChecksumAlgorithm,
  isWellFormedChecksum,
} from './s3-checksums.js';
import {
  type ChecksumType,
  type CompletedPart,
  MAX_PART_BYTES,
  MAX_PART_NUMBER,
  type MultipartUploads,
  type PartRecord,
  type UploadRecord,
} from './s3-multipart.js';
import {
  headerValue,
  type Query,
  queryValue,
  S3_XMLNS,
  S3Error,
  safeDecode,
  sendEmpty,
  sendXml,
  unescapeXml,
  xmlElement,
} from './s3-protocol.js';
import { type ObjectStore, storedMetadata } from './s3-store.js';

/** An object a request created, for the bucket's ObjectCreated notifications. */
export interface CreatedObject {
  bucket: string;
  key: string;
  size: number;
  etag: string;
  eventName: 'ObjectCreated:Put' | 'ObjectCreated:Copy' | 'ObjectCreated:CompleteMultipartUpload';
}

export interface FrontContext {
  objects: ObjectStore;
  uploads: MultipartUploads;
  /** Called once the reply to a successful object-creating request has been sent. */
  created(created: CreatedObject): void;
}

/** An authenticated path-style request. */
export interface S3Request {
  req: IncomingMessage;
  res: ServerResponse;
  bucket: string;
  /** Empty for bucket-level requests. */
  key: string;
  query: Query;
  /** The request's headers, with presigned URLs' hoisted x-amz-* query parameters as headers (as S3 reads them). */
  headers: IncomingHttpHeaders;
  auth: PayloadAuth;
}

type Operation = (ctx: FrontContext, r: S3Request) => Promise<void>;

/**
 * The operations the front implements itself (s3rver serves the rest): PutObject (so that aws-chunked bodies and
 * checksums are handled as S3 does) and the whole multipart API. Undefined when s3rver should answer.
 */
export function frontOperation(r: Pick<S3Request, 'req' | 'key' | 'query' | 'headers'>): Operation | undefined {
  const has = (name: string) => name in r.query;
  const method = r.req.method;
  if (r.key === '') return method === 'GET' && has('uploads') ? listMultipartUploads : undefined;
  switch (method) {
    case 'PUT':
      if (has('uploadId') || has('partNumber')) {
        return r.headers['x-amz-copy-source'] === undefined ? uploadPart : uploadPartCopy;
      }
      if (r.headers['x-amz-copy-source'] === undefined && isPlainObjectQuery(r.query)) return putObject;
      return undefined;
    case 'POST':
      if (has('uploads')) return createMultipartUpload;
      if (has('uploadId')) return completeMultipartUpload;
      return undefined;
    case 'GET':
      return has('uploadId') ? listParts : undefined;
    case 'DELETE':
      return has('uploadId') ? abortMultipartUpload : undefined;
    default:
      return undefined;
  }
}

/** PutObject's query holds nothing but the SDK's x-id and presigned URLs' X-Amz-* parameters (no subresource). */
function isPlainObjectQuery(query: Query): boolean {
  return Object.keys(query).every((name) => name === 'x-id' || name.toLowerCase().startsWith('x-amz-'));
}

// ---------------------------------------------------------------------------------------------------------------
// PutObject

async function putObject(ctx: FrontContext, r: S3Request): Promise<void> {
  await ctx.objects.requireBucket(r.bucket);
  checkWritableKey(r.key);
  const metadata = storedMetadata(r.headers);
  await checkWriteConditions(ctx, r);
  const staged = ctx.objects.stagingPath();
  try {
    const body = await receiveBody(r.req, r.headers, r.auth, {
      sink: createWriteStream(staged, { flags: 'wx' }),
      maxBytes: MAX_PUT_BYTES,
    });
    await checkWriteConditions(ctx, r);
    const etag = body.md5.toString('hex');
    await ctx.objects.commit(r.bucket, r.key, staged, etag, metadata);
    const headers: Record<string, string> = { etag: `"${etag}"` };
    if (body.clientChecksum) {
      headers[checksumHeader(body.clientChecksum)] = body.checksums.get(body.clientChecksum) ?? '';
      headers['x-amz-checksum-type'] = 'FULL_OBJECT';
    }
    afterReply(r.res, () =>
      ctx.created({ bucket: r.bucket, key: r.key, size: body.size, etag, eventName: 'ObjectCreated:Put' }),
    );
    sendEmpty(r.res, 200, headers);
  } finally {
    await rm(staged, { force: true });
  }
}

/** If-None-Match: * and If-Match on a write (PutObject, CompleteMultipartUpload), as S3's conditional writes. */
async function checkWriteConditions(ctx: FrontContext, r: S3Request): Promise<void> {
  const ifNoneMatch = headerValue(r.headers, 'if-none-match');
  const ifMatch = headerValue(r.headers, 'if-match');
  if (ifNoneMatch === undefined && ifMatch === undefined) return;
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') {
    throw new S3Error(501, 'NotImplemented', 'A header you provided implies functionality that is not implemented', {
      Header: 'If-None-Match',
    });
  }
  const current = await ctx.objects.current(r.bucket, r.key);
  if (ifNoneMatch !== undefined && current) {
    throw preconditionFailed('If-None-Match');
  }
  if (ifMatch !== undefined) {
    if (!current) throw new S3Error(404, 'NoSuchKey', 'The specified key does not exist.', { Key: r.key });
    if (!etagMatches(ifMatch, current.etag)) throw preconditionFailed('If-Match');
  }
}

const preconditionFailed = (condition: string) =>
  new S3Error(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', {
    Condition: condition,
  });

function etagMatches(condition: string, etag: string): boolean {
  return condition
    .split(',')
    .map((value) => value.trim())
    .some((value) => value === '*' || value.replace(/"/g, '') === etag.replace(/"/g, ''));
}

/**
 * S3 takes any key; s3rver keeps objects as files named after the key, so a `.`/`..` path segment would write
 * outside the bucket's directory. Such keys are refused here.
 */
function checkWritableKey(key: string): void {
  if (key.split('/').some((segment) => segment === '.' || segment === '..')) {
    throw new S3Error(400, 'InvalidArgument', "The local S3 does not store keys with '.' or '..' path segments", {
      ArgumentName: 'key',
      ArgumentValue: key,
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Multipart uploads

async function createMultipartUpload(ctx: FrontContext, r: S3Request): Promise<void> {
  r.req.resume();
  await ctx.objects.requireBucket(r.bucket);
  checkWritableKey(r.key);
  const metadata = storedMetadata(r.headers);
  const requested = headerValue(r.headers, 'x-amz-checksum-algorithm')?.toUpperCase();
  if (requested !== undefined && !isChecksumAlgorithm(requested)) {
    throw new S3Error(
      400,
      'InvalidRequest',
      'Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]',
    );
  }
  const algorithm = requested as ChecksumAlgorithm | undefined;
  const typeHeader = headerValue(r.headers, 'x-amz-checksum-type')?.toUpperCase();
  if (typeHeader !== undefined && typeHeader !== 'COMPOSITE' && typeHeader !== 'FULL_OBJECT') {
    throw new S3Error(400, 'InvalidRequest', 'Value for x-amz-checksum-type header is invalid.');
  }
  if (typeHeader !== undefined && algorithm === undefined) {
    throw new S3Error(
      400,
      'InvalidRequest',
      'The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.',
    );
  }
  let type: ChecksumType | undefined;
  if (algorithm) {
    type = (typeHeader as ChecksumType | undefined) ?? (algorithm === 'CRC64NVME' ? 'FULL_OBJECT' : 'COMPOSITE');
    const crc = algorithm.startsWith('CRC');
    if ((type === 'FULL_OBJECT' && !crc) || (type === 'COMPOSITE' && algorithm === 'CRC64NVME')) {
      throw new S3Error(
        400,
        'InvalidRequest',
        `The ${type} checksum type cannot be used with the ${algorithm.toLowerCase()} checksum algorithm.`,
      );
    }
  }
  const upload = await ctx.uploads.create(r.bucket, r.key, metadata, {
    ...(algorithm ? { algorithm } : {}),
    ...(type ? { type } : {}),
  });
  sendXml(
    r.res,
    200,
    `<InitiateMultipartUploadResult xmlns="${S3_XMLNS}">${xmlElement('Bucket', r.bucket)}${xmlElement('Key', r.key)}${xmlElement('UploadId', upload.uploadId)}</InitiateMultipartUploadResult>`,
    algorithm && type ? { 'x-amz-checksum-algorithm': algorithm, 'x-amz-checksum-type': type } : {},
  );
}

function requiredUploadId(query: Query): string {
  const uploadId = queryValue(query, 'uploadId');
  if (uploadId === undefined || uploadId === '') {
    throw new S3Error(404, 'NoSuchUpload', 'The specified upload does not exist.', { UploadId: '' });
  }
  return uploadId;
}

function partNumberOf(query: Query): number {
  const raw = queryValue(query, 'partNumber');
  const value = raw !== undefined && /^\d{1,6}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(value >= 1 && value <= MAX_PART_NUMBER)) {
    throw new S3Error(400, 'InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', {
      ArgumentName: 'partNumber',
      ArgumentValue: raw ?? '',
    });
  }
  return value;
}

const partTooLarge = (size: number) =>
  new S3Error(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', {
    ProposedSize: String(size),
    MaxSizeAllowed: String(MAX_PART_BYTES),
  });

/** Response headers of an UploadPart: the ETag and the part's checksum (what clients list in Complete). */
function partHeaders(upload: UploadRecord, part: PartRecord, clientChecksum?: ChecksumAlgorithm) {
  const headers: Record<string, string> = { etag: `"${part.etag}"` };
  const algorithm = upload.checksumAlgorithm ?? clientChecksum;
  if (algorithm && part.checksum !== undefined) headers[checksumHeader(algorithm)] = part.checksum;
  return headers;
}

async function uploadPart(ctx: FrontContext, r: S3Request): Promise<void> {
  const partNumber = partNumberOf(r.query);
  await ctx.objects.requireBucket(r.bucket);
  const uploadId = requiredUploadId(r.query);
  const upload = ctx.uploads.get(r.bucket, r.key, uploadId);
  const staged = ctx.objects.stagingPath();
  try {
    const algorithm = upload.checksumAlgorithm;
    const body = await receiveBody(r.req, r.headers, r.auth, {
      sink: createWriteStream(staged, { flags: 'wx' }),
      maxBytes: MAX_PART_BYTES,
      tooLarge: partTooLarge,
      ...(algorithm ? { compute: [algorithm], expectedAlgorithm: algorithm } : {}),
    });
    const checksumAlgorithm = algorithm ?? body.clientChecksum;
    const checksum = checksumAlgorithm ? body.checksums.get(checksumAlgorithm) : undefined;
    const part = await ctx.uploads.commitPart(r.bucket, r.key, uploadId, partNumber, staged, {
      md5: body.md5,
      size: body.size,
      ...(checksum !== undefined ? { checksum } : {}),
    });
    sendEmpty(r.res, 200, partHeaders(upload, part, body.clientChecksum));
  } finally {
    await rm(staged, { force: true });
  }
}

/** `bucket/key` (URL-encoded, optionally with a leading slash and `?versionId=`). */
function parseCopySource(value: string): { bucket: string; key: string } {
  let source = value;
  const question = source.indexOf('?');
  let versionId: string | undefined;
  if (question !== -1) {
    const params = new URLSearchParams(source.slice(question + 1));
    versionId = params.get('versionId') ?? undefined;
    source = source.slice(0, question);
  }
  source = safeDecode(source);
  if (source.startsWith('/')) source = source.slice(1);
  const slash = source.indexOf('/');
  if (slash <= 0 || slash === source.length - 1) {
    throw new S3Error(400, 'InvalidArgument', 'Invalid copy source object key', {
      ArgumentName: 'x-amz-copy-source',
      ArgumentValue: value,
    });
  }
  if (versionId !== undefined && versionId !== 'null') {
    throw new S3Error(404, 'NoSuchVersion', 'The specified version does not exist.', { VersionId: versionId });
  }
  return { bucket: source.slice(0, slash), key: source.slice(slash + 1) };
}

/** x-amz-copy-source-if-* against the source object (S3's copy conditions). */
function checkCopySourceConditions(headers: IncomingHttpHeaders, etag: string, lastModified: Date): void {
  const ifMatch = headerValue(headers, 'x-amz-copy-source-if-match');
  const ifNoneMatch = headerValue(headers, 'x-amz-copy-source-if-none-match');
  const ifModifiedSince = headerValue(headers, 'x-amz-copy-source-if-modified-since');
  const ifUnmodifiedSince = headerValue(headers, 'x-amz-copy-source-if-unmodified-since');
  const modified = Math.floor(lastModified.getTime() / 1000) * 1000;
  if (ifMatch !== undefined && !etagMatches(ifMatch, etag)) throw preconditionFailed('x-amz-copy-source-If-Match');
  if (ifNoneMatch !== undefined && etagMatches(ifNoneMatch, etag)) {
    throw preconditionFailed('x-amz-copy-source-If-None-Match');
  }
  if (ifUnmodifiedSince !== undefined && ifMatch === undefined && modified > Date.parse(ifUnmodifiedSince)) {
    throw preconditionFailed('x-amz-copy-source-If-Unmodified-Since');
  }
  if (ifModifiedSince !== undefined && ifNoneMatch === undefined && !(modified > Date.parse(ifModifiedSince))) {
    throw preconditionFailed('x-amz-copy-source-If-Modified-Since');
  }
}

async function uploadPartCopy(ctx: FrontContext, r: S3Request): Promise<void> {
  r.req.resume();
  const partNumber = partNumberOf(r.query);
  await ctx.objects.requireBucket(r.bucket);
  const uploadId = requiredUploadId(r.query);
  const upload = ctx.uploads.get(r.bucket, r.key, uploadId);
  const source = parseCopySource(headerValue(r.headers, 'x-amz-copy-source') ?? '');
  await ctx.objects.requireBucket(source.bucket);
  const opened = await ctx.objects.open(source.bucket, source.key);
  if (!opened) throw new S3Error(404, 'NoSuchKey', 'The specified key does not exist.', { Key: source.key });
  const staged = ctx.objects.stagingPath();
  try {
    checkCopySourceConditions(r.headers, opened.etag, opened.lastModified);
    let first = 0;
    let last = opened.size - 1;
    const range = headerValue(r.headers, 'x-amz-copy-source-range');
    if (range !== undefined) {
      const m = /^bytes=(\d+)-(\d+)$/.exec(range.trim());
      if (!m) {
        throw new S3Error(
          400,
          'InvalidArgument',
          'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
          { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: range },
        );
      }
      first = Number(m[1]);
      last = Number(m[2]);
      if (first > last || last >= opened.size) {
        throw new S3Error(
          400,
          'InvalidArgument',
          `Range specified is not valid for source object of size: ${opened.size}`,
          { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: range },
        );
      }
    }
    const length = last - first + 1;
    if (length > MAX_PART_BYTES) {
      throw new S3Error(
        400,
        'InvalidRequest',
        `The specified copy source is larger than the maximum allowable size for a copy source: ${MAX_PART_BYTES}`,
      );
    }
    const algorithm = upload.checksumAlgorithm;
    const digests = new Digests(false, algorithm ? [algorithm] : []);
    const input =
      length === 0
        ? [] // an empty source object: an empty part
        : opened.handle.createReadStream({ autoClose: false, start: first, end: last });
    await pipeline(input, digests, createWriteStream(staged, { flags: 'wx' }));
    const computed = await digests.results();
    const checksum = algorithm ? computed.checksums.get(algorithm) : undefined;
    const part = await ctx.uploads.commitPart(r.bucket, r.key, uploadId, partNumber, staged, {
      md5: computed.md5,
      size: digests.bytes,
      ...(checksum !== undefined ? { checksum } : {}),
    });
    sendXml(
      r.res,
      200,
      `<CopyPartResult xmlns="${S3_XMLNS}">${xmlElement('LastModified', part.lastModified)}${xmlElement('ETag', `"${part.etag}"`)}${
        algorithm && checksum !== undefined ? xmlElement(checksumElement(algorithm), checksum) : ''
      }</CopyPartResult>`,
    );
  } finally {
    await opened.handle.close();
    await rm(staged, { force: true });
  }
}

/** A non-negative integer query parameter (max-parts, part-number-marker, max-uploads). */
function integerParam(query: Query, name: string, fallback: number): number {
  const raw = queryValue(query, name);
  if (raw === undefined) return fallback;
  if (!/^\d{1,10}$/.test(raw) || Number(raw) > 2_147_483_647) {
    throw new S3Error(400, 'InvalidArgument', `Provided ${name} not an integer or within integer range`, {
      ArgumentName: name,
      ArgumentValue: raw,
    });
  }
  return Number(raw);
}

const OWNER = '<ID>local</ID><DisplayName>local</DisplayName>';

async function listParts(ctx: FrontContext, r: S3Request): Promise<void> {
  r.req.resume();
  await ctx.objects.requireBucket(r.bucket);
  const uploadId = requiredUploadId(r.query);
  const upload = ctx.uploads.get(r.bucket, r.key, uploadId);
  const maxParts = Math.min(integerParam(r.query, 'max-parts', 1000), 1000);
  const marker = integerParam(r.query, 'part-number-marker', 0);
  const after = ctx.uploads.parts(r.bucket, r.key, uploadId).filter((part) => part.partNumber > marker);
  const page = after.slice(0, maxParts);
  const truncated = after.length > page.length;
  const algorithm = upload.checksumAlgorithm;
  const parts = page
    .map(
      (part) =>
        `<Part>${xmlElement('PartNumber', part.partNumber)}${xmlElement('LastModified', part.lastModified)}${xmlElement('ETag', `"${part.etag}"`)}${xmlElement('Size', part.size)}${
          algorithm && part.checksum !== undefined ? xmlElement(checksumElement(algorithm), part.checksum) : ''
        }</Part>`,
    )
    .join('');
  sendXml(
    r.res,
    200,
    `<ListPartsResult xmlns="${S3_XMLNS}">${xmlElement('Bucket', r.bucket)}${xmlElement('Key', r.key)}${xmlElement('UploadId', uploadId)}` +
      `<Initiator>${OWNER}</Initiator><Owner>${OWNER}</Owner>${xmlElement('StorageClass', upload.metadata['x-amz-storage-class'] ?? 'STANDARD')}` +
      `${xmlElement('PartNumberMarker', marker)}${xmlElement('NextPartNumberMarker', page.at(-1)?.partNumber ?? marker)}` +
      `${xmlElement('MaxParts', maxParts)}${xmlElement('IsTruncated', truncated)}${parts}` +
      `${xmlElement('ChecksumAlgorithm', algorithm)}${xmlElement('ChecksumType', upload.checksumType)}</ListPartsResult>`,
  );
}

async function abortMultipartUpload(ctx: FrontContext, r: S3Request): Promise<void> {
  r.req.resume();
  await ctx.objects.requireBucket(r.bucket);
  await ctx.uploads.abort(r.bucket, r.key, requiredUploadId(r.query));
  sendEmpty(r.res, 204);
}

async function listMultipartUploads(ctx: FrontContext, r: S3Request): Promise<void> {
  r.req.resume();
  await ctx.objects.requireBucket(r.bucket);
  const prefix = queryValue(r.query, 'prefix') ?? '';
  const delimiter = queryValue(r.query, 'delimiter') ?? '';
  const keyMarker = queryValue(r.query, 'key-marker') ?? '';
  const uploadIdMarker = keyMarker === '' ? '' : (queryValue(r.query, 'upload-id-marker') ?? '');
  const maxUploads = Math.min(integerParam(r.query, 'max-uploads', 1000), 1000);
  const encodingType = queryValue(r.query, 'encoding-type');
  if (encodingType !== undefined && encodingType !== 'url') {
    throw new S3Error(400, 'InvalidArgument', 'Invalid Encoding Method specified in Request', {
      ArgumentName: 'encoding-type',
      ArgumentValue: encodingType,
    });
  }
  const encode = (value: string) => (encodingType === 'url' ? encodeURIComponent(value).replace(/%2F/g, '/') : value);

  const uploads: UploadRecord[] = [];
  const prefixes: string[] = [];
  let truncated = false;
  let nextKeyMarker = '';
  let nextUploadIdMarker = '';
  for (const upload of ctx.uploads.list(r.bucket)) {
    if (!upload.key.startsWith(prefix)) continue;
    if (keyMarker !== '') {
      if (upload.key < keyMarker) continue;
      if (upload.key === keyMarker && (uploadIdMarker === '' || upload.uploadId <= uploadIdMarker)) continue;
    }
    const cut = delimiter === '' ? -1 : upload.key.indexOf(delimiter, prefix.length);
    const commonPrefix = cut === -1 ? undefined : upload.key.slice(0, cut + delimiter.length);
    if (commonPrefix !== undefined && (prefixes.at(-1) === commonPrefix || commonPrefix <= keyMarker)) continue;
    if (uploads.length + prefixes.length >= maxUploads) {
      truncated = true;
      break;
    }
    if (commonPrefix !== undefined) {
      prefixes.push(commonPrefix);
      nextKeyMarker = commonPrefix;
      nextUploadIdMarker = '';
    } else {
      uploads.push(upload);
      nextKeyMarker = upload.key;
      nextUploadIdMarker = upload.uploadId;
    }
  }
  const entries = uploads
    .map(
      (upload) =>
        `<Upload>${xmlElement('Key', encode(upload.key))}${xmlElement('UploadId', upload.uploadId)}<Initiator>${OWNER}</Initiator><Owner>${OWNER}</Owner>${xmlElement('StorageClass', upload.metadata['x-amz-storage-class'] ?? 'STANDARD')}${xmlElement('Initiated', upload.initiated)}${xmlElement('ChecksumAlgorithm', upload.checksumAlgorithm)}${xmlElement('ChecksumType', upload.checksumType)}</Upload>`,
    )
    .join('');
  const common = prefixes.map((p) => `<CommonPrefixes>${xmlElement('Prefix', encode(p))}</CommonPrefixes>`).join('');
  sendXml(
    r.res,
    200,
    `<ListMultipartUploadsResult xmlns="${S3_XMLNS}">${xmlElement('Bucket', r.bucket)}${xmlElement('KeyMarker', encode(keyMarker))}${xmlElement('UploadIdMarker', uploadIdMarker)}` +
      `${truncated ? xmlElement('NextKeyMarker', encode(nextKeyMarker)) + xmlElement('NextUploadIdMarker', nextUploadIdMarker) : ''}` +
      `${delimiter !== '' ? xmlElement('Delimiter', encode(delimiter)) : ''}${xmlElement('Prefix', encode(prefix))}` +
      `${xmlElement('MaxUploads', maxUploads)}${xmlElement('IsTruncated', truncated)}${entries}${common}` +
      `${encodingType ? xmlElement('EncodingType', encodingType) : ''}</ListMultipartUploadsResult>`,
  );
}

/** Largest CompleteMultipartUpload body accepted: 10,000 parts with every checksum fit comfortably. */
const MAX_COMPLETE_XML_BYTES = 10 * 1024 * 1024;

async function completeMultipartUpload(ctx: FrontContext, r: S3Request): Promise<void> {
  await ctx.objects.requireBucket(r.bucket);
  const uploadId = requiredUploadId(r.query);
  const upload = ctx.uploads.get(r.bucket, r.key, uploadId);
  const sink = new MemorySink(MAX_COMPLETE_XML_BYTES);
  await receiveBody(r.req, r.headers, r.auth, {
    sink,
    maxBytes: MAX_COMPLETE_XML_BYTES,
    tooLarge: () => new S3Error(400, 'MaxMessageLengthExceeded', 'Your request was too big.'),
    checksumHeadersAreBody: false,
  });
  const listed = parseCompleteXml(sink.text());

  // A whole-object checksum the client computed (x-amz-checksum-<algorithm> on Complete).
  const algorithm = upload.checksumAlgorithm;
  const expected = algorithm ? headerValue(r.headers, checksumHeader(algorithm)) : undefined;
  if (algorithm && expected !== undefined && !isWellFormedChecksum(algorithm, expected.replace(/-\d+$/, ''))) {
    throw new S3Error(400, 'InvalidRequest', `Value for ${checksumHeader(algorithm)} header is invalid.`);
  }
  const result = await ctx.uploads.complete(r.bucket, r.key, uploadId, listed, async (checksum) => {
    if (algorithm && expected !== undefined && checksum !== undefined) {
      if (expected.replace(/-\d+$/, '') !== checksum.replace(/-\d+$/, '')) {
        throw new S3Error(400, 'BadDigest', `The ${algorithm} you specified did not match the calculated checksum.`);
      }
    }
    await checkWriteConditions(ctx, r);
  });
  const location = `http://${headerValue(r.headers, 'host') ?? 'localhost'}/${encodeURIComponent(r.bucket)}/${encodeURIComponent(r.key).replace(/%2F/g, '/')}`;
  afterReply(r.res, () =>
    ctx.created({
      bucket: r.bucket,
      key: r.key,
      size: result.size,
      etag: result.etag,
      eventName: 'ObjectCreated:CompleteMultipartUpload',
    }),
  );
  sendXml(
    r.res,
    200,
    `<CompleteMultipartUploadResult xmlns="${S3_XMLNS}">${xmlElement('Location', location)}${xmlElement('Bucket', r.bucket)}${xmlElement('Key', r.key)}${xmlElement('ETag', `"${result.etag}"`)}${
      result.checksumAlgorithm && result.checksum !== undefined
        ? xmlElement(checksumElement(result.checksumAlgorithm), result.checksum)
        : ''
    }${xmlElement('ChecksumType', result.checksumType)}</CompleteMultipartUploadResult>`,
  );
}

const malformedXml = () =>
  new S3Error(
    400,
    'MalformedXML',
    'The XML you provided was not well-formed or did not validate against our published schema',
  );

/** `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"…"</ETag>[<ChecksumCRC32>…]</Part>…` */
export function parseCompleteXml(xml: string): CompletedPart[] {
  const body = xml.replace(/^\s*<\?xml[^>]*\?>/, '').trim();
  const root = /^<CompleteMultipartUpload(?:\s[^>]*)?>([\s\S]*)<\/CompleteMultipartUpload>$/.exec(body);
  if (!root) throw malformedXml();
  const inner = root[1] ?? '';
  const parts: CompletedPart[] = [];
  const rest = inner.replace(/<Part>([\s\S]*?)<\/Part>/g, (_, part: string) => {
    const field = (name: string) => {
      const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(part);
      return m ? unescapeXml(m[1] ?? '').trim() : undefined;
    };
    const partNumber = field('PartNumber');
    const etag = field('ETag');
    if (partNumber === undefined || !/^\d{1,9}$/.test(partNumber) || etag === undefined) throw malformedXml();
    const checksums: CompletedPart['checksums'] = {};
    for (const algorithm of ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const) {
      const value = field(checksumElement(algorithm));
      if (value !== undefined) checksums[algorithm] = value;
    }
    parts.push({ partNumber: Number(partNumber), etag, checksums });
    return '';
  });
  if (rest.trim() !== '' || parts.length === 0) throw malformedXml();
  return parts;
}

/** Runs `fn` once a reply has gone out with status 200 (S3 notifies only for objects it created). */
function afterReply(res: ServerResponse, fn: () => void): void {
  res.once('finish', () => {
    if (res.statusCode === 200) fn();
  });
}
