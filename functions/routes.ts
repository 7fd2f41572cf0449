/**
 * The one route table: CDK creates an HTTP API route per entry, and the local API Gateway adapter
 * (local/api-gateway.ts) matches requests against the same entries with {@link routeMatcher}. Every request no
 * entry matches goes to the `$default` route's function ({@link DEFAULT_ROUTE_HANDLER}), which answers 404 or
 * 405 from this table too, so a new route cannot be forgotten there. `handler` names the module
 * `functions/<handler>.ts`, which exports `handler`.
 */
export interface RouteDefinition {
  readonly method: RouteMethod;
  /** API Gateway HTTP API path with `{param}` placeholders. */
  readonly path: string;
  readonly handler: ApiHandlerName;
}

export type RouteMethod = 'GET' | 'POST' | 'DELETE';

export type ApiHandlerName =
  | 'list-restore-jobs'
  | 'get-restore-job'
  | 'create-restore-job'
  | 'cancel-restore-job'
  | 'download-restore-artifact'
  | 'list-snapshots'
  | 'get-snapshot'
  | 'list-checkpoints'
  | 'get-checkpoint'
  | 'get-openapi';

/** The function behind the HTTP API's `$default` route: MongoDB's 404 or 405 for any unrouted request. */
export const DEFAULT_ROUTE_HANDLER = 'default-route';
export type DefaultRouteHandlerName = typeof DEFAULT_ROUTE_HANDLER;

/** Task functions invoked by the state machine (not routed). */
export type TaskHandlerName = 'restore-job-step' | 'artifact-step' | 'build-artifact-range';

/** Functions invoked by other AWS services (S3 event notifications, a schedule, an SQS queue; not routed). */
export type EventHandlerName = 'ingest-manifest' | 'redrive-unfinished-jobs' | 'purge-restore-artifact';

const atlas = '/api/atlas/v1.0/groups/{groupId}/clusters/{clusterName}/restoreJobs';
const opsManager = '/api/public/v1.0/groups/{groupId}/clusters/{clusterId}/restoreJobs';
const atlasSnapshots = '/api/atlas/v1.0/groups/{groupId}/clusters/{clusterName}/snapshots';
const opsManagerSnapshots = '/api/public/v1.0/groups/{groupId}/clusters/{clusterId}/snapshots';
// The families name a cluster's checkpoints differently (MongoDB's Go clients call these).
const atlasCheckpoints = '/api/atlas/v1.0/groups/{groupId}/clusters/{clusterName}/backupCheckpoints';
const opsManagerCheckpoints = '/api/public/v1.0/groups/{groupId}/clusters/{clusterId}/checkpoints';

export const routes: readonly RouteDefinition[] = [
  { method: 'GET', path: atlas, handler: 'list-restore-jobs' },
  { method: 'POST', path: atlas, handler: 'create-restore-job' },
  { method: 'GET', path: `${atlas}/{jobId}`, handler: 'get-restore-job' },
  { method: 'DELETE', path: `${atlas}/{jobId}`, handler: 'cancel-restore-job' },
  { method: 'GET', path: opsManager, handler: 'list-restore-jobs' },
  { method: 'POST', path: opsManager, handler: 'create-restore-job' },
  { method: 'GET', path: `${opsManager}/{jobId}`, handler: 'get-restore-job' },
  { method: 'DELETE', path: `${opsManager}/{jobId}`, handler: 'cancel-restore-job' },
  { method: 'GET', path: atlasSnapshots, handler: 'list-snapshots' },
  { method: 'GET', path: `${atlasSnapshots}/{snapshotId}`, handler: 'get-snapshot' },
  { method: 'GET', path: opsManagerSnapshots, handler: 'list-snapshots' },
  { method: 'GET', path: `${opsManagerSnapshots}/{snapshotId}`, handler: 'get-snapshot' },
  { method: 'GET', path: atlasCheckpoints, handler: 'list-checkpoints' },
  { method: 'GET', path: `${atlasCheckpoints}/{checkpointId}`, handler: 'get-checkpoint' },
  { method: 'GET', path: opsManagerCheckpoints, handler: 'list-checkpoints' },
  { method: 'GET', path: `${opsManagerCheckpoints}/{checkpointId}`, handler: 'get-checkpoint' },
  { method: 'GET', path: '/backup/restore/v2/pull/{jobId}/{token}/{fileName}', handler: 'download-restore-artifact' },
  // The OpenAPI document (docs/openapi.json), unauthenticated.
  { method: 'GET', path: '/api/openapi.json', handler: 'get-openapi' },
];

// ---------------------------------------------------------------------------------------------
// Matching (API Gateway's rules, for the local gateway and the $default route's function)

/** A request matched to its route; or a path some route serves with other methods; or nothing. */
export type RouteMatch =
  | {
      readonly kind: 'route';
      readonly route: RouteDefinition;
      /** `GET /api/…/{groupId}/…`: API Gateway's routeKey. */
      readonly routeKey: string;
      readonly params: Record<string, string>;
    }
  | { readonly kind: 'methodNotAllowed'; readonly allow: readonly RouteMethod[] }
  | { readonly kind: 'notFound' };

interface CompiledRoute {
  readonly route: RouteDefinition;
  readonly routeKey: string;
  readonly segments: readonly ({ literal: string } | { param: string; greedy: boolean })[];
  /** Literal segments win over parameters, as in API Gateway's "most specific route" rule. */
  readonly literalCount: number;
}

/** Compiles `table` once; the returned function matches a method and a raw (percent-encoded) path against it. */
export function routeMatcher(
  table: readonly RouteDefinition[] = routes,
): (method: string, rawPath: string) => RouteMatch {
  const compiled = table.map(compileRoute);
  return (method, rawPath) => {
    const parts = rawPath.split('/').slice(1);
    let best: { compiled: CompiledRoute; params: Record<string, string> } | undefined;
    const allow = new Set<RouteMethod>();
    for (const candidate of compiled) {
      const params = matchSegments(candidate.segments, parts);
      if (!params) continue;
      allow.add(candidate.route.method);
      if (candidate.route.method !== method) continue;
      if (!best || candidate.literalCount > best.compiled.literalCount) best = { compiled: candidate, params };
    }
    if (best)
      return { kind: 'route', route: best.compiled.route, routeKey: best.compiled.routeKey, params: best.params };
    return allow.size > 0 ? { kind: 'methodNotAllowed', allow: [...allow].sort() } : { kind: 'notFound' };
  };
}

function compileRoute(route: RouteDefinition): CompiledRoute {
  const segments = route.path
    .split('/')
    .slice(1)
    .map((segment) => {
      const param = /^\{([^}+]+)(\+)?\}$/.exec(segment);
      return param?.[1] ? { param: param[1], greedy: param[2] === '+' } : { literal: segment };
    });
  return {
    route,
    routeKey: `${route.method} ${route.path}`,
    segments,
    literalCount: segments.filter((s) => 'literal' in s).length,
  };
}

function matchSegments(segments: CompiledRoute['segments'], parts: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (const [i, segment] of segments.entries()) {
    const part = parts[i];
    if (part === undefined) return undefined;
    if ('literal' in segment) {
      if (safeDecode(part) !== segment.literal) return undefined;
    } else if (segment.greedy) {
      const rest = parts.slice(i).join('/');
      if (rest === '') return undefined;
      params[segment.param] = safeDecode(rest);
      return params;
    } else {
      // An empty segment (`/restoreJobs/`) does not fill a parameter.
      if (part === '') return undefined;
      params[segment.param] = safeDecode(part);
    }
  }
  return parts.length === segments.length ? params : undefined;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
