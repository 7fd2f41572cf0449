import { createHash, type Hash } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Transform, type TransformCallback, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  algorithmOfHeader,
  type Checksum,
  type ChecksumAlgorithm,
  checksumHeader,
  createChecksum,
  isChecksumAlgorithm,
  isWellFormedChecksum,
} from './s3-checksums.js';
import { AwsChunkedDecoder, type ChunkSigning } from './s3-chunked.js';
import { headerValue, S3Error } from './s3-protocol.js';

/** How a request was authenticated, as far as its body is concerned. */
export interface PayloadAuth {
  /**
   * The payload hash the signature covers (x-amz-content-sha256): UNSIGNED-PAYLOAD, a hex SHA-256, or one of the
   * STREAMING-* values of the aws-chunked encoding.
   */
  payloadHash: string;
  /** For header-signed requests: what chunk signatures chain from. */
  signing?: ChunkSigning;
}

export interface ReceivedBody {
  /** Bytes of the decoded body (what is stored). */
  size: number;
  md5: Buffer;
  /** Base64 checksums of the decoded body: the one the client sent (verified) and any asked for. */
  checksums: Map<ChecksumAlgorithm, string>;
  /** The algorithm of the checksum the client sent (header or trailer), if any. */
  clientChecksum?: ChecksumAlgorithm;
}

export interface ReceiveOptions {
  /** Where the decoded body goes (a staging file, or memory for small XML bodies). */
  sink: Writable;
  /** Larger bodies are refused before they are read. */
  maxBytes: number;
  /** The error for a body over maxBytes. */
  tooLarge?: (size: number) => S3Error;
  /** Checksums to compute whether or not the client sent them (a multipart upload's algorithm). */
  compute?: readonly ChecksumAlgorithm[];
  /**
   * Whether x-amz-checksum-* headers are the body's checksum (PutObject, UploadPart). On
   * CompleteMultipartUpload they are the object's, checked by the caller.
   */
  checksumHeadersAreBody?: boolean;
  /** The only checksum algorithm the client may send (a multipart upload's). */
  expectedAlgorithm?: ChecksumAlgorithm;
}

export const MAX_PUT_BYTES = 5 * 1024 ** 3;

const STREAMING_UNSIGNED_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';
const STREAMING_SIGNED = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
const STREAMING_SIGNED_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';

const invalidRequest = (message: string) => new S3Error(400, 'InvalidRequest', message);

/**
 * Reads a PutObject/UploadPart (or small XML) request body into `sink` as S3 receives it: aws-chunked bodies are
 * decoded (their chunk and trailer signatures checked when signed), and the payload's SHA-256 (when signed as a
 * hex value), Content-MD5 and the x-amz-checksum-* header or trailer are verified. Throws an S3Error; the sink's
 * content is then not to be used (the caller discards it). Streams: memory stays flat whatever the size.
 */
