import type { Cluster } from '../domain/catalog.js';
import { type CreateRestoreJobBody, parseCreateRestoreJobBody } from '../domain/create-request.js';
import { deriveToken, hashToken, newTokenSalt } from '../domain/delivery-token.js';
import { errors } from '../domain/errors.js';
import {
  type AutomatedRestoreTarget,
  artifactFileName,
  DELIVERY_DEFAULTS,
  type RestoreJob,
  type SourceKind,
} from '../domain/job.js';
import { newObjectId } from '../domain/object-id.js';
import { restoreSource, sourceKindOf } from '../domain/restore-source.js';
import { isoSeconds } from '../domain/time.js';
import { planRestore, type RestorePlan } from './plan-restore.js';
import type { CatalogStore, Clock, JobObserver, JobStore, Workflow } from './ports.js';
import { type ClusterRef, resolveCluster } from './resolve-cluster.js';

export interface CreateRestoreJobRequest extends ClusterRef {
  /** Scheme and host the request came to: the delivery URL is a URL of this API. */
  readonly baseUrl: string;
  readonly body: unknown;
  /** Throws unless the caller may restore into that group (automated restore targets). */
  readonly authorizeTargetGroup: (groupId: string) => void;
}

type CreateDeps = {
  catalog: CatalogStore;
  jobs: JobStore;
  workflow: Workflow;
  clock: Clock;
  secret: string;
  observer?: JobObserver;
};

/**
 * Creates the restore job(s) for a request and starts their state machine executions: one job for a
 * replica set; for a sharded cluster one per shard plus one for the config server, sharing a batchId,
 * written so that the batch becomes visible all at once. Returns the jobs as written (IN_PROGRESS,
 * delivery NOT_STARTED).
 */
export async function createRestoreJob(deps: CreateDeps, request: CreateRestoreJobRequest): Promise<RestoreJob[]> {
  const cluster = await resolveCluster(deps.catalog, request);
  const body = parseCreateRestoreJobBody(request.body);
  const now = deps.clock.now();
  const source = restoreSource(body, now);
  const target = await automatedRestoreTarget(deps.catalog, body, request.authorizeTargetGroup);
  const plans = await planRestore(deps.catalog, cluster, source, now);

  const batchId = cluster.typeName === 'SHARDED_CLUSTER' ? newObjectId(now) : undefined;
  const sourceKind = sourceKindOf(source, body);
  const jobs = plans.map((plan) =>
    newJob({ plan, cluster, request, body, sourceKind, batchId, target, now, secret: deps.secret }),
  );
  await deps.jobs.create(jobs);
  deps.observer?.created(jobs);

  // Batch jobs run in parallel. A job whose execution cannot start would stay IN_PROGRESS forever:
  // it is marked broken with the reason, and the request fails.
  const started = await Promise.allSettled(jobs.map((job) => deps.workflow.start(job.id)));
  const failed = started.flatMap((result, index) =>
    result.status === 'rejected' ? [{ result, job: jobs[index] }] : [],
  );
  for (const { job } of failed) {
    if (job === undefined) continue;
    const at = deps.clock.now();
    const result = await deps.jobs.transition(job.id, 'fail', {
      failureReason: 'The restore workflow could not be started.',
      now: new Date(at).toISOString(),
    });
    if (result.changed) deps.observer?.transitioned('fail', job, result.job, at);
  }
  if (failed[0] !== undefined) throw failed[0].result.reason;
  return jobs;
}

/**
 * Runs `work` at most once per scope while its record lives (lib/adapters/dynamodb/idempotency-store.ts: Powertools'
 * Idempotency utility) and keeps what it returned. `ran`: it ran now; `replayed`: an earlier run with the same scope
 * and payload completed, `value` is what that run returned; `payloadMismatch`: the scope was used with another
 * payload; `inProgress`: a run with this scope has not finished (and has not outlived its invocation).
 */
