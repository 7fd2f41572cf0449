import { request } from 'node:http';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as defaultRoute } from '../../functions/default-route.js';
import { type ApiGateway, startApiGateway } from '../../local/api-gateway.js';
import type { LambdaHandler } from '../../local/lambda.js';

const events: APIGatewayProxyEventV2[] = [];
let nextResult: unknown = { statusCode: 200, body: '{}' };

const handlers: Record<string, LambdaHandler> = {
  'get-restore-job': async (event) => {
    events.push(event as APIGatewayProxyEventV2);
    return nextResult;
  },
  'list-restore-jobs': async (event) => {
    events.push(event as APIGatewayProxyEventV2);
    return nextResult;
  },
  'create-restore-job': async (event) => {
    events.push(event as APIGatewayProxyEventV2);
    return { statusCode: 201, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' };
  },
  'download-restore-artifact': async () => {
    throw new Error('boom');
  },
  // The real $default function: the gateway must send it every unrouted request, as API Gateway does.
  'default-route': async (event, context) => {
    events.push(event as APIGatewayProxyEventV2);
    return defaultRoute(event as APIGatewayProxyEventV2, context);
  },
};

let api: ApiGateway;

beforeAll(async () => {
  api = await startApiGateway({
    port: 0,
    loadHandler: async (name) => {
      const handler = handlers[name];
      if (!handler) throw new Error(`no handler ${name}`);
      return handler;
    },
    maxBodyBytes: 1024,
  });
});

afterAll(async () => {
  await api?.close();
});

/** Raw request with repeated headers (fetch would merge them). */
function rawGet(path: string, headers: [string, string][]): Promise<{ status: number; body: string }> {
  const url = new URL(api.url);
  return new Promise((resolve, reject) => {
    // With raw (array) headers Node adds no Host header itself.
    const raw = [['Host', url.host], ...headers].flat();
    const req = request({ host: url.hostname, port: url.port, path, method: 'GET', headers: raw }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('request → payload 2.0 event', () => {
  it('builds the event API Gateway would send', async () => {
    nextResult = { statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{"id":"x"}' };
    const path =
      '/api/atlas/v1.0/groups/5e2211c17a3e5a48f5497de3/clusters/My%20Cluster/restoreJobs/5e2211c17a3e5a48f5497de4';
    const res = await rawGet(`${path}?pageNum=2&tag=a%2Cb&tag=c&flag&q=a+b`, [
      ['Accept', 'application/json'],
      ['X-Multi', 'one'],
      ['X-Multi', 'two'],
      ['Cookie', 'a=1; b=2'],
      ['User-Agent', 'test-agent'],
    ]);
    expect(res).toEqual({ status: 200, body: '{"id":"x"}' });
    const event = events.at(-1);
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'GET /api/atlas/v1.0/groups/{groupId}/clusters/{clusterName}/restoreJobs/{jobId}',
      rawPath: path,
      rawQueryString: 'pageNum=2&tag=a%2Cb&tag=c&flag&q=a+b',
      cookies: ['a=1', 'b=2'],
      pathParameters: {
        groupId: '5e2211c17a3e5a48f5497de3',
        clusterName: 'My Cluster',
        jobId: '5e2211c17a3e5a48f5497de4',
      },
      queryStringParameters: { pageNum: '2', tag: 'a,b,c', flag: '', q: 'a+b' },
      isBase64Encoded: false,
      requestContext: {
        accountId: '000000000000',
        domainName: new URL(api.url).host,
        http: { method: 'GET', path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test-agent' },
        routeKey: 'GET /api/atlas/v1.0/groups/{groupId}/clusters/{clusterName}/restoreJobs/{jobId}',
        stage: '$default',
      },
    });
    expect(event?.headers).toMatchObject({
      accept: 'application/json',
      'x-multi': 'one,two',
      'x-forwarded-for': '127.0.0.1',
    });
    expect(event?.headers.cookie).toBeUndefined();
    expect(event?.body).toBeUndefined();
    expect(event?.requestContext.time).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
  });

  it('omits absent query, path parameters and cookies; passes a JSON body as text', async () => {
    const res = await fetch(`${api.url}/api/public/v1.0/groups/g1/clusters/c1/restoreJobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"snapshotId":"s1"}',
    });
    expect(res.status).toBe(201);
    const event = events.at(-1);
    expect(event?.routeKey).toBe('POST /api/public/v1.0/groups/{groupId}/clusters/{clusterId}/restoreJobs');
    expect(event?.queryStringParameters).toBeUndefined();
    expect(event?.cookies).toBeUndefined();
    expect(event).toMatchObject({ body: '{"snapshotId":"s1"}', isBase64Encoded: false, rawQueryString: '' });
  });

  it('base64-encodes a body that is not text', async () => {
    await fetch(`${api.url}/api/public/v1.0/groups/g1/clusters/c1/restoreJobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: new Uint8Array([0, 1, 2, 255]),
    });
    expect(events.at(-1)).toMatchObject({ body: 'AAEC/w==', isBase64Encoded: true });
  });

  it('answers 413 with MongoDB’s error body for a body over the limit, routed or not', async () => {
    for (const path of ['/api/public/v1.0/groups/g1/clusters/c1/restoreJobs', '/nowhere']) {
      const res = await fetch(`${api.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: 'x'.repeat(2048),
      });
      expect(res.status).toBe(413);
      expect(await res.json()).toEqual({
        detail: 'The request body is larger than the 1024 bytes this resource accepts.',
        error: 413,
        errorCode: 'REQUEST_ENTITY_TOO_LARGE',
        parameters: [1024],
        reason: 'Request Entity Too Large',
      });
    }
  });

  it('sets requestContext.domainName to its own address, whatever Host the client sends', async () => {
    await rawGet('/api/atlas/v1.0/groups/g/clusters/c/restoreJobs', [['X-Forwarded-Host', 'evil.example']]);
    // rawGet sends the real Host first; a second, forged one must not win either.
    const url = new URL(api.url);
    await new Promise<void>((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: '/api/atlas/v1.0/groups/g/clusters/c/restoreJobs',
          headers: { host: 'evil.example' },
        },
        (res) => res.resume().on('end', resolve),
      );
      req.on('error', reject);
      req.end();
    });
    expect(events.at(-1)?.requestContext.domainName).toBe(url.host);
    expect(events.at(-1)?.headers.host).toBe('evil.example');
  });
});

describe('routing and responses', () => {
  it('sends an unknown path to the $default function: 404 RESOURCE_NOT_FOUND in MongoDB’s body', async () => {
    for (const path of ['/api/atlas/v1.0/groups/g1/clusters', '/api/atlas/v1.0/groups/g1/clusters/c1/restoreJobs/']) {
      const res = await fetch(`${api.url}${path}`, { method: 'PATCH' });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({
        detail: `Cannot find resource ${path}.`,
        error: 404,
        errorCode: 'RESOURCE_NOT_FOUND',
        parameters: [path],
        reason: 'Not Found',
      });
      expect(events.at(-1)).toMatchObject({ routeKey: '$default', requestContext: { routeKey: '$default' } });
      expect(events.at(-1)?.pathParameters).toBeUndefined();
    }
  });

  it('answers a method a path does not take with 405 and the methods it does take in Allow', async () => {
    const path = '/api/atlas/v1.0/groups/g1/clusters/c1/restoreJobs';
    for (const method of ['DELETE', 'PUT', 'PATCH', 'OPTIONS']) {
      const res = await fetch(`${api.url}${path}`, { method });
      expect(res.status, method).toBe(405);
      expect(res.headers.get('allow')).toBe('GET, POST');
      expect(await res.json()).toEqual({
        detail: `Method ${method} is not allowed on resource ${path}.`,
        error: 405,
        errorCode: 'METHOD_NOT_ALLOWED',
        parameters: [method, path],
        reason: 'Method Not Allowed',
      });
    }
    const download = await fetch(`${api.url}/backup/restore/v2/pull/j1/t1/file.tar.gz`, { method: 'POST' });
    expect(download.status).toBe(405);
    expect(download.headers.get('allow')).toBe('GET');
  });

  it('answers 500 Internal Server Error when the function throws', async () => {
    const res = await fetch(`${api.url}/backup/restore/v2/pull/j1/t1/file.tar.gz`);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ message: 'Internal Server Error' });
  });

  it('writes cookies, multi-value headers and base64 bodies', async () => {
    nextResult = {
      statusCode: 302,
      headers: { location: 'http://example.test/x', 'x-num': 5 },
      multiValueHeaders: { 'x-multi': ['a', 'b'] },
      cookies: ['a=1; Path=/', 'b=2'],
      body: Buffer.from('binary').toString('base64'),
      isBase64Encoded: true,
    };
    const res = await fetch(`${api.url}/api/atlas/v1.0/groups/g/clusters/c/restoreJobs`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('http://example.test/x');
    expect(res.headers.get('x-num')).toBe('5');
    expect(res.headers.get('x-multi')).toBe('a, b');
    expect(res.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2']);
    expect(await res.text()).toBe('binary');
  });

  it('treats a result without statusCode as a 200 JSON body', async () => {
    nextResult = 'plain string';
    let res = await fetch(`${api.url}/api/atlas/v1.0/groups/g/clusters/c/restoreJobs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.text()).toBe('plain string');
    nextResult = { results: [] };
    res = await fetch(`${api.url}/api/atlas/v1.0/groups/g/clusters/c/restoreJobs`);
    expect(await res.json()).toEqual({ results: [] });
  });

  it('answers 500 for a malformed response', async () => {
    nextResult = { statusCode: 'abc' };
    const res = await fetch(`${api.url}/api/atlas/v1.0/groups/g/clusters/c/restoreJobs`);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ message: 'Internal Server Error' });
  });
});
