import { type App, Tags } from 'aws-cdk-lib';
import { ServiceStack } from './service-stack.js';
import { StatefulStack } from './stateful-stack.js';

/** Options for {@link addRestoreJobsStacks}. */
export interface RestoreJobsOptions {
  /**
   * Deployment stage (`dev`, `alice`, `prod`…). Prefixes the stack names so two stages fit in one account; no
   * physical resource names are set anywhere, so nothing else can collide.
   * @default - no prefix: `RestoreJobs-Stateful` and `RestoreJobs-Service`
   */
  readonly stage?: string;
  /**
   * The API's public base URL (`https://restore.example.com`, a custom domain mapped at its root), passed to the
   * functions that build delivery URLs and links (ServiceStackProps.publicBaseUrl).
   * @default - the API's own execute-api domain
   */
  readonly publicBaseUrl?: string;
}

/** The two stacks of one stage. */
export interface RestoreJobsStacks {
  readonly stateful: StatefulStack;
  readonly service: ServiceStack;
}

const STAGE_PATTERN = /^[A-Za-z][A-Za-z0-9-]{0,31}$/;

/** Reads the `stage` context value (`cdk synth -c stage=dev`), validated for use in a stack name. */
export function stageFromContext(app: App): string | undefined {
  const stage: unknown = app.node.tryGetContext('stage');
  if (stage === undefined || stage === '') return undefined;
  if (typeof stage !== 'string' || !STAGE_PATTERN.test(stage)) {
    throw new Error(`Context value "stage" must match ${STAGE_PATTERN}, got ${JSON.stringify(stage)}`);
  }
  return stage;
}

/** Reads the `publicBaseUrl` context value (`cdk deploy -c publicBaseUrl=https://restore.example.com`). */
export function publicBaseUrlFromContext(app: App): string | undefined {
  const value: unknown = app.node.tryGetContext('publicBaseUrl');
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw new Error(`Context value "publicBaseUrl" must be a string`);
  return value;
}

/**
 * Adds the stateful and the service stack of one stage to `app`. Shared by cdk/app.ts and the tests so they
 * check the same wiring.
 */
export function addRestoreJobsStacks(app: App, options: RestoreJobsOptions = {}): RestoreJobsStacks {
  if (options.stage !== undefined && !STAGE_PATTERN.test(options.stage)) {
    throw new Error(`stage must match ${STAGE_PATTERN}, got ${JSON.stringify(options.stage)}`);
  }
  const prefix = options.stage ? `${options.stage}-RestoreJobs` : 'RestoreJobs';
  // Environment-agnostic on purpose: nothing here needs a lookup, synth stays offline, credential-free and
  // identical on every machine, and `cdk deploy` takes account and region from the deploying profile.
  const stateful = new StatefulStack(app, `${prefix}-Stateful`, {
    description: 'restore-jobs: table, buckets, event bus and HMAC secret (data; retained on delete)',
  });
  const service = new ServiceStack(app, `${prefix}-Service`, {
    description: 'restore-jobs: functions, state machine and HTTP API',
    table: stateful.table,
    snapshotBucket: stateful.snapshotBucket,
    restoreBucket: stateful.restoreBucket,
    eventBus: stateful.eventBus,
    secret: stateful.secret,
    publicBaseUrl: options.publicBaseUrl,
  });

  for (const stack of [stateful, service]) {
    Tags.of(stack).add('service', 'restore-jobs');
    if (options.stage) Tags.of(stack).add('stage', options.stage);
  }
  return { stateful, service };
}
