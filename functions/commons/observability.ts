/**
 * What every function's handler runs inside (functions/*.ts, and apiHandler in http.ts): Powertools' Tracer
 * (X-Ray segment per invocation, AWS calls as subsegments through instrumentClient), Logger (the Lambda context
 * on every line; the invocation's own keys, such as the job id, dropped when it ends) and Metrics (EMF flushed at
 * the end, a ColdStart metric on a cold start). Registered first, so that they see the invocation from its start
 * and, for errors, after the functions' own error handlers.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { correlate, logger } from './logger.js';
import { metrics } from './metrics.js';
import { tracer } from './tracer.js';

// biome-ignore lint/suspicious/noExplicitAny: middy's middleware types are generic in the handler's event and result.
type AnyMiddleware = middy.MiddlewareObj<any, any, Error, Context>;

export function observability(): AnyMiddleware[] {
  return [
    // Responses are not put on traces: they carry delivery URLs (bearer credentials) and presigned S3 URLs.
    captureLambdaHandler(tracer, { captureResponse: false }),
    // Events are never logged, whatever POWERTOOLS_LOGGER_LOG_EVENT says: they carry Digest headers and tokens.
    injectLambdaContext(logger, { resetKeys: true, logEvent: false }),
    logMetrics(metrics, { captureColdStartMetric: true, throwOnEmptyMetrics: false }),
  ];
}

/** A Lambda handler with {@link observability}. */
export function observed<TEvent, TResult>(
  handler: (event: TEvent, context: Context) => Promise<TResult>,
): middy.MiddyfiedHandler<TEvent, TResult, Error, Context> {
  return middy<TEvent, TResult, Error, Context>().use(observability()).handler(handler);
}

// The state machine passes `$$.Execution.Id` to every task (lib/state-machine/restore-job.asl.json). An
// execution's name is its job's id, so the ARN adds the state machine and region: what the console links by.
const taskExecution = z.object({ executionArn: z.string().startsWith('arn:').max(2048) });

/** Correlates a state machine task's log lines with its job and, when the input carries it, its execution. */
export function correlateTask(event: unknown, jobId: string): void {
  const execution = taskExecution.safeParse(event);
  correlate({ jobId, ...(execution.success && { executionArn: execution.data.executionArn }) });
}
