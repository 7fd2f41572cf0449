import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiGateway, startApiGateway } from '#local/api-gateway.js';

// The document's function needs no data, so the local API gateway alone serves it, through the route table as on
// AWS; so does the $default route's function. (Every other integration test checks its answers against it.)
let gateway: ApiGateway;
beforeAll(async () => {
  gateway = await startApiGateway({ port: 0 });
});
afterAll(async () => {
  await gateway?.close();
});

describe('GET /api/openapi.json', () => {
  it('serves docs/openapi.json as JSON, without authentication', async () => {
    const response = await fetch(`${gateway.url}/api/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('www-authenticate')).toBeNull();
    expect(response.headers.get('cache-control')).toBe('public, max-age=300');
    expect(await response.text()).toBe(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8'));
  });

  it("answers another method with MongoDB's 405 and Allow: GET", async () => {
    const response = await fetch(`${gateway.url}/api/openapi.json`, { method: 'POST', body: '{}' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET');
    expect(await response.json()).toMatchObject({ errorCode: 'METHOD_NOT_ALLOWED', error: 405 });
  });
});
