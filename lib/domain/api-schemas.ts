/**
 * What the API answers, as zod schemas: the views' TypeScript types (view.ts, snapshot-view.ts, checkpoint-view.ts,
 * errors.ts) are derived from these, and the OpenAPI document (lib/openapi/) is generated from them, so the types
 * and the document cannot drift apart. The views import only the types: a read function's bundle carries no zod
 * (it would add ~450 KB minified to a ~630 KB bundle). The `id`s name the document's components.
 */
import { z } from 'zod';
import { DELIVERY_STATUSES, JOB_STATUSES, MAX_DOWNLOADS, MAX_EXPIRATION_HOURS } from './job.js';
import { LIST_QUERY_DEFAULTS, MAX_ITEMS_PER_PAGE, MAX_PAGE_NUM } from './query.js';

export const objectIdSchema = z
  .string()
  .regex(/^[0-9a-f]{24}$/)
  .meta({ description: 'A MongoDB ObjectId: 24 lower-case hex digits.', examples: ['5d1d7b1b8f8e9a0001a1b2c3'] });

/** MongoDB prints dates in UTC to the second (lib/domain/time.ts isoSeconds); zod's own pattern is a page long. */
export const isoSecondsSchema = z
  .string()
  .regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
  .meta({ format: 'date-time', description: 'ISO 8601, UTC, to the second.', examples: ['2024-05-01T12:00:00Z'] });

const count = z.int().min(0);

export const bsonTimestampSchema = z
  .object({
    date: isoSecondsSchema,
    increment: z.int().min(0).max(0xffffffff).meta({ description: 'The ordinal of the operation within its second.' }),
  })
  .meta({ id: 'BsonTimestamp', description: 'An oplog optime (BSON Timestamp) as MongoDB prints it.' });

export const linkSchema = z
  .object({
    href: z.url(),
    rel: z.string().meta({
      examples: ['self', 'next', 'previous', 'http://mms.mongodb.com/cluster', 'http://mms.mongodb.com/group'],
    }),
  })
  .meta({ id: 'Link', description: 'A link to this resource (`self`), a page of its list, or a related resource.' });

const links = z.array(linkSchema);

export const restoreJobViewSchema = z
  .object({
    id: objectIdSchema,
    groupId: objectIdSchema,
    clusterId: objectIdSchema.meta({ description: 'The cluster restored (a shard or config server within a batch).' }),
    clusterName: z.string(),
    batchId: objectIdSchema
      .meta({ description: "A sharded cluster's restore: one job per shard and config server share it." })
      .optional(),
    snapshotId: objectIdSchema.meta({ description: 'The snapshot restored (absent for a checkpoint).' }).optional(),
    created: isoSecondsSchema,
    timestamp: bsonTimestampSchema,
    statusName: z.enum(JOB_STATUSES),
    pointInTime: z.boolean(),
    encryptionEnabled: z.boolean(),
    masterKeyUUID: z.string().optional(),
    delivery: z.object({
      methodName: z.literal('HTTP').meta({
        description: 'Always HTTP: an AUTOMATED_RESTORE request is an HTTP job whose ready artifact is announced.',
      }),
      statusName: z.enum(DELIVERY_STATUSES),
      expirationHours: z.int().min(1).max(MAX_EXPIRATION_HOURS),
      maxDownloads: z.int().min(1).max(MAX_DOWNLOADS),
      url: z
        .url()
        .meta({
          description:
            'The download URL (a bearer URL: no Digest), once the artifact exists (READY, EXPIRED, MAX_DOWNLOADS_EXCEEDED).',
        })
        .optional(),
      expires: isoSecondsSchema.meta({ description: 'When the download URL expires; set once READY.' }).optional(),
    }),
    hashes: z
      .array(
        z.object({
          typeName: z.literal('SHA1'),
          fileName: z.string(),
          hash: z.string().regex(/^[0-9a-f]{40}$/),
        }),
      )
      .meta({ description: "The artifact's SHA-1, once it is known and the artifact was downloaded." })
      .optional(),
    progress: z
      .object({ bytesTotal: count, bytesDone: count })
      .meta({
        description:
          "Not in MongoDB's API (its clients ignore it): how far the artifact's build has come, in tar bytes.",
      })
      .optional(),
    statusReason: z
      .string()
      .meta({ description: "Not in MongoDB's API: why a BROKEN job could not finish." })
      .optional(),
    links,
  })
  .meta({ id: 'RestoreJob', description: 'A restore job (Atlas v1.0 and Ops Manager v1.0 `restoreJobs`).' });

const snapshotPartType = z.enum(['REPLICA_SET', 'CONFIG_SERVER_REPLICA_SET']);

export const snapshotPartViewSchema = z
  .object({
    clusterId: objectIdSchema,
    replicaSetName: z.string().optional(),
    typeName: snapshotPartType,
    fileSizeBytes: count,
    dataSizeBytes: count,
    storageSizeBytes: count,
    mongodVersion: z.string().optional(),
    encryptionEnabled: z.boolean(),
    masterKeyUUID: z.string().optional(),
  })
  .meta({ id: 'SnapshotPart', description: "One replica set's part of a snapshot." });

