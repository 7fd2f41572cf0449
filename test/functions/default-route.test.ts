import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { handler as defaultRoute } from '#functions/default-route.js';
import { routes } from '#functions/routes.js';
import { lambdaContext } from '#local/lambda.js';

const handler = (event: APIGatewayProxyEventV2) => defaultRoute(event, lambdaContext('default-route', 3_000));

const event = (method: string, rawPath: string, query?: Record<string, string>) =>
  ({
    rawPath,
    routeKey: '$default',
    headers: {},
    requestContext: { http: { method }, routeKey: '$default' },
    ...(query && { queryStringParameters: query }),
  }) as unknown as APIGatewayProxyEventV2;

describe('the $default route', () => {
  it('answers a path no route has with 404 RESOURCE_NOT_FOUND', async () => {
    expect(await handler(event('GET', '/api/atlas/v1.0/groups'))).toEqual({
      statusCode: 404,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        detail: 'Cannot find resource /api/atlas/v1.0/groups.',
        error: 404,
        errorCode: 'RESOURCE_NOT_FOUND',
        parameters: ['/api/atlas/v1.0/groups'],
        reason: 'Not Found',
      }),
    });
  });

  it('answers every routed path with 405 and the methods its routes take, for any other method', async () => {
    for (const route of routes) {
      const path = route.path.replaceAll(/\{[^}]+\}/g, 'x');
      const result = await handler(event('PUT', path));
      const allow = routes.filter((r) => r.path === route.path).map((r) => r.method);
      expect(result.statusCode, path).toBe(405);
      expect(result.headers?.allow, path).toBe(allow.sort().join(', '));
    }
  });

  it('renders with pretty and envelope, and ignores invalid output options', async () => {
    const pretty = await handler(event('GET', '/x', { pretty: 'true', envelope: 'true' }));
    expect(pretty.body).toMatch(/^\{\n {2}"status": 404,\n {2}"content": \{/);
    const lenient = await handler(event('GET', '/x', { pretty: 'maybe' }));
    expect(lenient.statusCode).toBe(404);
  });

  it('answers a request its table routes (deployed routes out of step) with a generic 500', async () => {
    const result = await handler(event('GET', '/backup/restore/v2/pull/j/t/f.tar.gz'));
    expect(result.statusCode).toBe(500);
    expect(JSON.parse(result.body ?? '')).toMatchObject({ errorCode: 'UNEXPECTED_ERROR' });
  });
});
