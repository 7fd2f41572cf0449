import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { GoDigestClient, parseGoChallenge } from '../helpers/go-digest.js';
import { openApiValidator } from '../helpers/openapi-validator.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';

const run = promisify(execFile);

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack();
});
afterAll(async () => {
  await t?.stop();
});
afterEach(() => {
  vi.useRealTimers();
});

const CHALLENGE =
  /^Digest realm="MMS Public API", domain="", nonce="[A-Za-z0-9_-]+", algorithm=MD5, qop="auth", stale=(true|false)$/;

describe('HTTP Digest authentication', () => {
  it.each([
    ['GET', () => t.atlasJobs()],
    ['POST', () => t.atlasJobs()],
    ['GET', () => `${t.publicJobs()}/000000000000000000000000`],
    ['GET', () => '/api/atlas/v1.0/groups/not-a-group/clusters/Nope/restoreJobs'],
  ])('answers an unsigned %s with the 401 challenge before anything else', async (method, path) => {
    const response = await fetch(`${t.baseUrl}${path()}`, { method, body: method === 'POST' ? '{' : undefined });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(CHALLENGE);
    expect(response.headers.get('www-authenticate')).toContain('stale=false');
    expect(await response.json()).toMatchObject({ error: 401, errorCode: 'USER_UNAUTHORIZED', reason: 'Unauthorized' });
  });

  it('sends a challenge the Go clients accept, and accepts their MD5 and SHA-256 answers', async () => {
    for (const algorithm of ['MD5', 'SHA-256'] as const) {
      const response = await t.client(t.keys.ownerA, algorithm).request('GET', t.atlasJobs());
      expect(response.status, response.text).toBe(200);
    }
  });

  it('refuses a wrong private key and an unknown public key with a fresh challenge', async () => {
    for (const client of [
      new GoDigestClient(t.baseUrl, t.keys.ownerA.publicKey, 'wrong'),
      new GoDigestClient(t.baseUrl, 'nobodyxx', t.keys.ownerA.privateKey),
      new GoDigestClient(t.baseUrl, 'u'.repeat(2100), 'x'),
    ]) {
      const response = await client.request('GET', t.atlasJobs());
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(CHALLENGE);
    }
  });

  it('refuses a response signed for another uri', async () => {
    const client = t.client(t.keys.ownerA);
    const first = await fetch(`${t.baseUrl}${t.atlasJobs()}`);
    const challenge = parseGoChallenge(first.headers.get('www-authenticate') ?? '');
    const authorization = client.authorization('GET', `${t.atlasJobs()}?pageNum=2`, challenge);
    const response = await fetch(`${t.baseUrl}${t.atlasJobs()}`, { headers: { authorization } });
    expect(response.status).toBe(401);
  });

  it('refuses a replayed nonce count', async () => {
    const client = t.client(t.keys.ownerA);
    const first = await fetch(`${t.baseUrl}${t.atlasJobs()}`);
    const challenge = parseGoChallenge(first.headers.get('www-authenticate') ?? '');
    const authorization = client.authorization('GET', t.atlasJobs(), challenge);
    const ok = await fetch(`${t.baseUrl}${t.atlasJobs()}`, { headers: { authorization } });
    const replay = await fetch(`${t.baseUrl}${t.atlasJobs()}`, { headers: { authorization } });
    expect(ok.status).toBe(200);
    expect(replay.status).toBe(401);
  });

  it('answers a correct response to an expired nonce with stale=true', async () => {
    const client = t.client(t.keys.ownerA);
    const first = await fetch(`${t.baseUrl}${t.atlasJobs()}`);
    const challenge = parseGoChallenge(first.headers.get('www-authenticate') ?? '');
    const authorization = client.authorization('GET', t.atlasJobs(), challenge);

    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 10 * 60_000 });
    const response = await fetch(`${t.baseUrl}${t.atlasJobs()}`, { headers: { authorization } });

    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(CHALLENGE);
    expect(response.headers.get('www-authenticate')).toContain('stale=true');
  });

  it('works with curl --digest, as the seed examples call it', async () => {
    const url = `${t.baseUrl}${t.publicJobs()}?pretty=true`;
    const { stdout, stderr } = await run('curl', [
      '--silent',
      // The status and type go to stderr, for the OpenAPI check (fetch's answers are checked by the test setup).
      '--write-out',
      '%{stderr}%{http_code} %{content_type}',
      '--user',
      `${t.keys.ownerA.publicKey}:${t.keys.ownerA.privateKey}`,
      '--digest',
      '--header',
      'Content-Type: application/json',
      '-X',
      'POST',
      url,
      '--data',
      JSON.stringify({ snapshotId: t.snapshotsA[0]?.id }),
    ]);
    const [status, contentType] = stderr.split(' ');
    openApiValidator().check({
      method: 'POST',
      url,
      status: Number(status),
      headers: new Headers({ 'content-type': contentType ?? '' }),
      text: stdout,
    });
    const body = JSON.parse(stdout) as { totalCount: number; results: { statusName: string }[] };
    expect(body.totalCount).toBe(1);
    expect(body.results[0]?.statusName).toBe('IN_PROGRESS');
    expect(stdout).toContain('\n  "');
  });
});

