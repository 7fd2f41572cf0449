import type { Link, ListView, RestoreJobView } from './api-schemas.js';
import { deriveToken } from './delivery-token.js';
import { type ApiFamily, effectiveDeliveryStatus, type RestoreJob } from './job.js';

// The wire shapes are zod schemas (api-schemas.ts, the OpenAPI document's source); only their types come in here.
export type { Link, ListView, RestoreJobView } from './api-schemas.js';

/** Where a view is rendered: the base of the request (or the job's own base, for events) and its path family. */
export interface ViewContext {
  /** `https://host` of the request, no trailing slash. */
  readonly baseUrl: string;
  readonly family: ApiFamily;
  readonly secret: string;
  readonly now: number;
}

/** Path prefix of a group in a family. */
export function groupPath(family: ApiFamily, groupId: string): string {
  return `/api/${family}/v1.0/groups/${groupId}`;
}

/** The cluster segment a family addresses clusters by: the name on Atlas, the id on Ops Manager. */
export function clusterPath(family: ApiFamily, groupId: string, cluster: { id: string; name: string }): string {
  return `${groupPath(family, groupId)}/clusters/${encodeURIComponent(family === 'atlas' ? cluster.name : cluster.id)}`;
}

/** The delivery URL on `baseUrl`: the caller's own base, or for events the base the job was created on. */
export function deliveryUrl(job: RestoreJob, secret: string, baseUrl: string): string {
  const token = deriveToken(secret, job.id, job.delivery.tokenSalt);
  return `${baseUrl}/backup/restore/v2/pull/${job.id}/${token}/${job.delivery.fileName}`;
}

export function toJobView(job: RestoreJob, ctx: ViewContext): RestoreJobView {
  const status = effectiveDeliveryStatus(job, ctx.now);
  const hasArtifact = status === 'READY' || status === 'EXPIRED' || status === 'MAX_DOWNLOADS_EXCEEDED';
  const cluster = clusterPath(ctx.family, job.groupId, { id: job.requestClusterId, name: job.clusterName });
  const links: Link[] = [
    { href: `${ctx.baseUrl}${cluster}/restoreJobs/${job.id}`, rel: 'self' },
    { href: `${ctx.baseUrl}${cluster}`, rel: 'http://mms.mongodb.com/cluster' },
  ];
  if (job.snapshotId !== undefined) {
    links.push({
      href: `${ctx.baseUrl}${cluster}/snapshots/${job.snapshotId}`,
      rel: 'http://mms.mongodb.com/snapshot',
    });
  }
  // MongoDB links the group through the public family, whichever family was called (seed 002).
  links.push({ href: `${ctx.baseUrl}${groupPath('public', job.groupId)}`, rel: 'http://mms.mongodb.com/group' });

  return {
    id: job.id,
    groupId: job.groupId,
    clusterId: job.clusterId,
    clusterName: job.clusterName,
    ...(job.batchId !== undefined && { batchId: job.batchId }),
    ...(job.snapshotId !== undefined && { snapshotId: job.snapshotId }),
    created: job.created,
    timestamp: job.timestamp,
    statusName: job.statusName,
    pointInTime: job.pointInTime,
    encryptionEnabled: job.encryptionEnabled,
    ...(job.masterKeyUUID !== undefined && { masterKeyUUID: job.masterKeyUUID }),
    delivery: {
      methodName: job.delivery.methodName,
      statusName: status,
      expirationHours: job.delivery.expirationHours,
      maxDownloads: job.delivery.maxDownloads,
      ...(hasArtifact && { url: deliveryUrl(job, ctx.secret, ctx.baseUrl) }),
      ...(job.delivery.expires !== undefined && { expires: job.delivery.expires }),
    },
    ...(job.delivery.downloadCount > 0 &&
      job.artifact?.sha1 !== undefined && {
        hashes: [{ typeName: 'SHA1' as const, fileName: job.artifact.fileName, hash: job.artifact.sha1 }],
      }),
    ...(job.statusName === 'BROKEN' && job.failureReason !== undefined && { statusReason: job.failureReason }),
    ...(job.progress !== undefined && {
      progress: {
        bytesTotal: job.progress.bytesTotal,
        bytesDone:
          job.artifact !== undefined
            ? job.progress.bytesTotal
            : Math.min(Number(job.progress.bytesDone ?? 0), job.progress.bytesTotal),
      },
    }),
    links,
  };
}

/** List links: `self` always, `previous` and `next` where those pages exist. */
export function listLinks(args: {
  baseUrl: string;
  path: string;
  pageNum: number;
  itemsPerPage: number;
  hasNext: boolean;
  extraQuery?: Record<string, string>;
}): Link[] {
  const href = (page: number) => {
    const query = new URLSearchParams({
      ...args.extraQuery,
      pageNum: String(page),
      itemsPerPage: String(args.itemsPerPage),
    });
    return `${args.baseUrl}${args.path}?${query.toString()}`;
  };
  const links: Link[] = [];
  if (args.pageNum > 1) links.push({ href: href(args.pageNum - 1), rel: 'previous' });
  links.push({ href: href(args.pageNum), rel: 'self' });
  if (args.hasNext) links.push({ href: href(args.pageNum + 1), rel: 'next' });
  return links;
}

/** MongoDB's list body: `links` (self, previous, next), `results`, and `totalCount` unless includeCount=false. */
export function listView<T>(args: {
  baseUrl: string;
  path: string;
  query: { pageNum: number; itemsPerPage: number };
  page: { hasNext: boolean; totalCount?: number };
  results: T[];
  extraQuery?: Record<string, string>;
}): ListView<T> {
  return {
    links: listLinks({
      baseUrl: args.baseUrl,
      path: args.path,
      pageNum: args.query.pageNum,
      itemsPerPage: args.query.itemsPerPage,
      hasNext: args.page.hasNext,
      ...(args.extraQuery !== undefined && { extraQuery: args.extraQuery }),
    }),
    results: args.results,
    ...(args.page.totalCount !== undefined && { totalCount: args.page.totalCount }),
  };
}

/**
 * The jobs a request changed, in the list body create and cancel answer with (as MongoDB's create does): every job,
 * a `self` link to the request's own path, the count.
 */
export function changedJobsView(jobs: readonly RestoreJob[], ctx: ViewContext, path: string): ListView<RestoreJobView> {
  return {
    links: [{ href: `${ctx.baseUrl}${path}`, rel: 'self' }],
    results: jobs.map((job) => toJobView(job, ctx)),
    totalCount: jobs.length,
  };
}
