/**
 * The OpenAPI operation of every route handler (functions/routes.ts names them): what each takes and every status it
 * answers, with MongoDB's error codes per status. Request schemas are the handlers' own (create-request.ts) or
 * mirror their parsers (api-schemas.ts, query.ts); response schemas are the ones the views' types come from.
 * document.ts turns a route and its handler's entry into an operation; both path families share one entry.
 */
import { z } from 'zod';
import type { ZodOpenApiRequestBodyObject, ZodOpenApiResponseObject, ZodOpenApiResponsesObject } from 'zod-openapi';
import type { ApiHandlerName } from '../../functions/routes.js';
import {
  checkpointListSchema,
  checkpointViewSchema,
  errorBodySchema,
  jobListQuerySchema,
  listQuerySchema,
  objectIdSchema,
  outputOptionsSchema,
  restoreJobListSchema,
  restoreJobViewSchema,
  snapshotListSchema,
  snapshotViewSchema,
} from '../domain/api-schemas.js';
import { createRestoreJobBody } from '../domain/create-request.js';
import { MAX_IDEMPOTENCY_KEY_LENGTH } from '../domain/idempotency-key.js';

export type Tag = 'Restore jobs' | 'Snapshots' | 'Checkpoints' | 'Downloads' | 'API description';

export const TAGS: readonly { name: Tag; description: string }[] = [
  { name: 'Restore jobs', description: 'Create, watch and cancel restore jobs (both path families).' },
  { name: 'Snapshots', description: "A cluster's snapshots: what a restore job can restore." },
  { name: 'Checkpoints', description: "A sharded cluster's checkpoints: points every shard is restored to." },
  { name: 'Downloads', description: 'The delivery URL of a finished job: a bearer URL, no Digest.' },
  { name: 'API description', description: 'This document.' },
];

export interface OperationEntry {
  /** Prefixed with the family (`atlas…`, `opsManager…`) on the family paths, so ids are unique per route. */
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string;
  readonly tag: Tag;
  /** HTTP Digest with an API key; false for bearer URLs and this document. */
  readonly digest: boolean;
  readonly query?: z.ZodObject;
  readonly header?: z.ZodObject;
  readonly requestBody?: ZodOpenApiRequestBodyObject;
  readonly responses: ZodOpenApiResponsesObject;
}

/** Every path parameter of the route table (a placeholder without a schema here fails the document). */
export const PATH_PARAMETERS: Readonly<Record<string, z.ZodType>> = {
  groupId: objectIdSchema.meta({ description: 'The group (project). Not an ObjectId: 400 INVALID_GROUP_ID.' }),
  clusterName: z
    .string()
    .min(1)
    .max(64)
    .meta({ description: "Atlas paths: the cluster's name (letters, digits and hyphens)." }),
  clusterId: objectIdSchema.meta({ description: "Ops Manager paths: the cluster's id." }),
  jobId: objectIdSchema.meta({ description: 'The restore job.' }),
  snapshotId: objectIdSchema.meta({ description: 'The snapshot.' }),
  checkpointId: objectIdSchema.meta({ description: 'The checkpoint.' }),
  token: z.string().meta({ description: "The job's download token (part of `delivery.url`; a credential)." }),
  fileName: z.string().meta({ description: "The artifact's file name, as in `delivery.url`.", examples: ['x.tar.gz'] }),
};

const json = (schema: z.ZodType) => ({ content: { 'application/json': { schema } } });
const error = (description: string): ZodOpenApiResponseObject => ({ description, ...json(errorBodySchema) });

// Answers every Digest-authenticated operation may give (functions/commons/http.ts), registered once.
const unauthorized: ZodOpenApiResponseObject = {
  id: 'Unauthorized',
  description:
    'USER_UNAUTHORIZED. With a `WWW-Authenticate` Digest challenge when the request is unsigned, its signature ' +
    'or nonce is wrong or stale (`stale=true`: sign again with the new nonce); without one when the key lacks the ' +
    "role the operation needs on the path's group (the same answer whether or not the group or cluster exists).",
  headers: z.object({
    'WWW-Authenticate': z
      .string()
      .meta({
        description: 'The Digest challenge (RFC 7616): realm, nonce, algorithm MD5 or SHA-256, qop "auth", stale.',
        examples: ['Digest realm="MMS Public API", domain="", nonce="…", algorithm=MD5, qop="auth", stale=false'],
      })
      .optional(),
  }),
  ...json(errorBodySchema),
};
const forbidden: ZodOpenApiResponseObject = {
  id: 'Forbidden',
  ...error("IP_ADDRESS_NOT_ON_ACCESS_LIST: the caller's address is not on the API key's access list."),
};
const tooLarge: ZodOpenApiResponseObject = {
  id: 'RequestEntityTooLarge',
  ...error('REQUEST_ENTITY_TOO_LARGE: the request body is larger than 64 KiB (checked before authentication).'),
};
const unexpected: ZodOpenApiResponseObject = {
  id: 'UnexpectedError',
  ...error('UNEXPECTED_ERROR: an internal failure (logged; nothing about it is told). Retry later.'),
};

