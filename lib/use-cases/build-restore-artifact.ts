import { restoreReadme } from '../artifact/oplog.js';
import type { Artifact } from '../domain/job.js';
import type { ArtifactStore, CatalogStore, JobStore } from './ports.js';
import { PermanentError, toTaskError } from './task-errors.js';

/**
 * Builds the job's `.tar.gz` from its snapshot's files, streamed from the snapshot bucket to the restore
 * bucket. Idempotent: a job that already has its artifact gets it back without a rebuild.
 */
export async function buildRestoreArtifact(
  deps: { jobs: JobStore; catalog: CatalogStore; artifacts: ArtifactStore },
  input: { jobId: string },
): Promise<Artifact> {
  const job = await deps.jobs.get(input.jobId);
  if (job === undefined) throw new PermanentError(`Restore job ${input.jobId} does not exist.`);
  if (job.artifact !== undefined) return job.artifact;
  if (job.snapshotId === undefined) throw new PermanentError(`Restore job ${job.id} has no snapshot to restore.`);

  const snapshot = await deps.catalog.getSnapshot(job.snapshotId);
  if (snapshot === undefined) throw new PermanentError(`Snapshot ${job.snapshotId} no longer exists.`);

  const key = `restores/${job.groupId}/${job.id}/${job.delivery.fileName}`;
  try {
    const oplog = job.oplog;
    const written = await deps.artifacts.write({
      files: snapshot.files,
      key,
      ...(oplog !== undefined && {
        oplog: {
          ...oplog,
          readme: (entries: number) =>
            restoreReadme({
              clusterName: job.clusterName,
              ...(job.replicaSetName !== undefined && { replicaSetName: job.replicaSetName }),
              snapshotTimestamp: snapshot.timestamp,
              target: oplog.upTo,
              entries,
            }),
        },
      }),
    });
    return { key, fileName: job.delivery.fileName, ...written };
  } catch (error) {
    throw toTaskError(error, 'Writing the artifact failed');
  }
}
