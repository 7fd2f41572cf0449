import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_REQUEST_BODY_BYTES } from '#functions/commons/http.js';
import { goError } from '../helpers/go-contract.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';

type Json = Record<string, any>;

// What the API answers at its edge: requests no route takes, and bodies over the limits.

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack();
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
    ['POST', () => `${t.atlasJobs()}/${jobId}`, 'GET'],
    ['DELETE', () => `${t.atlasJobs()}/${jobId}`, 'GET'],
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