describe('authorization', () => {
  it('refuses a request from an address off the key access list with 403', async () => {
    const response = await t.client(t.keys.offListA).request('GET', t.atlasJobs());
    expect(response.status).toBe(403);
    expect(response.json()).toMatchObject({
      error: 403,
      errorCode: 'IP_ADDRESS_NOT_ON_ACCESS_LIST',
      reason: 'Forbidden',
    });
  });

  it('gives a key of another group the same 401 for existing and missing resources', async () => {
    const client = t.client(t.keys.ownerB);
    const existing = await client.request('GET', t.atlasJobs());
    const missing = await client.request('GET', t.atlasJobs(t.groupA, 'NoSuchCluster'));
    const unknownGroup = await client.request('GET', t.atlasJobs('0123456789abcdef01234567'));
    for (const response of [existing, missing, unknownGroup]) {
      expect(response.status).toBe(401);
      expect(response.json()).toEqual({
        detail: 'Current user is not authorized to perform this action.',
        error: 401,
        errorCode: 'USER_UNAUTHORIZED',
        parameters: [],
        reason: 'Unauthorized',
      });
    }
  });

  it('lets a read-only key read but not create', async () => {
    const client = t.client(t.keys.readA);
    expect((await client.request('GET', t.atlasJobs())).status).toBe(200);
    const post = await client.request('POST', t.atlasJobs(), { snapshotId: t.snapshotsA[0]?.id });
    expect(post.status).toBe(401);
    expect(post.json()).toMatchObject({ errorCode: 'USER_UNAUTHORIZED' });
  });

  it('lets a backup admin create', async () => {
    const post = await t.client(t.keys.backupA).request('POST', t.atlasJobs(), { snapshotId: t.snapshotsA[0]?.id });
    expect(post.status, post.text).toBe(200);
  });

  it('never shows one group the jobs or snapshots of another', async () => {
    // A job in group B
    const created = await t
      .client(t.keys.ownerB)
      .request('POST', t.atlasJobs(t.groupB), { snapshotId: t.snapshotB.id });
    const jobB = (created.json() as { results: { id: string }[] }).results[0]?.id;
    // Group A's owner asks for it through group A's cluster, and tries B's snapshot on A's cluster
    const viaA = await t.client(t.keys.ownerA).request('GET', `${t.atlasJobs()}/${jobB}`);
    const snapshotOfB = await t.client(t.keys.ownerA).request('POST', t.atlasJobs(), { snapshotId: t.snapshotB.id });
    expect(viaA.status).toBe(404);
    expect(viaA.json()).toMatchObject({ errorCode: 'RESTORE_JOB_NOT_FOUND' });
    expect(snapshotOfB.status).toBe(404);
    expect(snapshotOfB.json()).toMatchObject({ errorCode: 'SNAPSHOT_NOT_FOUND' });
  });
});
