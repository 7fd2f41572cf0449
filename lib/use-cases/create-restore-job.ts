import { parseCreateRestoreJobBody } from '../domain/create-request.js';
import { deriveToken, hashToken, newTokenSalt } from '../domain/delivery-token.js';
import { errors } from '../domain/errors.js';
import { artifactFileName, DELIVERY_DEFAULTS, type RestoreJob } from '../domain/job.js';
import { newObjectId } from '../domain/object-id.js';
import { isoSeconds } from '../domain/time.js';
import type { CatalogStore, Clock, JobStore, Workflow } from './ports.js';
import { type ClusterRef, resolveCluster } from './resolve-cluster.js';

export interface CreateRestoreJobRequest extends ClusterRef {
  /** Scheme and host the request came to: the delivery URL is a URL of this API. */
  readonly baseUrl: string;
  readonly body: unknown;
}

/**
 * Creates the restore job(s) for a request and starts their state machine executions. Returns the
 * jobs as written (status IN_PROGRESS, delivery NOT_STARTED).
 */
export async function createRestoreJob(
  deps: { catalog: CatalogStore; jobs: JobStore; workflow: Workflow; clock: Clock; secret: string },
  request: CreateRestoreJobRequest,
): Promise<RestoreJob[]> {
  const cluster = await resolveCluster(deps.catalog, request);
  const body = parseCreateRestoreJobBody(request.body);

  const pointInTimeFields = [
    'timestamp',
    'pointInTimeUTCMillis',
    'oplogTs',
    'oplogInc',
    'checkpointId',
    'checkPointId',
  ] as const;
  const pitField = pointInTimeFields.find((name) => body[name] !== undefined);
  if (pitField !== undefined) {
    throw errors.invalidAttribute(
      pitField,
      'Point-in-time and checkpoint restores are not available on this service yet.',
    );
  }
  if (body.delivery?.methodName === 'AUTOMATED_RESTORE') {
    throw errors.invalidAttribute('delivery.methodName', 'AUTOMATED_RESTORE is not available on this service yet.');
  }
  if (cluster.typeName !== 'REPLICA_SET') {
    throw errors.invalidAttribute('clusterId', 'Restores of sharded clusters are not available on this service yet.');
  }
  if (body.snapshotId === undefined) throw errors.missingAttribute('snapshotId');

  const snapshot = await deps.catalog.getSnapshot(body.snapshotId);
  if (snapshot === undefined || snapshot.groupId !== request.groupId || snapshot.clusterId !== cluster.id) {
    throw errors.snapshotNotFound(body.snapshotId);
  }
  if (!snapshot.complete) throw errors.invalidAttribute('snapshotId', 'The snapshot is not complete yet.');

  const now = deps.clock.now();
  const id = newObjectId(now);
  const defaults = DELIVERY_DEFAULTS[request.family];
  const salt = newTokenSalt();
  const job: RestoreJob = {
    id,
    groupId: request.groupId,
    requestClusterId: cluster.id,
    clusterId: cluster.id,
    clusterName: cluster.name,
    apiFamily: request.family,
    snapshotId: snapshot.id,
    created: isoSeconds(now),
    timestamp: snapshot.timestamp,
    pointInTime: false,
    encryptionEnabled: snapshot.encryptionEnabled,
    ...(snapshot.masterKeyUUID !== undefined && { masterKeyUUID: snapshot.masterKeyUUID }),
    statusName: 'IN_PROGRESS',
    delivery: {
      methodName: 'HTTP',
      expirationHours: body.delivery?.expirationHours ?? defaults.expirationHours,
      maxDownloads: body.delivery?.maxDownloads ?? defaults.maxDownloads,
      statusName: 'NOT_STARTED',
      downloadCount: 0,
      baseUrl: request.baseUrl,
      fileName: artifactFileName(cluster.name, snapshot.timestamp, id),
      tokenSalt: salt,
      tokenHash: hashToken(deriveToken(deps.secret, id, salt)),
    },
  };

  await deps.jobs.create([job]);
  try {
    await deps.workflow.start(job.id);
  } catch (error) {
    // A job nobody drives would stay IN_PROGRESS forever: record why it cannot run, then report the failure.
    await deps.jobs.transition(job.id, 'fail', {
      failureReason: 'The restore workflow could not be started.',
      now: new Date(deps.clock.now()).toISOString(),
    });
    throw error;
  }
  return [job];
}
