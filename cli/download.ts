/**
 * Downloading a restore artifact: one request to the delivery URL (the service counts it against `maxDownloads`
 * and answers 302 to a presigned S3 URL valid for 5 minutes), then the file from S3, streamed to disk with its
 * SHA-1 computed on the way. A dropped or stalled connection is resumed on the same presigned URL with
 * `Range: bytes=<received>-`, never by asking the delivery URL again, which would spend another download.
 */
import { createHash, type Hash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { ApiError, CliError, describeCause, EXIT, mongoErrorBody } from './errors.js';

/**
 * The presigned URL behind a delivery URL. Costs one download. A delivery URL is a bearer credential: no Digest,
 * and it never goes into an error message.
 */
export async function openDelivery(deliveryUrl: string, fetchImpl: typeof fetch = fetch): Promise<string> {
  let response: Response;
  try {
    response = await fetchImpl(deliveryUrl, { redirect: 'manual' });
  } catch (error) {
    throw new CliError(EXIT.apiError, `cannot reach ${new URL(deliveryUrl).origin}: ${describeCause(error)}`);
  }
  const location = response.headers.get('location');
  const text = await response.text();
  if (response.status >= 300 && response.status < 400 && location !== null) {
    return new URL(location, deliveryUrl).href;
  }
  throw new ApiError(response.status, mongoErrorBody(text), text, 'GET', '/backup/restore/v2/pull/…');
}

export interface DownloadOptions {
  /** The presigned URL. */
  url: string;
  /** Written from the start (truncated), then appended to. */
  file: string;
  /** Attempts in a row that receive nothing before giving up (default 5). */
  maxRetries?: number;
  /** Pause before the first retry, doubled each time (default 1 s). */
  retryDelayMs?: number;
  /** A connection that delivers no byte for this long is dropped and resumed (default 60 s). */
  idleTimeoutMs?: number;
  onStart?: (total: number | undefined, from: number) => void;
  onProgress?: (received: number) => void;
  onRetry?: (received: number, reason: string) => void;
  fetch?: typeof fetch;
}

export interface Downloaded {
  bytes: number;
  /** Hex SHA-1 of the whole file. */
  sha1: string;
  /** How many times the transfer was resumed. */
  resumes: number;
}

/** `Content-Range: bytes 100-999/1000` → {start: 100, total: 1000}. */
function parseContentRange(value: string | null): { start: number; total: number | undefined } | undefined {
  const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value?.trim() ?? '');
  if (!match) return undefined;
  return { start: Number(match[1]), total: match[3] === '*' ? undefined : Number(match[3]) };
}

/** S3's error body is XML: its Code and Message say what went wrong (e.g. the URL expired). */
function s3Problem(status: number, text: string): string {
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1];
  return code !== undefined ? `${code} (${status}): ${message ?? ''}` : `HTTP ${status}`;
}

export async function downloadWithResume(options: DownloadOptions): Promise<Downloaded> {
  const fetchImpl = options.fetch ?? fetch;
  const maxRetries = options.maxRetries ?? 5;
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  let hash: Hash = createHash('sha1');
  let received = 0;
  let total: number | undefined;
  let failures = 0;
  let resumes = 0;
  const file = await open(options.file, 'w');
  try {
    for (;;) {
      const resuming = received > 0;
      const controller = new AbortController();
      let idle: NodeJS.Timeout | undefined;
      const arm = () => {
        clearTimeout(idle);
        idle = setTimeout(() => controller.abort(new Error(`no data for ${idleTimeoutMs} ms`)), idleTimeoutMs);
      };
      const before = received;
      let problem: string | undefined;
      try {
        arm();
        const response = await fetchImpl(options.url, {
          // identity: the bytes as stored, which is what `hashes` is the SHA-1 of.
          headers: resuming
            ? { range: `bytes=${received}-`, 'accept-encoding': 'identity' }
            : { 'accept-encoding': 'identity' },
          signal: controller.signal,
        });
        if (resuming && response.status === 206) {
          const range = parseContentRange(response.headers.get('content-range'));
          if (range === undefined || range.start !== received || (total !== undefined && range.total !== total)) {
            await response.body?.cancel();
            throw new CliError(
              EXIT.apiError,
              `the server resumed at the wrong place (Content-Range: ${response.headers.get('content-range')}, expected bytes ${received}-)`,
            );
          }
          total = range.total ?? total;
        } else if (response.status === 200) {
          // First request, or a server that ignores Range: the body is the whole file, so start over.
          if (resuming) {
            await file.truncate(0);
            hash = createHash('sha1');
            received = 0;
          }
          const length = response.headers.get('content-length');
          total = length === null ? undefined : Number(length);
        } else {
          const text = await response.text();
          const hint =
            response.status === 403 && resuming ? ' (the presigned URL lives 5 minutes; start the download again)' : '';
          throw new CliError(EXIT.apiError, `download failed: ${s3Problem(response.status, text)}${hint}`);
        }
        if (resuming) resumes++;
        options.onStart?.(total, received);
        if (response.body === null) throw new Error('no body');
        for await (const chunk of response.body) {
          arm();
          const bytes = chunk as Uint8Array;
          await file.write(bytes, 0, bytes.length, received);
          hash.update(bytes);
          received += bytes.length;
          options.onProgress?.(received);
        }
        if (total === undefined || received === total) return { bytes: received, sha1: hash.digest('hex'), resumes };
        if (received > total) throw new CliError(EXIT.apiError, `received ${received} bytes of a ${total}-byte file`);
        problem = `the connection ended after ${received} of ${total} bytes`;
      } catch (error) {
        if (error instanceof CliError) throw error;
        problem = controller.signal.aborted ? describeCause(controller.signal.reason) : describeCause(error);
      } finally {
        clearTimeout(idle);
      }
      failures = received > before ? 1 : failures + 1;
      if (failures > maxRetries) {
        throw new CliError(EXIT.apiError, `download failed after ${received} bytes: ${problem}`);
      }
      options.onRetry?.(received, problem);
      await new Promise((resolve) => setTimeout(resolve, (options.retryDelayMs ?? 1000) * 2 ** (failures - 1)));
    }
  } finally {
    await file.close();
  }
}
