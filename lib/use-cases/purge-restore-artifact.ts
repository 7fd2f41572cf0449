import type { ArtifactStore, JobStore } from './ports.js';

/**
 * How long after the last allowed download was granted its artifact may be deleted. That download is a 302 to a
 * presigned S3 URL, which can start a GET until it expires; deleting at the moment the counter reaches
 * maxDownloads could make that GET find nothing. S3 checks a URL's expiry when a request arrives and a GET that
 * has started streams to its end, so waiting until the URL can no longer start one is enough: twice its lifetime
 * leaves room for a client that follows the redirect late and for clock skew between Lambda and S3.
 */
export function purgeDelaySeconds(downloadUrlSeconds: number): number {
  return 2 * downloadUrlSeconds;
}

export type PurgeOutcome =
  /** The artifact was deleted (or was already gone: a second purge of the same job deletes nothing). */
  | 'deleted'
  /** Nothing to delete: no such job, or no artifact. */
  | 'noArtifact'
  /** Downloads are left (a purge asked for by mistake): the artifact stays. */
  | 'downloadsLeft'
  /**
   * The SHA-1 chain still reads the artifact (MongoDB's `hashes`, which a client checks its download against): it
   * stays, and recording the hash asks for another purge (advance-restore-job.ts, recordArtifactHash).
   */
  | 'notHashedYet';

/**
 * Deletes the artifact of a job whose downloads are used up (delivery MAX_DOWNLOADS_EXCEEDED), instead of keeping
 * it until the link expires (up to 360 days). Runs `purgeDelaySeconds` after the last download was granted (an
 * SQS delay, functions/purge-restore-artifact.ts); every condition is read again from the job, so a duplicate or
 * early message deletes nothing it should not. The expiry step still deletes whatever a purge left.
 */
export async function purgeRestoreArtifact(
  deps: { jobs: JobStore; artifacts: ArtifactStore },
  jobId: string,
): Promise<PurgeOutcome> {
  const job = await deps.jobs.get(jobId);
  if (job?.artifact === undefined) return 'noArtifact';
  if (job.delivery.downloadCount < job.delivery.maxDownloads) return 'downloadsLeft';
  if (job.artifact.sha1 === undefined) return 'notHashedYet';
  await deps.artifacts.delete(job.artifact.key);
  return 'deleted';
}
