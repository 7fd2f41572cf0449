import { z } from 'zod';

/**
 * What MongoDB's Go clients decode (seeds/README.md): integers must be JSON integers, booleans booleans,
 * dates strings; unknown fields are ignored. A response that fails these schemas would fail to decode there.
 */
const date = z.string().regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
const link = z.object({ href: z.url(), rel: z.string() });

export const goRestoreJob = z.object({
  id: z.string().regex(/^[0-9a-f]{24}$/),
  groupId: z.string(),
  clusterId: z.string(),
  batchId: z.string().optional(),
  snapshotId: z.string().optional(),
  created: date,
  timestamp: z.object({ date, increment: z.int() }),
  statusName: z.enum(['FINISHED', 'IN_PROGRESS', 'BROKEN', 'KILLED']),
  pointInTime: z.boolean(),
  encryptionEnabled: z.boolean(),
  delivery: z.object({
    methodName: z.literal('HTTP'),
    statusName: z.enum([
      'NOT_STARTED',
      'IN_PROGRESS',
      'READY',
      'FAILED',
      'INTERRUPTED',
      'EXPIRED',
      'MAX_DOWNLOADS_EXCEEDED',
    ]),
    expirationHours: z.int(),
    maxDownloads: z.int(),
    url: z.url().optional(),
    expires: date.optional(),
  }),
  hashes: z.array(z.object({ typeName: z.literal('SHA1'), fileName: z.string(), hash: z.string() })).optional(),
  links: z.array(link),
});

export const goRestoreJobList = z.object({ totalCount: z.int(), results: z.array(goRestoreJob), links: z.array(link) });

export const goError = z.object({
  detail: z.string(),
  error: z.int(),
  errorCode: z.string(),
  parameters: z.array(z.unknown()),
  reason: z.string(),
});

/**
 * The Go clients' `Checkpoint` (go-client-mongodb-atlas `checkpoints.go`, used by the Ops Manager client too):
 * `started`, `completed` and `timestamp` are Go strings (an optime object there fails to decode), `restorable` a
 * bool; each part's `tokenTimestamp` is a `SnapshotTimestamp` object with an integer increment.
 */
export const goCheckpointPart = z.object({
  replicaSetName: z.string().optional(),
  typeName: z.enum(['REPLICA_SET', 'CONFIG_SERVER_REPLICA_SET']),
  shardName: z.string().optional(),
  tokenDiscovered: z.boolean(),
  tokenTimestamp: z.object({ date, increment: z.int() }),
});

export const goCheckpoint = z.object({
  id: z.string().regex(/^[0-9a-f]{24}$/),
  clusterId: z.string(),
  groupId: z.string(),
  restorable: z.boolean(),
  started: date,
  completed: date,
  timestamp: date,
  parts: z.array(goCheckpointPart),
  links: z.array(link),
});

export const goCheckpointList = z.object({
  totalCount: z.int().optional(),
  results: z.array(goCheckpoint),
  links: z.array(link),
});
