import { createHash, createHmac, type Hash, timingSafeEqual } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { S3Error } from './s3-protocol.js';

/**
 * S3's `aws-chunked` content encoding, decoded as a stream (flat memory: data is passed on as slices of the
 * received buffers). The body is a series of chunks, each `<hex size>[;chunk-signature=<sig>]\r\n<data>\r\n`,
 * ended by a chunk of size 0; with a trailer, trailing headers (`x-amz-checksum-crc32:<b64>\r\n`, and for signed
 * payloads `x-amz-trailer-signature:<sig>\r\n`) and an empty line follow the last chunk.
 *
 * Signed payloads (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]) chain every chunk's signature to the previous
 * one, starting from the request's own (seed) signature; each is checked when its chunk ends, and the trailer's
 * signature when the trailer ends. A chunk whose data is already passed on is only known bad at its end: the
 * consumer must discard the output on error (the local front writes it to a staging file first).
 */

export interface ChunkSigning {
  /** The SigV4 signing key (HMAC chain of the secret, date, region, service). */
  signingKey: Buffer;
  /** The request's X-Amz-Date, e.g. 20130524T000000Z. */
  amzDate: string;
  /** `20130524/us-east-1/s3/aws4_request` */
  scope: string;
  /** The Authorization header's signature. */
  seedSignature: string;
}

export interface AwsChunkedOptions {
  /** Present for signed payloads: every chunk (and the trailer) must carry a valid signature. */
  signing?: ChunkSigning;
  /** Whether trailing headers follow the last chunk (x-amz-trailer). */
  trailer: boolean;
  /** x-amz-decoded-content-length: the decoded data must be exactly this long. */
  decodedLength: number;
}

/** S3 refuses chunks smaller than this, except the last one. */
export const MIN_CHUNK_BYTES = 8192;
const MAX_LINE_BYTES = 4096;
const EMPTY_SHA256 = createHash('sha256').digest('hex');

export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  const kDate = createHmac('sha256', `AWS4${secret}`).update(date).digest();
  const kRegion = createHmac('sha256', kDate).update(region).digest();
  const kService = createHmac('sha256', kRegion).update(service).digest();
  return createHmac('sha256', kService).update('aws4_request').digest();
}

/** The signature of one chunk, given the previous signature and the hex SHA-256 of the chunk's data. */
export function chunkSignature(signing: Omit<ChunkSigning, 'seedSignature'>, previous: string, dataSha256: string) {
  const stringToSign = [
    'AWS4-HMAC-SHA256-PAYLOAD',
    signing.amzDate,
    signing.scope,
    previous,
    EMPTY_SHA256,
    dataSha256,
  ].join('\n');
  return createHmac('sha256', signing.signingKey).update(stringToSign).digest('hex');
}

/** The signature of the trailing headers, given the last chunk's signature and their canonical form. */
export function trailerSignature(signing: Omit<ChunkSigning, 'seedSignature'>, previous: string, canonical: string) {
  const stringToSign = [
    'AWS4-HMAC-SHA256-TRAILER',
    signing.amzDate,
    signing.scope,
    previous,
    createHash('sha256').update(canonical).digest('hex'),
  ].join('\n');
  return createHmac('sha256', signing.signingKey).update(stringToSign).digest('hex');
}

const incomplete = () =>
  new S3Error(
    400,
    'IncompleteBody',
    'You did not provide the number of bytes specified by the Content-Length HTTP header',
  );
const malformed = (detail: string) =>
  new S3Error(400, 'InvalidRequest', `The aws-chunked request body is malformed: ${detail}`);
const malformedTrailer = () =>
  new S3Error(
    400,
    'MalformedTrailerError',
    'The request contained trailing data that was not well-formed or did not conform to our published schema.',
  );
const signatureMismatch = () =>
  new S3Error(
    403,
    'SignatureDoesNotMatch',
    'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
  );

type State = 'header' | 'data' | 'data-end' | 'trailer' | 'final-crlf' | 'done';

export class AwsChunkedDecoder extends Transform {
  /** Trailing headers received (lower-case names), once the body has ended. */
  readonly trailers = new Map<string, string>();

  private state: State = 'header';
  /** Bytes of a line (chunk header, trailer line, CRLF) not complete yet. */
  private line: Buffer[] = [];
  private lineBytes = 0;
  private remaining = 0;
  private decoded = 0;
  private chunks = 0;
  private lastChunkSize = -1;
  private chunkSig: string | undefined;
  private chunkHash: Hash | undefined;
  private previousSig: string;
  private readonly trailerLines: string[] = [];

