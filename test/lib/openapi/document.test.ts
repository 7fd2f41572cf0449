import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type RouteDefinition, routes } from '#functions/routes.js';
import { buildOpenApiDocument, operationIdOf, renderOpenApiDocument } from '#lib/openapi/document.js';
import { operations } from '#lib/openapi/operations.js';
import packageJson from '../../../package.json' with { type: 'json' };

type Operation = {
  operationId: string;
  security?: unknown[];
  parameters?: { in: string; name: string; required?: boolean }[];
  responses: Record<string, { $ref?: string; content?: Record<string, { schema: { $ref?: string } }> }>;
};
const document = buildOpenApiDocument() as unknown as {
  openapi: string;
  info: { version: string };
  security: unknown[];
  paths: Record<string, Record<string, Operation>>;
  components: {
    securitySchemes: Record<string, unknown>;
    responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }>; headers?: object }>;
  };
};
const documented = Object.entries(document.paths).flatMap(([path, item]) =>
  Object.entries(item).map(([method, operation]) => ({ method: method.toUpperCase(), path, operation })),
);

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1.0 with the version of package.json', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(document.info.version).toBe(packageJson.version);
  });

  it('has an operation for every route of functions/routes.ts, and no other', () => {
    for (const route of routes) {
      expect(operations[route.handler], `${route.handler} has no entry in lib/openapi/operations.ts`).toBeDefined();
      expect(document.paths[route.path]?.[route.method.toLowerCase()], `${route.method} ${route.path}`).toBeDefined();
    }
    const routeKeys = routes.map((route) => `${route.method} ${route.path}`).sort();
    expect(documented.map(({ method, path }) => `${method} ${path}`).sort()).toEqual(routeKeys);
  });

  it('fails to build, naming the route, when a handler has no operation', () => {
    const stray: RouteDefinition = { method: 'GET', path: '/api/stray', handler: 'no-such-handler' as never };
    expect(() => buildOpenApiDocument([...routes, stray])).toThrow('No OpenAPI operation for GET /api/stray');
  });

  it('fails to build when a path parameter has no schema', () => {
    const stray: RouteDefinition = { method: 'GET', path: '/api/x/{nobody}', handler: 'get-openapi' };
    expect(() => buildOpenApiDocument([stray])).toThrow('No schema for path parameter {nobody}');
  });

  it('gives every operation a unique operationId, per path family', () => {
    const ids = documented.map(({ operation }) => operation.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    const [atlas, opsManager] = [routes[0], routes[4]] as [RouteDefinition, RouteDefinition];
    expect([atlas.handler, opsManager.handler]).toEqual(['list-restore-jobs', 'list-restore-jobs']);
    expect([operationIdOf(atlas), operationIdOf(opsManager)]).toEqual([
      'atlasListRestoreJobs',
      'opsManagerListRestoreJobs',
    ]);
  });

  it('declares every path parameter, required', () => {
    for (const { path, operation } of documented) {
      const declared = (operation.parameters ?? []).filter((p) => p.in === 'path');
      const placeholders = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      expect(declared.map((p) => p.name).sort(), path).toEqual(placeholders.sort());
      expect(declared.every((p) => p.required)).toBe(true);
    }
  });

  it('requires Digest on every operation but the download URL and this document', () => {
    expect(document.components.securitySchemes.digest).toEqual(
      expect.objectContaining({ type: 'http', scheme: 'digest' }),
    );
    expect(document.security).toEqual([{ digest: [] }]);
    const open = documented.filter(({ operation }) => operation.security !== undefined);
    expect(open.map(({ method, path }) => `${method} ${path}`).sort()).toEqual([
      'GET /api/openapi.json',
      'GET /backup/restore/v2/pull/{jobId}/{token}/{fileName}',
    ]);
    expect(open.every(({ operation }) => JSON.stringify(operation.security) === '[]')).toBe(true);
    for (const { operation } of documented.filter((d) => d.operation.security === undefined)) {
      expect(operation.responses['401']).toEqual({ $ref: '#/components/responses/Unauthorized' });
    }
    expect(document.components.responses.Unauthorized?.headers).toHaveProperty('WWW-Authenticate');
  });

  it("answers every 4xx and 5xx with MongoDB's error body", () => {
    for (const { method, path, operation } of documented) {
      for (const [status, response] of Object.entries(operation.responses)) {
        if (Number(status) < 400) continue;
        const resolved = response.$ref
          ? document.components.responses[response.$ref.replace('#/components/responses/', '')]
          : response;
        expect(resolved?.content?.['application/json']?.schema, `${method} ${path} ${status}`).toEqual({
          $ref: '#/components/schemas/Error',
        });
      }
    }
  });

  it('is what docs/openapi.json holds', () => {
    const committed = readFileSync(new URL('../../../docs/openapi.json', import.meta.url), 'utf8');
    expect(committed === renderOpenApiDocument(), 'docs/openapi.json is stale: run npm run openapi').toBe(true);
  });
});
