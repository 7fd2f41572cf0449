/**
 * The CLI's download module against a real HTTP server that behaves like S3 for a presigned GET (Range, 206,
 * Content-Range) and misbehaves on purpose: drops the connection mid-body, stalls, ignores Range, resumes at the
 * wrong place. The server records every request, so a test sees exactly how the client resumed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { downloadWithResume, openDelivery } from '../../cli/download.js';
import { ApiError, CliError, EXIT } from '../../cli/errors.js';

const FILE = randomBytes(3 * 1024 * 1024 + 17);
const SHA1 = createHash('sha1').update(FILE).digest('hex');

type Behaviour = (req: IncomingMessage, res: ServerResponse, attempt: number) => void;

let server: Server;
let base: string;
let dir: string;
let behaviour: Behaviour;
let requests: { url: string; range: string | undefined }[];

/** Serves FILE from `start` (a Range request gets 206 and Content-Range, as S3 answers it). */
function serve(req: IncomingMessage, res: ServerResponse, options: { cutAfter?: number; stallAfter?: number } = {}) {
  const match = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const start = match ? Number(match[1]) : 0;
  const headers: Record<string, string | number> = { 'content-length': FILE.length - start, 'accept-ranges': 'bytes' };
  if (match) headers['content-range'] = `bytes ${start}-${FILE.length - 1}/${FILE.length}`;
  res.writeHead(match ? 206 : 200, headers);
  const body = FILE.subarray(start);
  if (options.cutAfter !== undefined) {
    // Sent, flushed, then the socket is destroyed: the client sees a connection that ends mid-body.
    res.write(body.subarray(0, options.cutAfter), () => setTimeout(() => res.socket?.destroy(), 20));
    return;
  }
  if (options.stallAfter !== undefined) {
    res.write(body.subarray(0, options.stallAfter));
    return; // never ends: only the client's idle timeout gets it out
  }
  res.end(body);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cli-download-'));
  server = createServer((req, res) => {
    requests.push({ url: req.url ?? '', range: req.headers.range });
    behaviour(req, res, requests.length);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  requests = [];
});

const download = (file: string, extra: Partial<Parameters<typeof downloadWithResume>[0]> = {}) =>
  downloadWithResume({
    url: `${base}/artifact.tar.gz?X-Amz-Signature=abc`,
    file: join(dir, file),
    retryDelayMs: 10,
    ...extra,
  });

describe('downloadWithResume', () => {
  it('resumes a dropped connection with Range from the byte it got to, and hashes the whole file', async () => {
    // Prepare: the first answer is cut after 1 MiB + 5 bytes
    const cut = 1024 * 1024 + 5;
    behaviour = (req, res, attempt) => serve(req, res, attempt === 1 ? { cutAfter: cut } : {});
    const retries: number[] = [];

    // Act
    const result = await download('dropped.tar.gz', { onRetry: (received) => retries.push(received) });

    // Assess
    expect(requests.map((r) => r.range)).toEqual([undefined, `bytes=${cut}-`]);
    expect(requests[1]?.url).toBe('/artifact.tar.gz?X-Amz-Signature=abc');
    expect(retries).toEqual([cut]);
    expect(result).toEqual({ bytes: FILE.length, sha1: SHA1, resumes: 1 });
    expect((await readFile(join(dir, 'dropped.tar.gz'))).equals(FILE)).toBe(true);
  });

  it('resumes a connection that stalls, after the idle timeout', async () => {
    behaviour = (req, res, attempt) => serve(req, res, attempt === 1 ? { stallAfter: 4096 } : {});

    const result = await download('stalled.tar.gz', { idleTimeoutMs: 300 });

    expect(requests.map((r) => r.range)).toEqual([undefined, 'bytes=4096-']);
    expect(result.sha1).toBe(SHA1);
    expect((await readFile(join(dir, 'stalled.tar.gz'))).equals(FILE)).toBe(true);
  });

  it('starts over when the server ignores Range and sends the whole file again', async () => {
    behaviour = (req, res, attempt) => {
      if (attempt === 1) serve(req, res, { cutAfter: 70_000 });
      else {
        delete req.headers.range;
        serve(req, res);
      }
    };

    const result = await download('restarted.tar.gz');

    expect(requests.map((r) => r.range)).toEqual([undefined, 'bytes=70000-']);
    expect(result).toEqual({ bytes: FILE.length, sha1: SHA1, resumes: 1 });
    expect((await readFile(join(dir, 'restarted.tar.gz'))).equals(FILE)).toBe(true);
  });

  it('refuses a resume that starts somewhere else than asked', async () => {
    behaviour = (req, res, attempt) => {
      if (attempt === 1) return serve(req, res, { cutAfter: 70_000 });
      res.writeHead(206, { 'content-range': `bytes 0-${FILE.length - 1}/${FILE.length}` });
      res.end(FILE);
    };

    const error = await download('misplaced.tar.gz').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).message).toMatch(/resumed at the wrong place.*expected bytes 70000-/);
  });

  it('gives up after the retries in a row that get nothing, and says how far it got', async () => {
    behaviour = (req, res, attempt) => {
      if (attempt === 1) return serve(req, res, { cutAfter: 1000 });
      req.socket.destroy();
    };

    const error = await download('gave-up.tar.gz', { maxRetries: 2 }).catch((e: unknown) => e);

    expect(requests).toHaveLength(3); // the first (which got 1000 bytes), then 2 retries that got nothing
    expect((error as CliError).exitCode).toBe(EXIT.apiError);
    expect((error as CliError).message).toMatch(/^download failed after 1000 bytes/);
  });

  it("reports S3's error code when the presigned URL is refused", async () => {
    behaviour = (_req, res) => {
      res.writeHead(403, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>');
    };

    const error = await download('expired.tar.gz').catch((e: unknown) => e);

    expect((error as CliError).message).toBe('download failed: AccessDenied (403): Request has expired');
  });
});

describe('openDelivery', () => {
  it('follows nothing: it returns the redirect target, resolved against the delivery URL', async () => {
    behaviour = (_req, res) => {
      res.writeHead(302, { location: '/bucket/artifact.tar.gz?X-Amz-Signature=abc' });
      res.end();
    };

    const location = await openDelivery(`${base}/backup/restore/v2/pull/job/token/file.tar.gz`);

    expect(location).toBe(`${base}/bucket/artifact.tar.gz?X-Amz-Signature=abc`);
    expect(requests).toHaveLength(1);
  });

  it("turns the service's refusal into MongoDB's error, without the bearer URL in the message", async () => {
    behaviour = (_req, res) => {
      res.writeHead(410, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          detail: 'The download link has expired.',
          error: 410,
          errorCode: 'RESTORE_JOB_DOWNLOAD_EXPIRED',
          parameters: [],
          reason: 'Gone',
        }),
      );
    };

    const error = await openDelivery(`${base}/backup/restore/v2/pull/job/secret-token/file.tar.gz`).catch((e) => e);

    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).message).toBe('RESTORE_JOB_DOWNLOAD_EXPIRED (410): The download link has expired.');
    expect((error as ApiError).message).not.toContain('secret-token');
  });
});
