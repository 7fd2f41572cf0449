import { errors } from '../domain/errors.js';
import type { RestoreJob } from '../domain/job.js';
import { isObjectId } from '../domain/object-id.js';
import type { CatalogStore, JobStore } from './ports.js';
import { type ClusterRef, resolveCluster } from './resolve-cluster.js';

export async function getRestoreJob(
  deps: { catalog: CatalogStore; jobs: JobStore },
  request: ClusterRef & { readonly jobId: string },
): Promise<RestoreJob> {
  if (!isObjectId(request.jobId)) throw errors.invalidAttribute('JOB-ID', 'It must be a 24-hex ObjectId.');
  const [cluster, job] = await Promise.all([
    resolveCluster(deps.catalog, request),
    deps.jobs.getVisible(request.jobId),
  ]);
  // A job of another group or cluster is reported exactly like a missing one.
  if (job === undefined || job.groupId !== request.groupId || job.requestClusterId !== cluster.id) {
    throw errors.restoreJobNotFound(request.jobId);
  }
  return job;
}
