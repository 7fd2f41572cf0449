/**
 * The one route table: CDK creates an HTTP API route per entry, and the local API Gateway adapter
 * (local/api-gateway.ts) matches requests against the same entries. `handler` names the module
 * `functions/<handler>.ts`, which exports `handler`.
 */
export interface RouteDefinition {
  readonly method: 'GET' | 'POST';
  /** API Gateway HTTP API path with `{param}` placeholders. */
  readonly path: string;
  readonly handler: ApiHandlerName;
}

export type ApiHandlerName =
  | 'list-restore-jobs'
  | 'get-restore-job'
  | 'create-restore-job'
  | 'download-restore-artifact'
  | 'list-snapshots'
  | 'get-snapshot';

/** Task functions invoked by the state machine (not routed). */
export type TaskHandlerName = 'restore-job-step' | 'artifact-step' | 'build-artifact-range';

/** Functions invoked by other AWS services (S3 event notifications, a schedule; not routed). */
export type EventHandlerName = 'ingest-manifest' | 'redrive-unfinished-jobs';

const atlas = '/api/atlas/v1.0/groups/{groupId}/clusters/{clusterName}/restoreJobs';
const opsManager = '/api/public/v1.0/groups/{groupId}/clusters/{clusterId}/restoreJobs';
const atlasSnapshots = '/api/atlas/v1.0/groups/{groupId}/clusters/{clusterName}/snapshots';
const opsManagerSnapshots = '/api/public/v1.0/groups/{groupId}/clusters/{clusterId}/snapshots';

export const routes: readonly RouteDefinition[] = [
  { method: 'GET', path: atlas, handler: 'list-restore-jobs' },
  { method: 'POST', path: atlas, handler: 'create-restore-job' },
  { method: 'GET', path: `${atlas}/{jobId}`, handler: 'get-restore-job' },
  { method: 'GET', path: opsManager, handler: 'list-restore-jobs' },
  { method: 'POST', path: opsManager, handler: 'create-restore-job' },
  { method: 'GET', path: `${opsManager}/{jobId}`, handler: 'get-restore-job' },
  { method: 'GET', path: atlasSnapshots, handler: 'list-snapshots' },
  { method: 'GET', path: `${atlasSnapshots}/{snapshotId}`, handler: 'get-snapshot' },
  { method: 'GET', path: opsManagerSnapshots, handler: 'list-snapshots' },
  { method: 'GET', path: `${opsManagerSnapshots}/{snapshotId}`, handler: 'get-snapshot' },
  { method: 'GET', path: '/backup/restore/v2/pull/{jobId}/{token}/{fileName}', handler: 'download-restore-artifact' },
];
