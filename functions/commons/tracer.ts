import { Tracer } from '@aws-lambda-powertools/tracer';
import type { InstrumentClient } from '#lib/adapters/client-config.js';
import { serviceName } from './logger.js';

/**
 * One X-Ray tracer per process. It traces only on Lambda (Powertools turns it off where AWS_EXECUTION_ENV is unset;
 * the local stack also sets POWERTOOLS_TRACE_ENABLED=false), so locally there is no daemon to reach and no output.
 */
export const tracer = new Tracer({ serviceName });

/** The hook every adapter's SDK client is created with: each AWS call becomes a subsegment of the invocation. */
export const instrumentClient: InstrumentClient = (client) => tracer.captureAWSv3Client(client);