export interface IdempotentRuns {
  run<T extends Record<string, unknown>>(
    request: {
      readonly scope: Readonly<Record<string, string>>;
      readonly payload: unknown;
      /** The invocation's remaining time: a run's claim on the scope lapses with it (a crashed run is retried). */
      readonly remainingTimeMs: () => number;
    },
    work: () => Promise<T>,
  ): Promise<IdempotentOutcome<T>>;
}

export type IdempotentOutcome<T> =
  | { readonly kind: 'ran' | 'replayed'; readonly value: T }
  | { readonly kind: 'payloadMismatch' | 'inProgress' };

export interface IdempotentCreateRequest extends CreateRestoreJobRequest {
  /** The Idempotency-Key header's value (lib/domain/idempotency-key.ts). */
  readonly idempotencyKey: string;
  /** The API key's public key (the Digest username): a key is the caller's own. */
  readonly callerId: string;
  /** The path the request was sent to, its parameters decoded: a key is for one resource. */
  readonly resource: string;
  readonly remainingTimeMs: () => number;
}

/** How long a request waits for a concurrent one with its key to finish before answering 409. */
export const IDEMPOTENT_WAIT_MS = 5_000;
/** Time kept back from the wait to answer within the invocation. */
const ANSWER_RESERVE_MS = 2_000;

/**
 * `Idempotency-Key` (IETF httpapi draft): the first request with a key creates the jobs; a retry with the same key,
 * caller, path and body (within the record's 24 hours) creates nothing and answers the jobs the first one created,
 * read again now (their status is today's, not a cached answer). The same key with another body is a 422. While the
 * first request is still creating, a concurrent one waits for it (up to {@link IDEMPOTENT_WAIT_MS}, polling) and then
 * answers its jobs; if it is still not done, 409. Only the job ids are kept with the key, never a rendered answer.
 * A create that fails releases the key (the failure is not replayed), so a retry may succeed.
 */
export async function createRestoreJobOnce(
  deps: CreateDeps & { runs: IdempotentRuns; sleep?: (ms: number) => Promise<void> },
  request: IdempotentCreateRequest,
): Promise<RestoreJob[]> {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const deadline =
    deps.clock.now() + Math.max(0, Math.min(IDEMPOTENT_WAIT_MS, request.remainingTimeMs() - ANSWER_RESERVE_MS));
  const scope = { callerId: request.callerId, resource: request.resource, idempotencyKey: request.idempotencyKey };
  let created: RestoreJob[] | undefined;
  for (let attempt = 0; ; attempt++) {
    const outcome = await deps.runs.run(
      { scope, payload: request.body, remainingTimeMs: request.remainingTimeMs },
      async () => {
        created = await createRestoreJob(deps, request);
        return { jobIds: created.map((job) => job.id) };
      },
    );
    switch (outcome.kind) {
      case 'ran':
        if (created === undefined) throw new Error('The idempotent create ran without creating jobs');
        return created;
      case 'replayed':
        return currentJobs(deps.jobs, outcome.value.jobIds);
      case 'payloadMismatch':
        throw errors.idempotencyKeyReused(request.idempotencyKey);
      case 'inProgress':
        if (deps.clock.now() >= deadline) throw errors.idempotentRequestInProgress(request.idempotencyKey);
        await sleep(Math.min(400, 50 * 2 ** attempt));
    }
  }
}

/** The jobs a completed create made, as they are now. */
async function currentJobs(jobs: JobStore, jobIds: unknown): Promise<RestoreJob[]> {
  if (!Array.isArray(jobIds) || !jobIds.every((id) => typeof id === 'string')) {
    throw new Error('The idempotency record holds no job ids');
  }
  const found = await Promise.all(jobIds.map((id: string) => jobs.get(id)));
  return found.filter((job) => job !== undefined);
}

function newJob(args: {
  plan: RestorePlan;
  cluster: Cluster;
  request: CreateRestoreJobRequest;
  body: CreateRestoreJobBody;
  sourceKind: SourceKind;
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
    sourceKind: args.sourceKind,
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
