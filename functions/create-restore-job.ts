import { errors } from '#lib/domain/errors.js';
import { parseIdempotencyKey } from '#lib/domain/idempotency-key.js';
import { changedJobsView, groupPath } from '#lib/domain/view.js';
import { createRestoreJob, createRestoreJobOnce } from '#lib/use-cases/create-restore-job.js';
import { catalogStore, clock, jobStore } from './commons/deps.js';
import { apiHandler, authorizeCounted, clusterSegment, type HttpEvent } from './commons/http.js';
import { idempotentRuns } from './commons/idempotency.js';
import { correlate, logger } from './commons/logger.js';
import { jobDimensions, jobMetrics } from './commons/metrics.js';
import { workflow } from './commons/workflow.js';

function parseJsonBody(event: HttpEvent): unknown {
  const text =
    event.isBase64Encoded && event.body !== undefined ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  if (text === undefined || text.trim() === '') {
    // The Ops Manager docs show a body with only snapshotId; an empty body names nothing to restore.
    throw errors.missingAttribute('snapshotId');
  }
  try {
    return JSON.parse(text);
  } catch {
    throw errors.malformedJson();
  }
}

/**
 * POST …/clusters/{cluster}/restoreJobs: answers with the list envelope, as MongoDB's clients decode it. With an
 * `Idempotency-Key` header, a retry answers the jobs the first request created (createRestoreJobOnce).
 */
export const handler = apiHandler(
  'createRestoreJob',
  async ({ event, key, groupId, family, baseUrl, secret, now, context }) => {
    const idempotencyKey = parseIdempotencyKey(event.headers['idempotency-key']);
    const cluster = clusterSegment(event);
    let created = false;
    const observer = {
      ...jobMetrics,
      created: (jobs: Parameters<typeof jobMetrics.created>[0]) => {
        created = true;
        jobMetrics.created(jobs);
      },
    };
    const deps = { catalog: catalogStore(), jobs: jobStore(), workflow: workflow(), clock, secret, observer };
    const request = {
      family,
      groupId,
      cluster,
      baseUrl,
      body: parseJsonBody(event),
      authorizeTargetGroup: (targetGroupId: string) => authorizeCounted(key, targetGroupId, 'createRestoreJob'),
    };
    const jobs =
      idempotencyKey === undefined
        ? await createRestoreJob(deps, request)
        : await createRestoreJobOnce(
            { ...deps, runs: idempotentRuns() },
            {
              ...request,
              idempotencyKey,
              callerId: key.publicKey,
              // The path with its parameters decoded, so that spellings of one path share their keys.
              resource: `${groupPath(family, groupId)}/clusters/${cluster}/restoreJobs`,
              remainingTimeMs: () => context.getRemainingTimeInMillis(),
            },
          );
    // The ids the job's execution and tasks log too (a batch: its id and every job's).
    const [first] = jobs;
    if (first !== undefined) {
      correlate(
        first.batchId === undefined
          ? { jobId: first.id }
          : { batchId: first.batchId, jobIds: jobs.map((job) => job.id) },
      );
      // A retry with the same Idempotency-Key answers the jobs the first request created, and creates none.
      logger.info(created ? 'Restore job created' : 'Restore job create replayed', {
        ...jobDimensions(first),
        jobs: jobs.length,
      });
    }
    return {
      statusCode: 200,
      shape: 'list',
      body: changedJobsView(jobs, { baseUrl, family, secret, now }, event.rawPath),
    };
  },
);
