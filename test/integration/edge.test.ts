import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_REQUEST_BODY_BYTES } from '#functions/commons/http.js';
import { goError } from '../helpers/go-contract.js';
import { GoDigestClient, parseGoChallenge } from '../helpers/go-digest.js';
import { startTestStack, type TestStack, waitForJob } from '../helpers/stack.js';

type Json = Record<string, any>;

// What the API answers at its edge: requests no route takes, bodies over the limits, and the base URL its
// answers, events and delivery URLs are built on.

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack();
  await t.admin.cluster({ groupId: t.groupA, name: 'Target' });
});
afterAll(async () => {
  await t?.stop();
});

const jobId = '0123456789abcdef01234567';

describe('requests no route takes', () => {
  it.each([
    ['GET', '/'],
    ['GET', '/nowhere'],
    ['GET', '/api/atlas/v1.0/groups/GROUP_A/clusters'],
    ['GET', '/api/atlas/v2/groups/GROUP_A/clusters/Cluster0/restoreJobs'],
    ['POST', '/api/atlas/v1.0/groups/GROUP_A/clusters/Cluster0/restoreJobs/JOB/extra'],
    ['DELETE', '/backup/restore/v2/pull/JOB/token'],
  ])('answers %s %s with 404 RESOURCE_NOT_FOUND in MongoDB’s body, without a challenge', async (method, template) => {
    const path = template.replace('GROUP_A', t.groupA).replace('JOB', jobId);
    const response = await fetch(`${t.baseUrl}${path}`, { method });
    expect(response.status).toBe(404);
    expect(response.headers.get('www-authenticate')).toBeNull();
    const body = goError.parse(await response.json());
    expect(body).toEqual({
      detail: `Cannot find resource ${path}.`,
      error: 404,
      errorCode: 'RESOURCE_NOT_FOUND',
      parameters: [path],
      reason: 'Not Found',
    });
  });

  it('says nothing about whether a group or job exists: the answer depends on the path’s shape only', async () => {
    const [known, unknown] = await Promise.all(
      [t.groupA, 'ffffffffffffffffffffffff'].map(async (groupId) => {
        const path = `/api/atlas/v1.0/groups/${groupId}/clusters/Cluster0/restoreJobs/${jobId}/x`;
        const response = await fetch(`${t.baseUrl}${path}`);
        return { status: response.status, body: ((await response.json()) as Json).detail.replace(groupId, 'G') };
      }),
    );
    expect(known).toEqual(unknown);
  });

  it.each([
    ['DELETE', () => t.atlasJobs(), 'GET, POST'],
    ['PUT', () => t.atlasJobs(), 'GET, POST'],
    ['PATCH', () => t.publicJobs(), 'GET, POST'],
    ['OPTIONS', () => t.publicJobs(), 'GET, POST'],
    ['POST', () => `${t.atlasJobs()}/${jobId}`, 'DELETE, GET'],
    ['PUT', () => `${t.publicJobs()}/${jobId}`, 'DELETE, GET'],
    ['PUT', () => `/api/atlas/v1.0/groups/${t.groupA}/clusters/Cluster0/snapshots`, 'GET'],
    ['POST', () => `/backup/restore/v2/pull/${jobId}/token/file.tar.gz`, 'GET'],
  ])('answers %s on a path that does not take it with 405 and Allow', async (method, path, allow) => {
    const response = await fetch(`${t.baseUrl}${path()}`, { method });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe(allow);
    expect(goError.parse(await response.json())).toEqual({
      detail: `Method ${method} is not allowed on resource ${path()}.`,
      error: 405,
      errorCode: 'METHOD_NOT_ALLOWED',
      parameters: [method, path()],
      reason: 'Method Not Allowed',
    });
  });

  it('honours envelope and pretty there too', async () => {
    const response = await fetch(`${t.baseUrl}/nowhere?envelope=true&pretty=true`);
    expect(response.status).toBe(404);
    const text = await response.text();
    expect(text).toMatch(/^\{\n {2}"status": 404,/);
    expect(JSON.parse(text)).toMatchObject({ status: 404, content: { errorCode: 'RESOURCE_NOT_FOUND' } });
  });
});

describe('bodies over the limits', () => {
  it(`answers a create body over ${MAX_REQUEST_BODY_BYTES} bytes with 413 REQUEST_ENTITY_TOO_LARGE`, async () => {
    const padding = ' '.repeat(MAX_REQUEST_BODY_BYTES);
    const response = await t
      .client(t.keys.ownerA)
      .request('POST', t.atlasJobs(), `{"snapshotId": "${t.snapshotsA[0]?.id}"${padding}}`);
    expect(response.status).toBe(413);
    expect(goError.parse(response.json())).toEqual({
      detail: `The request body is larger than the ${MAX_REQUEST_BODY_BYTES} bytes this resource accepts.`,
      error: 413,
      errorCode: 'REQUEST_ENTITY_TOO_LARGE',
      parameters: [MAX_REQUEST_BODY_BYTES],
      reason: 'Request Entity Too Large',
    });
  });

  it('answers a body over API Gateway’s 10 MB with MongoDB’s 413 body (on AWS, API Gateway answers itself)', async () => {
    const response = await fetch(`${t.baseUrl}${t.atlasJobs()}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Buffer.alloc(10 * 1024 * 1024 + 1, 0x20),
    });
    expect(response.status).toBe(413);
    expect(goError.parse(await response.json())).toMatchObject({
      error: 413,
      errorCode: 'REQUEST_ENTITY_TOO_LARGE',
      reason: 'Request Entity Too Large',
    });
  });
});

/**
 * A Digest request (as the Go clients make it) with headers a client could forge: fetch sends its own Host, so
 * this goes through node:http.
 */
async function forgedRequest(method: string, path: string, body?: unknown): Promise<{ status: number; json: Json }> {
  const forged = { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'gopher' };
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const send = (authorization?: string) =>
    new Promise<{ status: number; headers: Record<string, unknown>; text: string }>((resolve, reject) => {
      const url = new URL(t.baseUrl);
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path,
          method,
          headers: {
            ...forged,
            accept: 'application/json',
            ...(payload !== undefined && { 'content-type': 'application/json' }),
            ...(authorization !== undefined && { authorization }),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  const first = await send();
  const challenge = first.headers['www-authenticate'];
  if (first.status !== 401 || typeof challenge !== 'string') throw new Error(`no challenge: ${first.text}`);
  const { publicKey, privateKey } = t.keys.ownerA;
  const signer = new GoDigestClient(t.baseUrl, publicKey, privateKey);
  const second = await send(signer.authorization(method, path, parseGoChallenge(challenge)));
  return { status: second.status, json: JSON.parse(second.text) as Json };
}

async function eventsOf(id: string, detailType: string): Promise<Json[]> {
  return (await readFile(join(t.dataDir, 'events.ndjson'), 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Json)
    .filter((event) => event['detail-type'] === detailType && event.detail.job.id === id);
}

/** Every string in `value` that looks like a URL. */
function urlsIn(value: unknown): string[] {
  return [...JSON.stringify(value).matchAll(/"([a-z][a-z0-9+.-]*:\/\/[^"]*)"/g)].map((m) => m[1] ?? '');
}

describe('the base URL', () => {
  it('comes from the stack’s configuration, never from Host or X-Forwarded-*: links, delivery URL, events', async () => {
    // Act
    const created = await forgedRequest('POST', t.atlasJobs(), {
      snapshotId: t.snapshotsA[1]?.id,
      delivery: { methodName: 'AUTOMATED_RESTORE', targetGroupId: t.groupA, targetClusterName: 'Target' },
    });
    expect(created.status, JSON.stringify(created.json)).toBe(200);
    const job = created.json.results[0] as Json;
    const done = await waitForJob(
      t.client(t.keys.ownerA),
      `${t.atlasJobs()}/${job.id}`,
      (j) => j.statusName !== 'IN_PROGRESS',
    );
    const deadline = Date.now() + 20_000;
    let requested = await eventsOf(job.id, 'Automated Restore Requested');
    while (requested.length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      requested = await eventsOf(job.id, 'Automated Restore Requested');
    }
    const read = await forgedRequest('GET', `${t.atlasJobs()}/${job.id}`);

    // Assess
    expect(done.statusName).toBe('FINISHED');
    expect(requested).toHaveLength(1);
    expect(requested[0]?.detail.download.url).toMatch(new RegExp(`^${t.baseUrl}/backup/restore/v2/pull/${job.id}/`));
    expect(read.json.delivery.url).toBe(requested[0]?.detail.download.url);
    const statusChanges = await eventsOf(job.id, 'Restore Job Status Change');
    expect(statusChanges.length).toBeGreaterThan(0);
    const urls = [created.json, read.json, ...requested, ...statusChanges].flatMap(urlsIn);
    expect(urls.length).toBeGreaterThan(5);
    // Links name the MongoDB rel types (http://mms.mongodb.com/…); every href is on the configured base.
    expect(
      urls.filter((url) => !url.startsWith('http://mms.mongodb.com/') && !url.startsWith(`${t.baseUrl}/`)),
    ).toEqual([]);
    expect(JSON.stringify([created.json, read.json, requested, statusChanges])).not.toContain('evil.example');
  });
});