  constructor(private readonly options: AwsChunkedOptions) {
    super();
    this.previousSig = options.signing?.seedSignature ?? '';
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.consume(chunk);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (this.state === 'trailer' && this.lineBytes === 0) {
        // Lenient: a trailer section the stream ends without its closing empty line.
        this.endTrailer();
      } else if (this.state === 'final-crlf' && this.lineBytes === 0) {
        this.state = 'done';
      }
      if (this.state !== 'done') throw incomplete();
      if (this.decoded !== this.options.decodedLength) throw incomplete();
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  private consume(buf: Buffer): void {
    let offset = 0;
    while (offset < buf.length) {
      switch (this.state) {
        case 'data': {
          const take = Math.min(this.remaining, buf.length - offset);
          const slice = buf.subarray(offset, offset + take);
          this.chunkHash?.update(slice);
          this.push(slice);
          this.remaining -= take;
          this.decoded += take;
          offset += take;
          if (this.remaining === 0) this.state = 'data-end';
          break;
        }
        case 'done':
          throw malformed('data after the last chunk');
        default: {
          // Line-oriented states: collect up to CRLF.
          const lf = buf.indexOf(0x0a, offset);
          const end = lf === -1 ? buf.length : lf + 1;
          this.line.push(buf.subarray(offset, end));
          this.lineBytes += end - offset;
          offset = end;
          if (this.lineBytes > MAX_LINE_BYTES) throw malformed('line too long');
          if (lf !== -1) {
            const line = Buffer.concat(this.line, this.lineBytes);
            this.line = [];
            this.lineBytes = 0;
            if (line.length < 2 || line[line.length - 2] !== 0x0d) throw malformed('line not ended by CRLF');
            this.onLine(line.subarray(0, line.length - 2).toString('latin1'));
          }
        }
      }
    }
  }

  private onLine(line: string): void {
    switch (this.state) {
      case 'header':
        this.onChunkHeader(line);
        return;
      case 'data-end':
        if (line !== '') throw malformed('chunk data longer than its declared size');
        this.endChunk();
        this.state = 'header';
        return;
      case 'trailer':
        if (line === '') {
          // An empty line before any trailing header separates them from the last chunk (some clients send one).
          if (this.trailerLines.length > 0) this.endTrailer();
          return;
        }
        this.trailerLines.push(line);
        return;
      case 'final-crlf':
        if (line !== '') throw malformed('data after the last chunk');
        this.state = 'done';
        return;
      default:
        throw malformed('unexpected line');
    }
  }

  private onChunkHeader(line: string): void {
    const m = /^([0-9a-fA-F]{1,16})(?:;chunk-signature=([0-9a-f]{64}))?$/.exec(line);
    if (!m?.[1]) throw malformed(`bad chunk header ${JSON.stringify(line.slice(0, 100))}`);
    const size = Number.parseInt(m[1], 16);
    const signature = m[2];
    if (this.options.signing && signature === undefined) throw malformed('chunk without chunk-signature');
    if (!this.options.signing && signature !== undefined) throw malformed('chunk-signature in an unsigned payload');
    if (size > 0) {
      this.chunks += 1;
      if (this.lastChunkSize >= 0 && this.lastChunkSize < MIN_CHUNK_BYTES) {
        throw new S3Error(
          403,
          'InvalidChunkSizeError',
          'Only the last chunk is allowed to have a size less than 8192 bytes',
          {
            // As S3 reports it: the number of the chunk that followed the short one.
            Chunk: String(this.chunks),
            BadChunkSize: String(this.lastChunkSize),
          },
        );
      }
      this.lastChunkSize = size;
      if (this.decoded + size > this.options.decodedLength) throw incomplete();
    }
    this.chunkSig = signature;
    this.chunkHash = this.options.signing ? createHash('sha256') : undefined;
    if (size === 0) {
      this.endChunk();
      this.state = this.options.trailer ? 'trailer' : 'final-crlf';
      return;
    }
    this.remaining = size;
    this.state = 'data';
  }

  /** Checks the signature of the chunk that just ended (signed payloads). */
  private endChunk(): void {
    const signing = this.options.signing;
    if (!signing || !this.chunkHash || this.chunkSig === undefined) return;
    const expected = chunkSignature(signing, this.previousSig, this.chunkHash.digest('hex'));
    if (!sameHex(expected, this.chunkSig)) throw signatureMismatch();
    this.previousSig = expected;
  }

  private endTrailer(): void {
    let signature: string | undefined;
    let canonical = '';
    for (const line of this.trailerLines) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw malformedTrailer();
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'x-amz-trailer-signature') {
        signature = value;
        continue;
      }
      if (signature !== undefined) throw malformedTrailer();
      this.trailers.set(name, value);
      canonical += `${name}:${value}\n`;
    }
    const signing = this.options.signing;
    if (signing) {
      if (signature === undefined) throw malformedTrailer();
      if (!sameHex(trailerSignature(signing, this.previousSig, canonical), signature)) throw signatureMismatch();
    }
    this.state = 'done';
  }
}

function sameHex(expected: string, provided: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(provided);
  return a.length === b.length && timingSafeEqual(a, b);
}