export async function receiveBody(
  req: IncomingMessage,
  headers: IncomingHttpHeaders,
  auth: PayloadAuth,
  opts: ReceiveOptions,
): Promise<ReceivedBody> {
  const header = (name: string) => headerValue(headers, name);
  const mode = payloadMode(auth);
  const declaredLength = header(mode.chunked ? 'x-amz-decoded-content-length' : 'content-length');
  if (declaredLength === undefined || !/^\d+$/.test(declaredLength)) {
    throw new S3Error(411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.');
  }
  const size = Number(declaredLength);
  if (size > opts.maxBytes) {
    throw (
      opts.tooLarge?.(size) ??
      new S3Error(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', {
        ProposedSize: String(size),
        MaxSizeAllowed: String(opts.maxBytes),
      })
    );
  }

  // The client's checksum: one x-amz-checksum-* header, or a trailer named by x-amz-trailer.
  const bodyChecksums = opts.checksumHeadersAreBody ?? true;
  const checksumHeaders = bodyChecksums
    ? Object.keys(headers).filter((name) => algorithmOfHeader(name) !== undefined)
    : [];
  const trailerName = header('x-amz-trailer')?.trim().toLowerCase();
  if (trailerName !== undefined && !mode.trailer) {
    throw invalidRequest('x-amz-trailer is only allowed with a STREAMING-*-TRAILER x-amz-content-sha256.');
  }
  if (mode.trailer && trailerName === undefined) {
    throw invalidRequest('A STREAMING-*-TRAILER payload requires the x-amz-trailer header.');
  }
  const trailerAlgorithm = trailerName === undefined ? undefined : algorithmOfHeader(trailerName);
  if (trailerName !== undefined && trailerAlgorithm === undefined) {
    throw invalidRequest('The value specified in the x-amz-trailer header is not supported');
  }
  if (checksumHeaders.length + (trailerAlgorithm ? 1 : 0) > 1) {
    throw invalidRequest('Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
  }
  const headerName = checksumHeaders[0];
  const headerAlgorithm = headerName === undefined ? undefined : algorithmOfHeader(headerName);
  const headerChecksum = headerName === undefined ? undefined : header(headerName);
  if (headerAlgorithm && (headerChecksum === undefined || !isWellFormedChecksum(headerAlgorithm, headerChecksum))) {
    throw invalidRequest(`Value for ${checksumHeader(headerAlgorithm)} header is invalid.`);
  }
  const clientChecksum = headerAlgorithm ?? trailerAlgorithm;
  if (clientChecksum && opts.expectedAlgorithm && clientChecksum !== opts.expectedAlgorithm) {
    throw invalidRequest(
      `Checksum Type mismatch occurred, expected checksum Type: ${opts.expectedAlgorithm.toLowerCase()}, actual checksum Type: ${clientChecksum.toLowerCase()}`,
    );
  }
  const sdkAlgorithm = header('x-amz-sdk-checksum-algorithm')?.toUpperCase();
  if (sdkAlgorithm !== undefined && bodyChecksums) {
    if (!isChecksumAlgorithm(sdkAlgorithm)) {
      throw invalidRequest('Value for x-amz-sdk-checksum-algorithm header is invalid.');
    }
    if (clientChecksum !== sdkAlgorithm) {
      throw invalidRequest(
        'x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.',
      );
    }
  }
  const contentMd5 = header('content-md5');
  if (contentMd5 !== undefined && Buffer.from(contentMd5, 'base64').length !== 16) {
    throw new S3Error(400, 'InvalidDigest', 'The Content-MD5 you specified was not valid.', {
      'Content-MD5': contentMd5,
    });
  }

  const algorithms = new Set<ChecksumAlgorithm>(opts.compute ?? []);
  if (clientChecksum) algorithms.add(clientChecksum);
  const digests = new Digests(mode.sha256 !== undefined, algorithms);
  const decoder = mode.chunked
    ? new AwsChunkedDecoder({
        trailer: mode.trailer,
        decodedLength: size,
        ...(mode.signed && auth.signing ? { signing: auth.signing } : {}),
      })
    : undefined;
  await pump(req, decoder ? [decoder, digests, opts.sink] : [digests, opts.sink]);

  const computed = await digests.results();
  if (mode.sha256 !== undefined && computed.sha256 !== mode.sha256) {
    throw new S3Error(
      400,
      'XAmzContentSHA256Mismatch',
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
      { ClientComputedContentSHA256: mode.sha256, S3ComputedContentSHA256: computed.sha256 ?? '' },
    );
  }
  if (contentMd5 !== undefined && !Buffer.from(contentMd5, 'base64').equals(computed.md5)) {
    throw new S3Error(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.', {
      ExpectedDigest: Buffer.from(contentMd5, 'base64').toString('hex'),
      CalculatedDigest: computed.md5.toString('hex'),
    });
  }
  if (clientChecksum) {
    let provided = headerChecksum;
    if (trailerName !== undefined) {
      provided = decoder?.trailers.get(trailerName);
      if (provided === undefined) {
        throw new S3Error(
          400,
          'MalformedTrailerError',
          'The request contained trailing data that was not well-formed or did not conform to our published schema.',
        );
      }
      if (!isWellFormedChecksum(clientChecksum, provided)) {
        throw invalidRequest(`Value for ${trailerName} trailing header is invalid.`);
      }
    }
    if (provided !== computed.checksums.get(clientChecksum)) {
      throw new S3Error(400, 'BadDigest', `The ${clientChecksum} you specified did not match the calculated checksum.`);
    }
  }
  return {
    size: digests.bytes,
    md5: computed.md5,
    checksums: computed.checksums,
    ...(clientChecksum ? { clientChecksum } : {}),
  };
}

