import { z } from 'zod';
import { type ApiError, errors } from './errors.js';
import { MAX_DOWNLOADS, MAX_EXPIRATION_HOURS } from './job.js';
import { MAX_INCREMENT } from './optime.js';

const objectId = z.string().regex(/^[0-9a-f]{24}$/);

// The descriptions (.meta) are the OpenAPI document's (lib/openapi/); parsing ignores them.
const delivery = z
  .strictObject({
    methodName: z.enum(['HTTP', 'AUTOMATED_RESTORE']).meta({
      description: 'AUTOMATED_RESTORE: once ready, the artifact is announced to the target side (docs/events.md).',
    }),
    expirationHours: z.int().min(1).max(MAX_EXPIRATION_HOURS).optional(),
    maxDownloads: z.int().min(1).max(MAX_DOWNLOADS).optional(),
    targetGroupId: objectId.meta({ description: 'AUTOMATED_RESTORE: the target group.' }).optional(),
    targetClusterName: z.string().min(1).max(64).meta({ description: 'AUTOMATED_RESTORE (Atlas).' }).optional(),
    targetClusterId: objectId.meta({ description: 'AUTOMATED_RESTORE (Ops Manager).' }).optional(),
  })
  .meta({ description: "How the artifact is delivered; omitted fields take the path family's defaults." });

/**
 * POST …/restoreJobs body, every form the seeds document. Unknown attributes are refused as MongoDB
 * refuses them. Which source forms are served is decided by the use case.
 */
export const createRestoreJobBody = z
  .strictObject({
    snapshotId: objectId.meta({ description: 'Restore this snapshot.' }).optional(),
    delivery: delivery.optional(),
    timestamp: z
      .strictObject({ date: z.iso.datetime({ offset: true }), increment: z.int().min(0).max(MAX_INCREMENT) })
      .meta({ description: 'A point in time: this oplog optime.' })
      .optional(),
    pointInTimeUTCMillis: z.int().meta({ description: 'A point in time within the last 24 hours.' }).optional(),
    oplogTs: z
      .union([z.string(), z.int()])
      .meta({ description: 'A point in time (with oplogInc): the optime’s seconds since the epoch.' })
      .optional(),
    oplogInc: z.union([z.string(), z.int()]).meta({ description: 'The optime’s increment (with oplogTs).' }).optional(),
    checkpointId: objectId.meta({ description: "A sharded cluster's checkpoint." }).optional(),
    checkPointId: objectId.meta({ description: 'The same, as the Go clients spell it.' }).optional(),
  })
  .meta({ id: 'CreateRestoreJobRequest', description: 'One source (and optionally a delivery).' });

export type CreateRestoreJobBody = z.infer<typeof createRestoreJobBody>;

/** Parses an already JSON-decoded body; every failure is a 400 in MongoDB's shape. */
export function parseCreateRestoreJobBody(input: unknown): CreateRestoreJobBody {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw errors.malformedJson();
  }
  const result = createRestoreJobBody.safeParse(input);
  if (result.success) return result.data;
  throw toApiError(result.error, input);
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function toApiError(error: z.ZodError, input: unknown): ApiError {
  const [issue] = error.issues;
  if (issue === undefined) return errors.malformedJson();
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    return errors.invalidAttribute(path ? `${path}.${key}` : key);
  }
  if (valueAt(input, issue.path) === undefined) {
    return errors.missingAttribute(path);
  }
  return errors.invalidAttribute(path, describe(issue));
}

function describe(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'too_small':
      return `It must be ${issue.inclusive ? 'at least' : 'more than'} ${issue.minimum}.`;
    case 'too_big':
      return `It must be ${issue.inclusive ? 'at most' : 'less than'} ${issue.maximum}.`;
    case 'invalid_type':
      return `It must be ${issue.expected === 'int' ? 'an integer' : `a ${issue.expected}`}.`;
    case 'invalid_value':
      return `Accepted values: ${issue.values.map(String).join(', ')}.`;
    case 'invalid_format':
      return issue.format === 'regex' ? 'It must be a 24-hex ObjectId.' : `It must be a ${issue.format}.`;
    default:
      return '';
  }
}
