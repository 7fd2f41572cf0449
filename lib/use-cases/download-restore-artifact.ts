import { hashToken, tokenMatches } from '../domain/delivery-token.js';
import { ApiError } from '../domain/errors.js';
import { effectiveDeliveryStatus } from '../domain/job.js';
import { isObjectId } from '../domain/object-id.js';
import type { ArtifactPurges, ArtifactStore, Clock, EventPublisher, JobStore } from './ports.js';
import type { RecordUsage } from './record-usage.js';
import { statusChange } from './status-events.js';

const notFound = () => new ApiError(404, 'RESTORE_ARTIFACT_NOT_FOUND', 'No restore artifact is available at this URL.');

/**
 * The delivery URL: a bearer URL of this API. Each successful request is counted with one conditional
 * write (so concurrent requests can never exceed maxDownloads) and redirected to a short-lived
 * presigned S3 URL. S3 cannot count downloads and a SigV4 URL cannot outlive 7 days, hence the indirection.
 * The last allowed download also asks for the artifact to be purged once that URL can no longer be used
 * (purge-restore-artifact.ts), not now: the client has yet to follow the redirect.
 */
export async function downloadRestoreArtifact(
  deps: {
    jobs: JobStore;
    artifacts: ArtifactStore;
    events: EventPublisher;
    clock: Clock;
    secret: string;
    /** Purges used-up artifacts, later. */
    purges: ArtifactPurges;
    /** Told when MAX_DOWNLOADS_EXCEEDED could not be recorded or published (the download still goes ahead). */
    onUnrecorded?: (error: unknown, jobId: string) => void;
    /** Told when the purge could not be asked for (the download still goes ahead; the expiry deletes the artifact). */
    onPurgeNotScheduled?: (error: unknown, jobId: string) => void;
    /**
     * Records and announces the job's usage (record-usage.ts) once the last download used the link up (if the
     * SHA-1 chain is done; else its RecordHash step does it).
     */
    recordUsage: RecordUsage;
    /** Told when the usage could not be recorded (the download still goes ahead; the link's expiry records it). */
    onUsageNotRecorded?: (error: unknown, jobId: string) => void;
  },
  request: { jobId: string; token: string; fileName: string },
): Promise<{ location: string }> {
  if (!isObjectId(request.jobId)) throw notFound();
  const now = deps.clock.now();
  const tokenHash = hashToken(request.token);
  const counted = await deps.jobs.countDownload(
    request.jobId,
    { tokenHash, fileName: request.fileName },
    new Date(now).toISOString(),
  );

  if (!counted.changed) {
    const job = counted.job;
    // Unknown job, wrong token and not-yet-ready all look the same to the caller.
    if (job === undefined || !tokenMatches(request.token, job.delivery.tokenHash)) throw notFound();
    if (job.delivery.fileName !== request.fileName) throw notFound();
    const status = effectiveDeliveryStatus(job, now);
    if (status === 'EXPIRED') throw new ApiError(410, 'RESTORE_DOWNLOAD_EXPIRED', 'This download URL has expired.');
    if (status === 'MAX_DOWNLOADS_EXCEEDED') {
      throw new ApiError(410, 'MAX_DOWNLOADS_EXCEEDED', 'This download URL has been used the maximum number of times.');
    }
    throw notFound();
  }

  const job = counted.job;
  // READY is only written together with the artifact, so a counted download always has one.
  if (job.artifact === undefined) throw notFound();
  const location = await deps.artifacts.presignDownload(job.artifact.key, job.delivery.fileName);

  if (job.delivery.downloadCount === job.delivery.maxDownloads) {
    // The download is already counted: a failure to record or announce MAX_DOWNLOADS_EXCEEDED must not cost
    // the caller their last download. Reads derive the status anyway; the failure is reported, not thrown.
    try {
      const exhausted = await deps.jobs.markDownloadsExhausted(job.id);
      if (exhausted.changed) {
        await deps.events.publish([
          statusChange(exhausted.job, { statusName: job.statusName, deliveryStatusName: 'READY' }, deps.secret, now),
        ]);
      }
    } catch (error) {
      deps.onUnrecorded?.(error, job.id);
    }
    // The link is used up: no download can be added, so the usage is final (once the SHA-1 chain is done).
    try {
      await deps.recordUsage(job);
    } catch (error) {
      deps.onUsageNotRecorded?.(error, job.id);
    }
    try {
      await deps.purges.schedule(job.id);
    } catch (error) {
      deps.onPurgeNotScheduled?.(error, job.id);
    }
  }
  return { location };
}
