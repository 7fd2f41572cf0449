import type { ErrorBody } from './api-schemas.js';

/**
 * Errors a client may see, as MongoDB's API shapes them:
 * `{detail, error, errorCode, parameters, reason}` (a zod schema in api-schemas.ts, the OpenAPI document's source).
 * Everything else that escapes a handler is an internal error and becomes a generic 500 UNEXPECTED_ERROR (no
 * detail leaks out).
 */
export type { ErrorBody } from './api-schemas.js';

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  // RFC 2616's name, which API Gateway's own answer also uses.
  413: 'Request Entity Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
};

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly errorCode: string,
    readonly detail: string,
    readonly parameters: readonly unknown[] = [],
  ) {
    super(detail);
    this.name = 'ApiError';
  }

  toJSON(): ErrorBody {
    return {
      detail: this.detail,
      error: this.statusCode,
      errorCode: this.errorCode,
      parameters: [...this.parameters],
      reason: REASONS[this.statusCode] ?? 'Error',
    };
  }
}

export const errors = {
  malformedJson: () => new ApiError(400, 'MALFORMED_JSON', 'Received JSON is malformed.'),
  invalidAttribute: (name: string, why?: string) =>
    new ApiError(400, 'INVALID_ATTRIBUTE', `Invalid attribute ${name} specified.${why ? ` ${why}` : ''}`, [name]),
  missingAttribute: (name: string) =>
    new ApiError(400, 'MISSING_ATTRIBUTE', `The required attribute ${name} was not specified.`, [name]),
  invalidGroupId: (groupId: string) =>
    new ApiError(400, 'INVALID_GROUP_ID', `An invalid group ID ${groupId} was specified.`, [groupId]),
  groupNotFound: (groupId: string) =>
    new ApiError(404, 'GROUP_NOT_FOUND', `No group with ID ${groupId} exists.`, [groupId]),
  clusterNotFound: (cluster: string, groupId: string) =>
    new ApiError(404, 'CLUSTER_NOT_FOUND', `No cluster named ${cluster} exists in group ${groupId}.`, [
      cluster,
      groupId,
    ]),
  snapshotNotFound: (snapshotId: string) =>
    new ApiError(404, 'SNAPSHOT_NOT_FOUND', `No snapshot with ID ${snapshotId} exists.`, [snapshotId]),
  snapshotExpired: (snapshotId: string, expires: string) =>
    new ApiError(
      409,
      'CANNOT_START_RESTORE_JOB_FOR_DELETED_SNAPSHOT',
      `Snapshot ${snapshotId} expired at ${expires} and can no longer be restored.`,
      [snapshotId],
    ),
  restoreJobNotFound: (jobId: string) =>
    new ApiError(404, 'RESTORE_JOB_NOT_FOUND', `No restore job with ID ${jobId} exists.`, [jobId]),
  // DELETE of a job that is neither building nor holding a READY link (KILLED, BROKEN, EXPIRED, used up).
  restoreJobNotCancellable: (jobId: string, statusName: string, deliveryStatusName: string) =>
    new ApiError(
      409,
      'RESTORE_JOB_NOT_CANCELLABLE',
      `Restore job ${jobId} is ${statusName} with delivery ${deliveryStatusName}: there is no build to cancel and no ` +
        'ready download link to revoke.',
      [jobId, statusName, deliveryStatusName],
    ),
  invalidPitRestoreTime: (detail: string) => new ApiError(400, 'INVALID_PIT_RESTORE_TIME', detail),
  // MongoDB's own spelling, T-zero included.
  noSnapshotBeforePit: (detail: string) =>
    new ApiError(400, 'UNABLE_T0_FIND_SNAPSHOT_PRIOR_TO_PIT_RESTORE_OPTIME', detail),
  checkpointNotFound: (checkpointId: string) =>
    new ApiError(404, 'CHECKPOINT_NOT_FOUND', `No checkpoint with ID ${checkpointId} exists.`, [checkpointId]),
  unauthorized: () => new ApiError(401, 'USER_UNAUTHORIZED', 'Current user is not authorized to perform this action.'),
  notOnAccessList: (address: string) =>
    new ApiError(
      403,
      'IP_ADDRESS_NOT_ON_ACCESS_LIST',
      `IP address ${address} is not allowed to access this resource.`,
      [address],
    ),
  // Atlas's answer to a path it does not serve. The path is the caller's own; it names no group or job lookup.
  resourceNotFound: (path: string) => new ApiError(404, 'RESOURCE_NOT_FOUND', `Cannot find resource ${path}.`, [path]),
  methodNotAllowed: (method: string, path: string) =>
    new ApiError(405, 'METHOD_NOT_ALLOWED', `Method ${method} is not allowed on resource ${path}.`, [method, path]),
  requestEntityTooLarge: (limitBytes: number) =>
    new ApiError(
      413,
      'REQUEST_ENTITY_TOO_LARGE',
      `The request body is larger than the ${limitBytes} bytes this resource accepts.`,
      [limitBytes],
    ),
  unsupportedMediaType: () =>
    new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'The request body must be JSON (Content-Type: application/json).'),
  unexpected: () => new ApiError(500, 'UNEXPECTED_ERROR', 'Unexpected error.'),
  // The Idempotency-Key header (IETF httpapi draft): malformed, reused with another body, or still being served.
  invalidIdempotencyKey: () =>
    new ApiError(
      400,
      'INVALID_IDEMPOTENCY_KEY',
      'The Idempotency-Key header must be 1 to 255 printable ASCII characters (or a quoted string of them).',
    ),
  idempotencyKeyReused: (key: string) =>
    new ApiError(
      422,
      'IDEMPOTENCY_KEY_REUSED',
      `Idempotency-Key ${key} was already used with a different request body on this resource.`,
      [key],
    ),
  idempotentRequestInProgress: (key: string) =>
    new ApiError(
      409,
      'IDEMPOTENT_REQUEST_IN_PROGRESS',
      `A request with Idempotency-Key ${key} is still being processed; retry it shortly.`,
      [key],
    ),
};
