/**
 * The OpenAPI 3.1 document of the API, generated with zod-openapi from the route table (functions/routes.ts) and the
 * operation table (operations.ts). `npm run openapi` writes it to docs/openapi.json, which `GET /api/openapi.json`
 * serves (functions/get-openapi.ts) and the integration tests validate every answer against
 * (test/helpers/openapi-validator.ts); test/lib/openapi/document.test.ts fails when that file is stale.
 */
import { z } from 'zod';
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject } from 'zod-openapi';
import { type RouteDefinition, routes } from '../../functions/routes.js';
import packageJson from '../../package.json' with { type: 'json' };
import { operations, PATH_PARAMETERS, TAGS } from './operations.js';

export const DIGEST_SCHEME = 'digest';

const FAMILIES = [
  { prefix: '/api/atlas/', id: 'atlas', name: 'Atlas' },
  { prefix: '/api/public/', id: 'opsManager', name: 'Ops Manager' },
] as const;

const DESCRIPTION = `MongoDB's backup restore jobs API — the Atlas v1.0 and Ops Manager v1.0 \`restoreJobs\` resource, \
with the snapshots and checkpoints it restores from — as a serverless AWS service.

Two path families serve the same operations: \`/api/atlas/v1.0/…/clusters/{clusterName}/…\` (a cluster by name) and \
\`/api/public/v1.0/…/clusters/{clusterId}/…\` (by id; Ops Manager). They differ in delivery defaults and in the links \
they render.

**Authentication**: HTTP Digest (RFC 7616, MD5 or SHA-256, qop \`auth\`) with a programmatic API key: the public key \
as user name, the private key as password. An unsigned request gets 401 with the challenge. Download URLs carry \
their own token instead, and this document is public.

**Errors**: every 4xx and 5xx answer is MongoDB's body \`{detail, error, errorCode, parameters, reason}\` (schema \
\`Error\`), including requests no operation takes: 404 \`RESOURCE_NOT_FOUND\` for an unknown path, 405 \
\`METHOD_NOT_ALLOWED\` (with an \`Allow\` header) for a method a path does not take, and 413 for a body over 64 KiB. \
One exception: on AWS, API Gateway itself refuses a body over 10 MB with \`{"message":"Request Entity Too Large"}\`.

**Output options**: every operation but this document's takes \`pretty\` and \`envelope\` (see those parameters); \
the response schemas describe the body without the envelope.`;

/** `list-restore-jobs` on `/api/atlas/…` → `atlasListRestoreJobs`; routes outside the families keep the table's id. */
export function operationIdOf(route: RouteDefinition): string {
  const { operationId } = operations[route.handler];
  const family = FAMILIES.find((f) => route.path.startsWith(f.prefix));
  return family === undefined ? operationId : `${family.id}${operationId[0]?.toUpperCase()}${operationId.slice(1)}`;
}

function operationOf(route: RouteDefinition): ZodOpenApiOperationObject {
  const entry = operations[route.handler];
  if (entry === undefined) throw new Error(`No OpenAPI operation for ${route.method} ${route.path} (${route.handler})`);
  const family = FAMILIES.find((f) => route.path.startsWith(f.prefix));
  const path: Record<string, z.ZodType> = {};
  for (const [, name] of route.path.matchAll(/\{([^}]+)\}/g)) {
    const schema = name === undefined ? undefined : PATH_PARAMETERS[name];
    if (name === undefined || schema === undefined) {
      throw new Error(`No schema for path parameter {${name}} of ${route.method} ${route.path}`);
    }
    path[name] = schema;
  }
  return {
    operationId: operationIdOf(route),
    summary: family === undefined ? entry.summary : `${entry.summary} (${family.name})`,
    ...(entry.description !== undefined && { description: entry.description }),
    tags: [entry.tag],
    // The document's default is Digest; the two public operations say they need nothing.
    ...(!entry.digest && { security: [] }),
    ...((Object.keys(path).length > 0 || entry.query !== undefined || entry.header !== undefined) && {
      requestParams: {
        ...(Object.keys(path).length > 0 && { path: z.object(path) }),
        ...(entry.query !== undefined && { query: entry.query }),
        ...(entry.header !== undefined && { header: entry.header }),
      },
    }),
    ...(entry.requestBody !== undefined && { requestBody: entry.requestBody }),
    responses: entry.responses,
  };
}

/** The document as an object. */
export function buildOpenApiDocument(table: readonly RouteDefinition[] = routes) {
  const paths: ZodOpenApiPathsObject = {};
  for (const route of table) {
    const item = paths[route.path] ?? {};
    paths[route.path] = item;
    const method = route.method.toLowerCase() as 'get' | 'post' | 'delete';
    if (item[method] !== undefined) throw new Error(`Two routes for ${route.method} ${route.path}`);
    item[method] = operationOf(route);
  }
  return createDocument(
    {
      openapi: '3.1.0',
      info: {
        title: 'Restore jobs API',
        version: packageJson.version,
        description: DESCRIPTION,
      },
      servers: [
        {
          url: '/',
          description:
            "The API's own origin: PUBLIC_BASE_URL, or the API Gateway URL (output ApiUrl); locally http://127.0.0.1:3000.",
        },
      ],
      tags: [...TAGS],
      security: [{ [DIGEST_SCHEME]: [] }],
      paths,
      components: {
        securitySchemes: {
          [DIGEST_SCHEME]: {
            type: 'http',
            scheme: 'digest',
            description:
              'HTTP Digest (RFC 7616) with a programmatic API key: public key as user name, private key as password.',
          },
        },
      },
    },
    {
      // zod writes JavaScript's safe-integer range on every integer without its own bound: noise, not a limit.
      override: ({ jsonSchema }) => {
        if (jsonSchema.minimum === Number.MIN_SAFE_INTEGER) delete jsonSchema.minimum;
        if (jsonSchema.maximum === Number.MAX_SAFE_INTEGER) delete jsonSchema.maximum;
      },
    },
  );
}

/** The document as docs/openapi.json holds it (and `GET /api/openapi.json` serves it): 2-space JSON and a newline. */
export function renderOpenApiDocument(table: readonly RouteDefinition[] = routes): string {
  return `${JSON.stringify(buildOpenApiDocument(table), null, 2)}\n`;
}
