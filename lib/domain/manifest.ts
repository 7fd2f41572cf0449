/**
 * Manifests: how the backup side registers what it wrote to the snapshot bucket (docs/ingest.md). One JSON
 * object per manifest, under `manifests/`, with a `kind`. Parsing is pure; whether the clusters a manifest
 * references exist is checked by the use case (lib/use-cases/ingest-manifest.ts).
 */
import { z } from 'zod';
import { objectKey, snapshotFile } from './file-list.js';
import { compareTimestamps, MAX_INCREMENT } from './optime.js';

/**
 * Manifests are small: a replica set snapshot lists at most MAX_FILES files inline; a larger one names an NDJSON
 * file-list object (`filesKey`, up to MAX_LISTED_FILES files, lib/domain/file-list.ts).
 */
export const MAX_MANIFEST_BYTES = 1024 * 1024;
export const MAX_FILES = 1000;

/** Where manifests live in the snapshot bucket, and how their keys end. */
export const MANIFEST_PREFIX = 'manifests/';
export const MANIFEST_SUFFIX = '.json';

export function isManifestKey(key: string): boolean {
  return key.startsWith(MANIFEST_PREFIX) && key.endsWith(MANIFEST_SUFFIX);
}

/**
 * A file-list object's key: under `manifests/` (the only prefix the ingest function may read) but not ending in
 * `.json` (uploading it must not trigger ingest), e.g. `manifests/snapshots/<snapshotId>.files.ndjson`.
 */
export function isFileListKey(key: string): boolean {
  return key.startsWith(MANIFEST_PREFIX) && key.length > MANIFEST_PREFIX.length && !key.endsWith(MANIFEST_SUFFIX);
}

const objectId = z.string().regex(/^[0-9a-f]{24}$/, 'a 24-hex ObjectId');
// MongoDB prints dates in UTC to the second; an optime's date has no finer precision.
const isoDate = z.iso.datetime({ precision: 0 });
const timestamp = z.strictObject({ date: isoDate, increment: z.int().min(0).max(MAX_INCREMENT) });
const name = z.string().min(1).max(256);
const size = z.int().min(0);
const filesKey = objectKey.refine(isFileListKey, `a key under ${MANIFEST_PREFIX} not ending in ${MANIFEST_SUFFIX}`);

const clusterManifest = z
  .strictObject({
    kind: z.literal('cluster'),
    groupId: objectId,
    id: objectId,
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/, 'a cluster name (letters, digits, hyphens)'),
    typeName: z.enum(['REPLICA_SET', 'SHARDED_CLUSTER', 'CONFIG_SERVER_REPLICA_SET']),
    replicaSetName: name.optional(),
    shardClusterIds: z.array(objectId).min(1).max(256).optional(),
    configServerClusterId: objectId.optional(),
    parentClusterId: objectId.optional(),
  })
  .superRefine((cluster, ctx) => {
    const sharded = cluster.typeName === 'SHARDED_CLUSTER';
    for (const field of ['shardClusterIds', 'configServerClusterId'] as const) {
      if (!sharded && cluster[field] !== undefined) {
        ctx.addIssue({ code: 'custom', path: [field], message: 'only a sharded cluster has shards' });
      }
    }
    if (sharded && cluster.parentClusterId !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['parentClusterId'], message: 'a sharded cluster has no parent' });
    }
    if (sharded && cluster.replicaSetName !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['replicaSetName'], message: 'a sharded cluster is not a replica set' });
    }
    if (cluster.typeName === 'CONFIG_SERVER_REPLICA_SET' && cluster.parentClusterId === undefined) {
      ctx.addIssue({ code: 'custom', path: ['parentClusterId'], message: 'a config server belongs to a cluster' });
    }
  });