export const snapshotViewSchema = z
  .object({
    id: objectIdSchema,
    groupId: objectIdSchema,
    clusterId: objectIdSchema,
    created: bsonTimestampSchema,
    complete: z.boolean(),
    expires: isoSecondsSchema.meta({ description: 'When the backup side deletes it.' }).optional(),
    doNotDelete: z.literal(false),
    isPossiblyInconsistent: z.literal(false),
    lastOplogAppliedTimestamp: bsonTimestampSchema,
    parts: z.array(snapshotPartViewSchema),
    links,
  })
  .meta({ id: 'Snapshot', description: "MongoDB's legacy snapshot resource (`…/clusters/{cluster}/snapshots`)." });

export const checkpointPartViewSchema = z
  .object({
    replicaSetName: z.string().optional(),
    typeName: snapshotPartType,
    shardName: z.string().meta({ description: "Shards only (the config server's part has none)." }).optional(),
    tokenDiscovered: z.boolean(),
    tokenTimestamp: bsonTimestampSchema.meta({ description: 'The optime this member is restored to.' }),
  })
  .meta({ id: 'CheckpointPart', description: "One shard's or the config server's part of a checkpoint." });

export const checkpointViewSchema = z
  .object({
    id: objectIdSchema,
    groupId: objectIdSchema,
    clusterId: objectIdSchema,
    restorable: z.boolean(),
    started: isoSecondsSchema,
    completed: isoSecondsSchema,
    timestamp: isoSecondsSchema.meta({ description: 'An ISO date here, unlike the parts’ optimes.' }),
    parts: z.array(checkpointPartViewSchema),
    links,
  })
  .meta({
    id: 'Checkpoint',
    description: "A sharded cluster's checkpoint (Atlas `…/backupCheckpoints`, Ops Manager `…/checkpoints`).",
  });

const listBase = z.object({
  totalCount: count.meta({ description: 'Absent when `includeCount=false`.' }).optional(),
  links: links.meta({ description: '`self`, and `previous` and `next` where those pages exist.' }),
});

function listOf<T extends z.ZodType>(item: T, id: string, what: string) {
  return listBase.extend({ results: z.array(item) }).meta({ id, description: `A page of ${what}.` });
}

export const restoreJobListSchema = listOf(restoreJobViewSchema, 'RestoreJobList', 'restore jobs');
export const snapshotListSchema = listOf(snapshotViewSchema, 'SnapshotList', 'snapshots, newest first');
export const checkpointListSchema = listOf(checkpointViewSchema, 'CheckpointList', 'checkpoints, newest first');

export const errorBodySchema = z
  .object({
    detail: z.string(),
    error: z.int().min(400).max(599).meta({ description: 'The HTTP status.' }),
    errorCode: z.string().meta({ examples: ['INVALID_ATTRIBUTE', 'RESTORE_JOB_NOT_FOUND'] }),
    parameters: z.array(z.unknown()).meta({ description: 'The values the detail names.' }),
    reason: z.string().meta({ description: "The status's reason phrase.", examples: ['Not Found'] }),
  })
  .meta({ id: 'Error', description: "MongoDB's error body: every answer with a 4xx or 5xx status." });

// ---------------------------------------------------------------------------------------------
// Query parameters (parsed by lib/domain/query.ts, which carries no zod: test/lib/domain/api-schemas.test.ts
// checks that both accept the same values)

const flag = (description: string) => z.boolean().default(false).meta({ description });

export const outputOptionsSchema = z.object({
  pretty: flag('`true`: the JSON body is indented (2 spaces) and ends with a newline.'),
  envelope: flag(
    "`true`: MongoDB's envelope. A single result and every error is answered as `{status, content}` (`status` " +
      'the HTTP status, `content` the body the schemas below describe); a list gets `status` added to its own ' +
      'fields. For clients that cannot read the HTTP status.',
  ),
});

export const listQuerySchema = z.object({
  pageNum: z.int().min(1).max(MAX_PAGE_NUM).default(LIST_QUERY_DEFAULTS.pageNum).meta({ description: 'The page.' }),
  itemsPerPage: z
    .int()
    .min(1)
    .max(MAX_ITEMS_PER_PAGE)
    .default(LIST_QUERY_DEFAULTS.itemsPerPage)
    .meta({ description: 'Results per page.' }),
  includeCount: z
    .boolean()
    .default(LIST_QUERY_DEFAULTS.includeCount)
    .meta({ description: '`false`: no `totalCount` (no count is read).' }),
});

export const jobListQuerySchema = listQuerySchema.extend({
  batchId: objectIdSchema.meta({ description: "Only this sharded restore's jobs." }).optional(),
});

// ---------------------------------------------------------------------------------------------
// The types the views are written against

export type BsonTimestampView = z.output<typeof bsonTimestampSchema>;
export type Link = z.output<typeof linkSchema>;
export type RestoreJobView = z.output<typeof restoreJobViewSchema>;
export type SnapshotView = z.output<typeof snapshotViewSchema>;
export type SnapshotPartView = z.output<typeof snapshotPartViewSchema>;
export type CheckpointView = z.output<typeof checkpointViewSchema>;
export type CheckpointPartView = z.output<typeof checkpointPartViewSchema>;
export type ErrorBody = z.output<typeof errorBodySchema>;
/** A list page of any item: `results` typed by the caller, the rest from the list schemas. */
export type ListView<T> = z.output<typeof listBase> & { results: T[] };