interface PayloadMode {
  chunked: boolean;
  trailer: boolean;
  signed: boolean;
  /** The hex SHA-256 the body must have. */
  sha256?: string;
}

function payloadMode(auth: PayloadAuth): PayloadMode {
  const value = auth.payloadHash;
  if (value === 'UNSIGNED-PAYLOAD') return { chunked: false, trailer: false, signed: false };
  if (/^[0-9a-f]{64}$/.test(value)) return { chunked: false, trailer: false, signed: false, sha256: value };
  if (value === STREAMING_UNSIGNED_TRAILER) return { chunked: true, trailer: true, signed: false };
  if (value === STREAMING_SIGNED || value === STREAMING_SIGNED_TRAILER) {
    if (!auth.signing) {
      throw new S3Error(400, 'InvalidArgument', `${value} requires a request signed with the Authorization header.`);
    }
    return { chunked: true, trailer: value === STREAMING_SIGNED_TRAILER, signed: true };
  }
  throw new S3Error(
    400,
    'InvalidArgument',
    `x-amz-content-sha256 must be UNSIGNED-PAYLOAD, ${STREAMING_UNSIGNED_TRAILER}, ${STREAMING_SIGNED}, ${STREAMING_SIGNED_TRAILER} or a valid sha256 value.`,
    { ArgumentName: 'x-amz-content-sha256', ArgumentValue: value },
  );
}

/** Pipes the request through the stages without ever destroying it (an error reply must still go out on it). */
async function pump(req: IncomingMessage, stages: [Transform, ...(Transform | Writable)[]]): Promise<void> {
  const [first] = stages;
  const onClose = () => {
    if (!req.complete) first.destroy(new S3Error(400, 'IncompleteBody', 'The request body terminated unexpectedly'));
  };
  req.once('close', onClose);
  req.pipe(first);
  try {
    // pipeline() needs two streams at least; the tuple type ensures the digests stage and the sink are there.
    await pipeline(stages as unknown as [Transform, Writable]);
  } finally {
    req.off('close', onClose);
    req.unpipe(first);
  }
}

/** Passes the body on unchanged while computing its MD5, SHA-256 (if needed) and checksums. */
export class Digests extends Transform {
  bytes = 0;
  private readonly md5: Hash = createHash('md5');
  private readonly sha256: Hash | undefined;
  private readonly checksums = new Map<ChecksumAlgorithm, Checksum>();

  constructor(sha256: boolean, algorithms: Iterable<ChecksumAlgorithm>) {
    super();
    this.sha256 = sha256 ? createHash('sha256') : undefined;
    for (const algorithm of algorithms) this.checksums.set(algorithm, createChecksum(algorithm));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    this.md5.update(chunk);
    this.sha256?.update(chunk);
    for (const checksum of this.checksums.values()) checksum.update(chunk);
    callback(null, chunk);
  }

  async results(): Promise<{ md5: Buffer; sha256?: string; checksums: Map<ChecksumAlgorithm, string> }> {
    const checksums = new Map<ChecksumAlgorithm, string>();
    for (const [algorithm, checksum] of this.checksums)
      checksums.set(algorithm, (await checksum.digest()).toString('base64'));
    return {
      md5: this.md5.digest(),
      ...(this.sha256 ? { sha256: this.sha256.digest('hex') } : {}),
      checksums,
    };
  }
}

/** A sink that keeps a small body in memory (CompleteMultipartUpload's XML). */
export class MemorySink extends Writable {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  constructor(private readonly limit: number) {
    super();
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) {
      callback(new S3Error(400, 'MaxMessageLengthExceeded', 'Your request was too big.'));
      return;
    }
    this.chunks.push(chunk);
    callback();
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}