const snapshotManifest = z
  .strictObject({
    kind: z.literal('snapshot'),
    id: objectId,
    groupId: objectId,
    clusterId: objectId,
    timestamp,
    created: isoDate.optional(),
    complete: z.boolean(),
    expires: isoDate.optional(),
    encryptionEnabled: z.boolean().optional(),
    masterKeyUUID: z.string().min(1).max(128).optional(),
    replicaSetName: name.optional(),
    mongodVersion: z.string().min(1).max(64).optional(),
    /** The files inline (at most MAX_FILES)… */
    files: z.array(snapshotFile).max(MAX_FILES).optional(),
    /** …or the key of an NDJSON file-list object in the snapshot bucket. */
    filesKey: filesKey.optional(),
    parts: z
      .array(
        z.strictObject({
          snapshotId: objectId,
          clusterId: objectId,
          replicaSetName: name,
          typeName: z.enum(['REPLICA_SET', 'CONFIG_SERVER_REPLICA_SET']),
        }),
      )
      .min(1)
      .max(257)
      .optional(),
  })
  .superRefine((snapshot, ctx) => {
    if (snapshot.parts !== undefined) {
      if ((snapshot.files?.length ?? 0) > 0) {
        ctx.addIssue({ code: 'custom', path: ['files'], message: 'a sharded snapshot keeps its files in its parts' });
      }
      if (snapshot.filesKey !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['filesKey'],
          message: 'a sharded snapshot keeps its files in its parts',
        });
      }
    } else if ((snapshot.files === undefined) === (snapshot.filesKey === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['files'], message: 'exactly one of files and filesKey' });
    }
    if (snapshot.masterKeyUUID !== undefined && snapshot.encryptionEnabled !== true) {
      ctx.addIssue({ code: 'custom', path: ['masterKeyUUID'], message: 'only an encrypted snapshot has a key' });
    }
    const names = new Set<string>();
    snapshot.files?.forEach((file, index) => {
      if (names.has(file.name)) ctx.addIssue({ code: 'custom', path: ['files', index, 'name'], message: 'duplicate' });
      names.add(file.name);
    });
  });

const oplogManifest = z
  .strictObject({
    kind: z.literal('oplog'),
    id: objectId,
    groupId: objectId,
    clusterId: objectId,
    key: objectKey,
    after: timestamp,
    first: timestamp,
    last: timestamp,
    sizeBytes: size,
    count: z.int().min(1),
  })
  .superRefine((slice, ctx) => {
    if (compareTimestamps(slice.after, slice.first) >= 0) {
      ctx.addIssue({ code: 'custom', path: ['after'], message: 'must be before first' });
    }
    if (compareTimestamps(slice.first, slice.last) > 0) {
      ctx.addIssue({ code: 'custom', path: ['last'], message: 'must not be before first' });
    }
  });

const checkpointManifest = z.strictObject({
  kind: z.literal('checkpoint'),
  id: objectId,
  groupId: objectId,
  clusterId: objectId,
  timestamp,
  started: isoDate.optional(),
  completed: isoDate,
});

export const manifest = z.discriminatedUnion('kind', [
  clusterManifest,
  snapshotManifest,
  oplogManifest,
  checkpointManifest,
]);

export type Manifest = z.infer<typeof manifest>;
export type ClusterManifest = z.infer<typeof clusterManifest>;
export type SnapshotManifest = z.infer<typeof snapshotManifest>;
export type OplogManifest = z.infer<typeof oplogManifest>;
export type CheckpointManifest = z.infer<typeof checkpointManifest>;

/**
 * A manifest that can never be registered: retrying will not help. `issues` are paths and messages only (no
 * values), safe to log.
 */
export class ManifestRejected extends Error {
  constructor(
    readonly reason: string,
    readonly issues: readonly { path: string; message: string }[] = [],
  ) {
    super(reason);
    this.name = 'ManifestRejected';
  }
}

/** Parses a manifest object's bytes; throws ManifestRejected for anything that is not a valid manifest. */
export function parseManifest(body: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new ManifestRejected('not JSON');
  }
  const result = manifest.safeParse(json);
  if (result.success) return result.data;
  throw new ManifestRejected(
    'invalid manifest',
    result.error.issues
      .slice(0, 20)
      .map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message })),
  );
}
