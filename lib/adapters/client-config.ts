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
