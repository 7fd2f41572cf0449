/**
 * Timeouts and retries of the control-plane SDK clients (DynamoDB, Step Functions, EventBridge, Secrets Manager):
 * a stalled connection or response fails fast and is retried (the SDK's standard retries with backoff and jitter,
 * then the state machine's) instead of hanging until the function's own timeout. S3 has its own (s3/client.ts):
 * its bodies are large.
 */
export const CONTROL_PLANE_CLIENT = {
  maxAttempts: 4,
  requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000 },
} as const;

/**
 * Applied to every SDK client as it is created: the functions pass their tracer's (functions/commons/tracer.ts:
 * an X-Ray subsegment per call), the local stack's own code and the tests pass nothing. lib/ never imports
 * Powertools, so the adapters run the same with or without it.
 */
export type InstrumentClient = <C extends object>(client: C) => C;

export const uninstrumented: InstrumentClient = (client) => client;
