import { errors } from '#lib/domain/errors.js';
import { toJobView } from '#lib/domain/view.js';
import { authorize } from '#lib/use-cases/authenticate.js';
import { createRestoreJob } from '#lib/use-cases/create-restore-job.js';
import { catalogStore, clock, jobStore } from './commons/deps.js';
import { apiHandler, clusterSegment, type HttpEvent } from './commons/http.js';
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

/** POST …/clusters/{cluster}/restoreJobs: answers with the list envelope, as MongoDB's clients decode it. */
export const handler = apiHandler('createRestoreJob', async ({ event, key, groupId, family, baseUrl, secret, now }) => {
  const jobs = await createRestoreJob(
    { catalog: catalogStore(), jobs: jobStore(), workflow: workflow(), clock, secret },
    {
      family,
      groupId,
      cluster: clusterSegment(event),
      baseUrl,
      body: parseJsonBody(event),
      authorizeTargetGroup: (targetGroupId) => authorize(key, targetGroupId, 'createRestoreJob'),
    },
  );
  const view = { baseUrl, family, secret, now };
  return {
    statusCode: 200,
    shape: 'list',
    body: {
      links: [{ href: `${baseUrl}${event.rawPath}`, rel: 'self' }],
      results: jobs.map((job) => toJobView(job, view)),
      totalCount: jobs.length,
    },
  };
});
