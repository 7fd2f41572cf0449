/**
 * The restore jobs API over HTTP with Digest, and nothing else: every command goes through the public routes
 * (functions/routes.ts), as any other client would.
 */
import { isObjectId } from '#lib/domain/object-id.js';
import type { ApiConfig } from './config.js';
import { DigestSigner, digestFetch } from './digest.js';
import { ApiError, mongoErrorBody, NetworkError } from './errors.js';

export type Json = Record<string, unknown>;

/** A list answer: `{totalCount, results, links}`. */
export interface ListAnswer<T = Json> {
  totalCount?: number;
  results: T[];
  links?: unknown[];
}

/**
 * `--cluster NAME|ID`: a 24-hex value is a cluster id (Ops Manager's `/api/public/v1.0/…/clusters/{CLUSTER-ID}`),
 * anything else a name (Atlas's `/api/atlas/v1.0/…/clusters/{CLUSTER-NAME}`). Both families serve the same jobs.
 */
export function clusterPath(projectId: string, cluster: string): string {
  if (isObjectId(cluster)) return `/api/public/v1.0/groups/${projectId}/clusters/${cluster}`;
  return `/api/atlas/v1.0/groups/${projectId}/clusters/${encodeURIComponent(cluster)}`;
}

/** The family's name for a cluster's checkpoints. */
export function checkpointsPath(projectId: string, cluster: string): string {
  return `${clusterPath(projectId, cluster)}/${isObjectId(cluster) ? 'checkpoints' : 'backupCheckpoints'}`;
}

export class ApiClient {
  private readonly signer: DigestSigner;

  constructor(
    readonly config: ApiConfig,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {
    this.signer = new DigestSigner(config.publicKey, config.privateKey);
  }

  get projectId(): string {
    return this.config.projectId;
  }

  async request<T = Json>(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    options: {
      query?: Record<string, string | number | undefined>;
      body?: unknown;
      headers?: Record<string, string>;
    } = {},
  ): Promise<T> {
    const url = new URL(`${this.config.baseUrl}${path}`);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await digestFetch(
        this.signer,
        url,
        { method, headers, ...(body !== undefined && { body }) },
        this.fetchImpl,
      );
    } catch (error) {
      throw new NetworkError(url.href, error);
    }
    const text = await response.text();
    if (response.status >= 200 && response.status < 300) {
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new ApiError(response.status, undefined, `not JSON: ${text}`, method, url.pathname);
      }
    }
    throw new ApiError(response.status, mongoErrorBody(text), text, method, url.pathname);
  }

  /** Every page of a list (itemsPerPage 500, MongoDB's maximum), for commands that need them all. */
  async listAll<T = Json>(path: string, query: Record<string, string | number | undefined> = {}): Promise<T[]> {
    const all: T[] = [];
    for (let pageNum = 1; ; pageNum++) {
      const page = await this.request<ListAnswer<T>>('GET', path, {
        query: { ...query, pageNum, itemsPerPage: 500, includeCount: 'false' },
      });
      all.push(...page.results);
      if (page.results.length < 500) return all;
    }
  }
}
