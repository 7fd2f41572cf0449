import { Logger } from '@aws-lambda-powertools/logger';
import { SERVICE_NAME } from './metric-names.js';

/**
 * The service name: POWERTOOLS_SERVICE_NAME, which CDK and the local stack set on every function, or the same
 * default where nothing does (a test that imports a handler).
 */
export const serviceName = process.env.POWERTOOLS_SERVICE_NAME || SERVICE_NAME;

/**
 * One structured logger per process. Never log headers or bodies: they carry credentials and tokens. Each
 * invocation's keys (`jobId`, `batchId`, `executionArn`: correlate()) are dropped when it ends (observability.ts).
 */
export const logger = new Logger({ serviceName });

/** Keys every further line of this invocation carries, e.g. the job a request or a task is about. */
export function correlate(keys: {
  readonly jobId?: string;
  readonly jobIds?: readonly string[];
  readonly batchId?: string;
  readonly executionArn?: string;
}): void {
  const defined = Object.entries(keys).filter(([, value]) => value !== undefined);
  if (defined.length > 0) logger.appendKeys(Object.fromEntries(defined));
}
