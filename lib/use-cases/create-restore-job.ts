import type { Cluster } from '../domain/catalog.js';
import { type CreateRestoreJobBody, parseCreateRestoreJobBody } from '../domain/create-request.js';
import { deriveToken, hashToken, newTokenSalt } from '../domain/delivery-token.js';
import { errors } from '../domain/errors.js';
import { type AutomatedRestoreTarget, artifactFileName, DELIVERY_DEFAULTS, type RestoreJob } from '../domain/job.js';
import { newObjectId } from '../domain/object-id.js';
import { restoreSource } from '../domain/restore-source.js';
import { isoSeconds } from '../domain/time.js';
import { planRestore, type RestorePlan } from './plan-restore.js';
import type { CatalogStore, Clock, JobStore, Workflow } from './ports.js';
import { type ClusterRef, resolveCluster } from './resolve-cluster.js';

export interface CreateRestoreJobRequest extends ClusterRef {
  /** Scheme and host the request came to: the delivery URL is a URL of this API. */
  readonly baseUrl: string;
  readonly body: unknown;
  /** Throws unless the caller may restore into that group (automated restore targets). */
  readonly authorizeTargetGroup: (groupId: string) => void;
}

/**
 * Creates the restore job(s) for a request and starts their state machine executions: one job for a
 * replica set; for a sharded cluster one per shard plus one for the config server, sharing a batchId,
 * written so that the batch becomes visible all at once. Returns the jobs as written (IN_PROGRESS,
 * delivery NOT_STARTED).
 */
export async function createRestoreJob(
  deps: { catalog: CatalogStore; jobs: JobStore; workflow: Workflow; clock: Clock; secret: string },
  request: CreateRestoreJobRequest,
): Promise<RestoreJob[]> {
  const cluster = await resolveCluster(deps.catalog, request);
  const body = parseCreateRestoreJobBody(request.body);
  const now = deps.clock.now();
  const source = restoreSource(body, now);
  const target = await automatedRestoreTarget(deps.catalog, body, request.authorizeTargetGroup);
  const plans = await planRestore(deps.catalog, cluster, source, now);

  const batchId = cluster.typeName === 'SHARDED_CLUSTER' ? newObjectId(now) : undefined;
  const jobs = plans.map((plan) => newJob({ plan, cluster, request, body, batchId, target, now, secret: deps.secret }));
  await deps.jobs.create(jobs);

  // Batch jobs run in parallel. A job whose execution cannot start would stay IN_PROGRESS forever:
  // it is marked broken with the reason, and the request fails.
  const started = await Promise.allSettled(jobs.map((job) => deps.workflow.start(job.id)));
  const failed = started.flatMap((result, index) =>
    result.status === 'rejected' ? [{ result, job: jobs[index] }] : [],
  );
  for (const { job } of failed) {
    if (job === undefined) continue;
    await deps.jobs.transition(job.id, 'fail', {
      failureReason: 'The restore workflow could not be started.',
      now: new Date(deps.clock.now()).toISOString(),
    });
  }
  if (failed[0] !== undefined) throw failed[0].result.reason;
  return jobs;
}

function newJob(args: {
  plan: RestorePlan;
  cluster: Cluster;
  request: CreateRestoreJobRequest;
  body: CreateRestoreJobBody;
  batchId: string | undefined;
  target: AutomatedRestoreTarget | undefined;
  now: number;
  secret: string;
}): RestoreJob {
  const { plan, cluster, request, body, now } = args;
  const id = newObjectId(now);
  const defaults = DELIVERY_DEFAULTS[request.family];
  const salt = newTokenSalt();
  const member = plan.cluster;
  // Parts of a batch are named after their replica set, as MongoDB names them (Cluster0-shard-1-…).
  const fileBase = args.batchId !== undefined ? (member.replicaSetName ?? member.name) : cluster.name;
  return {
    id,
    groupId: request.groupId,
    requestClusterId: cluster.id,
    clusterId: member.id,
    clusterName: cluster.name,
    apiFamily: request.family,
    snapshotId: plan.snapshot.id,
    ...(args.batchId !== undefined && { batchId: args.batchId }),
    created: isoSeconds(now),
    timestamp: plan.timestamp,
    pointInTime: plan.pointInTime,
    encryptionEnabled: plan.snapshot.encryptionEnabled,
    ...(plan.snapshot.masterKeyUUID !== undefined && { masterKeyUUID: plan.snapshot.masterKeyUUID }),
    statusName: 'IN_PROGRESS',
    delivery: {
      methodName: 'HTTP', // automated restores are delivered over HTTP too, and shown so (seed 001)
      expirationHours: body.delivery?.expirationHours ?? defaults.expirationHours,
      maxDownloads: body.delivery?.maxDownloads ?? defaults.maxDownloads,
      statusName: 'NOT_STARTED',
      downloadCount: 0,
      baseUrl: request.baseUrl,
      fileName: artifactFileName(fileBase, plan.timestamp, id),
      tokenSalt: salt,
      tokenHash: hashToken(deriveToken(args.secret, id, salt)),
    },
    ...(member.replicaSetName !== undefined && { replicaSetName: member.replicaSetName }),
    ...(plan.checkpointId !== undefined && { checkpointId: plan.checkpointId }),
    ...(plan.oplog !== undefined && { oplog: plan.oplog }),
    ...(args.target !== undefined && { automatedRestore: args.target }),
  };
}

/** AUTOMATED_RESTORE names a target cluster the caller may write to. */
async function automatedRestoreTarget(
  catalog: CatalogStore,
  body: CreateRestoreJobBody,
  authorize: (groupId: string) => void,
): Promise<AutomatedRestoreTarget | undefined> {
  const delivery = body.delivery;
  if (delivery?.methodName !== 'AUTOMATED_RESTORE') {
    for (const name of ['targetGroupId', 'targetClusterName', 'targetClusterId'] as const) {
      if (delivery?.[name] !== undefined) {
        throw errors.invalidAttribute(`delivery.${name}`, 'It is for delivery.methodName AUTOMATED_RESTORE only.');
      }
    }
    return undefined;
  }
  const groupId = delivery.targetGroupId;
  if (groupId === undefined) throw errors.missingAttribute('delivery.targetGroupId');
  if (delivery.targetClusterName === undefined && delivery.targetClusterId === undefined) {
    throw errors.missingAttribute('delivery.targetClusterName');
  }
  // The caller must be allowed to restore into the target group before learning anything about it.
  authorize(groupId);
  const byId =
    delivery.targetClusterId !== undefined
      ? await catalog.getClusterById(groupId, delivery.targetClusterId)
      : undefined;
  const byName =
    delivery.targetClusterName !== undefined
      ? await catalog.getClusterByName(groupId, delivery.targetClusterName)
      : undefined;
  const target = byId ?? byName;
  if (target === undefined || (byId !== undefined && byName !== undefined && byId.id !== byName.id)) {
    throw errors.clusterNotFound(delivery.targetClusterName ?? delivery.targetClusterId ?? '', groupId);
  }
  return { targetGroupId: groupId, targetClusterId: target.id, targetClusterName: target.name };
}