const BAD_REQUEST_COMMON =
  'INVALID_GROUP_ID (the group id is not an ObjectId); INVALID_ATTRIBUTE for `pretty` or `envelope`';

/** The answers of every operation behind Digest (functions/commons/http.ts apiHandler), plus its own. */
function digestResponses(own: ZodOpenApiResponsesObject): ZodOpenApiResponsesObject {
  return {
    ...own,
    '401': unauthorized,
    '403': forbidden,
    '413': tooLarge,
    '500': unexpected,
  };
}

const withOutput = (query?: z.ZodObject) =>
  query === undefined ? outputOptionsSchema : query.extend(outputOptionsSchema.shape);

const listBadRequest = error(
  `${BAD_REQUEST_COMMON}, \`pageNum\`, \`itemsPerPage\` or \`includeCount\` (out of range, not an integer or boolean).`,
);

export const operations: Readonly<Record<ApiHandlerName, OperationEntry>> = {
  'list-restore-jobs': {
    operationId: 'listRestoreJobs',
    summary: 'List restore jobs',
    description: "A cluster's restore jobs, newest first (a sharded cluster's batch counts as one entry).",
    tag: 'Restore jobs',
    digest: true,
    query: withOutput(jobListQuerySchema),
    responses: digestResponses({
      '200': { description: 'A page of restore jobs.', ...json(restoreJobListSchema) },
      '400': error(
        `${BAD_REQUEST_COMMON}, \`pageNum\`, \`itemsPerPage\`, \`includeCount\` or \`batchId\` (out of range, not ` +
          'an integer, boolean or ObjectId).',
      ),
      '404': error('CLUSTER_NOT_FOUND.'),
    }),
  },
  'create-restore-job': {
    operationId: 'createRestoreJob',
    summary: 'Create a restore job',
    description:
      'One job from one source: a snapshot (`snapshotId`), a point in time (`timestamp`, `pointInTimeUTCMillis` ' +
      'within the last 24 hours, or `oplogTs` + `oplogInc`), or a sharded cluster’s checkpoint (`checkpointId`). A ' +
      'sharded cluster gets one job per shard and config server, sharing a `batchId`. Omitted delivery fields take ' +
      "the family's defaults: Atlas paths 48 hours and 2147483647 downloads, Ops Manager paths 1 hour and 1 download. " +
      'Needs a role that may create restore jobs (owner or backup admin); `AUTOMATED_RESTORE` needs it on the ' +
      'target group too.',
    tag: 'Restore jobs',
    digest: true,
    query: outputOptionsSchema,
    header: z.object({
      'Idempotency-Key': z
        .string()
        .min(1)
        .meta({
          description:
            `1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters, bare or as a quoted string. A retry with ` +
            'the same key, API key, path and body within 24 hours creates nothing and answers the jobs the first ' +
            'request created, as they are now. A create that failed does not keep its key.',
          examples: ['8e03978e-40d5-43e8-bc93-6894a57f9324'],
        })
        .optional(),
    }),
    requestBody: { required: true, ...json(createRestoreJobBody) },
    responses: digestResponses({
      '200': {
        description: 'The jobs created (one, or one per shard and config server), as a list with `totalCount`.',
        ...json(restoreJobListSchema),
      },
      '400': error(
        `${BAD_REQUEST_COMMON}; MALFORMED_JSON; MISSING_ATTRIBUTE; INVALID_ATTRIBUTE; INVALID_PIT_RESTORE_TIME; ` +
          'UNABLE_T0_FIND_SNAPSHOT_PRIOR_TO_PIT_RESTORE_OPTIME; INVALID_IDEMPOTENCY_KEY.',
      ),
      '404': error('CLUSTER_NOT_FOUND, SNAPSHOT_NOT_FOUND or CHECKPOINT_NOT_FOUND.'),
      '409': error(
        'CANNOT_START_RESTORE_JOB_FOR_DELETED_SNAPSHOT (the snapshot is past its `expires`); ' +
          'IDEMPOTENT_REQUEST_IN_PROGRESS (a request with this Idempotency-Key is still running after 5 s: retry).',
      ),
      '422': error('IDEMPOTENCY_KEY_REUSED: the Idempotency-Key was used with another body on this path.'),
    }),
  },
  'get-restore-job': {
    operationId: 'getRestoreJob',
    summary: 'Get a restore job',
    tag: 'Restore jobs',
    digest: true,
    query: outputOptionsSchema,
    responses: digestResponses({
      '200': { description: 'The restore job.', ...json(restoreJobViewSchema) },
      '400': error(`${BAD_REQUEST_COMMON}; INVALID_ATTRIBUTE for a job id that is not an ObjectId.`),
      '404': error('CLUSTER_NOT_FOUND or RESTORE_JOB_NOT_FOUND.'),
    }),
  },
  'cancel-restore-job': {
    operationId: 'cancelRestoreJob',
    summary: 'Cancel a restore job or revoke its download link',
    description:
      'An IN_PROGRESS job becomes KILLED (delivery INTERRUPTED); a FINISHED job’s READY link is revoked (delivery ' +
      'EXPIRED at once, artifact deleted). A job of a sharded batch cancels the whole batch. Needs the create role.',
    tag: 'Restore jobs',
    digest: true,
    query: outputOptionsSchema,
    responses: digestResponses({
      '200': { description: 'The jobs it changed, as a list with `totalCount`.', ...json(restoreJobListSchema) },
      '400': error(`${BAD_REQUEST_COMMON}; INVALID_ATTRIBUTE for a job id that is not an ObjectId.`),
      '404': error('CLUSTER_NOT_FOUND or RESTORE_JOB_NOT_FOUND.'),
      '409': error('RESTORE_JOB_NOT_CANCELLABLE: nothing to cancel or revoke (KILLED, BROKEN, EXPIRED, used up).'),
    }),
  },
  'download-restore-artifact': {
    operationId: 'downloadRestoreArtifact',
    summary: 'Download a restore artifact',
    description:
      '`delivery.url` of a job: counts the download and redirects to a presigned S3 URL valid for 5 minutes.',
    tag: 'Downloads',
    digest: false,
    // Its success has no body; its errors honour both options.
    query: outputOptionsSchema,
    responses: {
      '302': {
        description: 'Redirect to the artifact (a `.tar.gz`).',
        headers: z.object({
          Location: z.url().meta({ description: 'A presigned S3 GET URL, valid for 5 minutes.' }),
          'Cache-Control': z.literal('no-store'),
        }),
      },
      '404': error('RESTORE_ARTIFACT_NOT_FOUND: no such job, a wrong token or file name, or not ready yet.'),
      '410': error('RESTORE_DOWNLOAD_EXPIRED or MAX_DOWNLOADS_EXCEEDED.'),
      '500': unexpected,
    },
  },
  'list-snapshots': {
    operationId: 'listSnapshots',
    summary: 'List snapshots',
    tag: 'Snapshots',
    digest: true,
    query: withOutput(listQuerySchema),
    responses: digestResponses({
      '200': { description: 'A page of snapshots, newest first.', ...json(snapshotListSchema) },
      '400': listBadRequest,
      '404': error('CLUSTER_NOT_FOUND.'),
    }),
  },
  'get-snapshot': {
    operationId: 'getSnapshot',
    summary: 'Get a snapshot',
    tag: 'Snapshots',
    digest: true,
    query: outputOptionsSchema,
    responses: digestResponses({
      '200': { description: 'The snapshot.', ...json(snapshotViewSchema) },
      '400': error(`${BAD_REQUEST_COMMON}; INVALID_ATTRIBUTE for a snapshot id that is not an ObjectId.`),
      '404': error('CLUSTER_NOT_FOUND or SNAPSHOT_NOT_FOUND.'),
    }),
  },
  'list-checkpoints': {
    operationId: 'listCheckpoints',
    summary: 'List checkpoints',
    description: 'A replica set has none (an empty list).',
    tag: 'Checkpoints',
    digest: true,
    query: withOutput(listQuerySchema),
    responses: digestResponses({
      '200': { description: 'A page of checkpoints, newest first.', ...json(checkpointListSchema) },
      '400': listBadRequest,
      '404': error('CLUSTER_NOT_FOUND.'),
    }),
  },
  'get-checkpoint': {
    operationId: 'getCheckpoint',
    summary: 'Get a checkpoint',
    tag: 'Checkpoints',
    digest: true,
    query: outputOptionsSchema,
    responses: digestResponses({
      '200': { description: 'The checkpoint.', ...json(checkpointViewSchema) },
      '400': error(`${BAD_REQUEST_COMMON}; INVALID_ATTRIBUTE for a checkpoint id that is not an ObjectId.`),
      '404': error('CLUSTER_NOT_FOUND or CHECKPOINT_NOT_FOUND.'),
    }),
  },
  'get-openapi': {
    operationId: 'getOpenApiDocument',
    summary: 'Get this OpenAPI document',
    description: 'The document in `docs/openapi.json`, pretty-printed (no `pretty` or `envelope`).',
    tag: 'API description',
    digest: false,
    responses: {
      '200': {
        description: 'This document (OpenAPI 3.1).',
        headers: z.object({ 'Cache-Control': z.string().meta({ examples: ['public, max-age=300'] }) }),
        ...json(
          z
            .looseObject({ openapi: z.string(), info: z.looseObject({}), paths: z.looseObject({}) })
            .meta({ description: 'An OpenAPI 3.1 document.' }),
        ),
      },
    },
  },
};
