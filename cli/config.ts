/**
 * Where the CLI finds the API, the key, the project and the snapshot bucket. As MongoDB's atlas-cli reads them
 * from the environment (`MONGODB_ATLAS_*`), and by default from the local stack's `${DATA_DIR}/demo.json`
 * (written by `npm start`), so `npx restore-jobs …` works against a running local stack with no setup.
 * Precedence: flags, then the environment, then demo.json.
 *
 * The private key has no flag on purpose: a flag shows in `ps` and in shell history.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isObjectId } from '#lib/domain/object-id.js';
import { usageError } from './errors.js';

export const ENV_VARS = {
  publicKey: 'MONGODB_ATLAS_PUBLIC_API_KEY',
  privateKey: 'MONGODB_ATLAS_PRIVATE_API_KEY',
  projectId: 'MONGODB_ATLAS_PROJECT_ID',
  baseUrl: 'MONGODB_ATLAS_OPS_MANAGER_URL',
  /** The deployed stack's bucket (CloudFormation output SnapshotBucketName); S3 then uses the SDK's own settings. */
  snapshotBucket: 'RESTORE_JOBS_SNAPSHOT_BUCKET',
  dataDir: 'DATA_DIR',
} as const;

/** What `npm start` writes (local/seed.ts `DemoFile`): only the fields the CLI reads. */
interface DemoFile {
  baseUrl?: string;
  publicKey?: string;
  privateKey?: string;
  groupId?: string;
  s3?: { endpoint?: string; region?: string; accessKeyId?: string; secretAccessKey?: string; snapshotBucket?: string };
}

/** Flags every command takes (commander's camelCase names). */
export interface GlobalFlags {
  projectId?: string;
  baseUrl?: string;
  snapshotBucket?: string;
}

export interface ApiConfig {
  baseUrl: string;
  publicKey: string;
  privateKey: string;
  projectId: string;
}

/**
 * How to reach the snapshot bucket: the local stack's S3 (endpoint and keys from demo.json, path-style), or AWS
 * with the SDK's default credential chain and region (and `AWS_ENDPOINT_URL_S3` if set).
 */
export type S3Config =
  | {
      kind: 'local';
      bucket: string;
      endpoint: string;
      region: string;
      accessKeyId: string;
      secretAccessKey: string;
    }
  | { kind: 'aws'; bucket: string };

export class Config {
  private demoFile: DemoFile | undefined | null = null;

  constructor(
    private readonly flags: GlobalFlags,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** `${DATA_DIR:-.local}/demo.json`, relative to the working directory as `npm start` writes it. */
  get demoPath(): string {
    return join(resolve(this.env[ENV_VARS.dataDir] || '.local'), 'demo.json');
  }

  /** Read once; absent or unreadable is no demo (a damaged one is reported, not silently ignored). */
  private demo(): DemoFile | undefined {
    if (this.demoFile !== null) return this.demoFile;
    let text: string;
    try {
      text = readFileSync(this.demoPath, 'utf8');
    } catch {
      this.demoFile = undefined;
      return undefined;
    }
    try {
      this.demoFile = JSON.parse(text) as DemoFile;
    } catch {
      throw usageError(`${this.demoPath} is not JSON: fix or delete it, or set ${ENV_VARS.dataDir}`);
    }
    return this.demoFile;
  }

  private pick(flag: string | undefined, envName: string, fromDemo: () => string | undefined): string | undefined {
    if (flag !== undefined && flag !== '') return flag;
    const env = this.env[envName];
    if (env !== undefined && env !== '') return env;
    return fromDemo();
  }

  get projectId(): string {
    const value = this.pick(this.flags.projectId, ENV_VARS.projectId, () => this.demo()?.groupId);
    if (value === undefined) throw this.missing('the project', `--project-id or ${ENV_VARS.projectId}`);
    if (!isObjectId(value)) throw usageError(`The project id must be a 24-hex ObjectId, got ${JSON.stringify(value)}`);
    return value;
  }

  api(): ApiConfig {
    const baseUrl = this.pick(this.flags.baseUrl, ENV_VARS.baseUrl, () => this.demo()?.baseUrl);
    if (baseUrl === undefined) throw this.missing('the API', `--base-url or ${ENV_VARS.baseUrl}`);
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      throw usageError(`The base URL is not a URL: ${JSON.stringify(baseUrl)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw usageError(`The base URL must be http(s): ${baseUrl}`);
    const publicKey = this.pick(undefined, ENV_VARS.publicKey, () => this.demo()?.publicKey);
    const privateKey = this.pick(undefined, ENV_VARS.privateKey, () => this.demo()?.privateKey);
    if (publicKey === undefined || privateKey === undefined) {
      throw this.missing('the API key', `${ENV_VARS.publicKey} and ${ENV_VARS.privateKey}`);
    }
    // atlas-cli's ops_manager_url ends in '/'; paths are appended to it.
    return { baseUrl: baseUrl.replace(/\/+$/, ''), publicKey, privateKey, projectId: this.projectId };
  }

  s3(): S3Config {
    const explicit = this.pick(this.flags.snapshotBucket, ENV_VARS.snapshotBucket, () => undefined);
    if (explicit !== undefined) return { kind: 'aws', bucket: explicit };
    const s3 = this.demo()?.s3;
    if (
      s3?.snapshotBucket === undefined ||
      s3.endpoint === undefined ||
      s3.accessKeyId === undefined ||
      s3.secretAccessKey === undefined
    ) {
      throw this.missing('the snapshot bucket', `--snapshot-bucket or ${ENV_VARS.snapshotBucket}`);
    }
    return {
      kind: 'local',
      bucket: s3.snapshotBucket,
      endpoint: s3.endpoint,
      region: s3.region ?? 'us-east-1',
      accessKeyId: s3.accessKeyId,
      secretAccessKey: s3.secretAccessKey,
    };
  }

  private missing(what: string, how: string) {
    return usageError(`Where is ${what}? Set ${how}, or start the local stack (npm start) to get ${this.demoPath}.`);
  }
}
