/**
 * Errors that tell the state machine what to do. Lambda reports a thrown error's `name` as its
 * type, and the state machine's Retry matches `TransientError`: everything else goes straight to
 * MarkBroken, with the message kept on the job as its failure reason.
 */
export class TransientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransientError';
  }
}

export class PermanentError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentError';
  }
}

const TRANSIENT_NAMES = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'SlowDown',
  'RequestTimeout',
  'TimeoutError',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
]);

/** True for errors worth retrying: throttling, 5xx, timeouts and dropped connections. */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error instanceof TransientError) return true;
  const meta = error as { $metadata?: { httpStatusCode?: number }; $retryable?: unknown; code?: string };
  if (meta.$retryable) return true;
  if ((meta.$metadata?.httpStatusCode ?? 0) >= 500) return true;
  return TRANSIENT_NAMES.has(error.name) || (meta.code !== undefined && TRANSIENT_NAMES.has(meta.code));
}

/** An error as the state machine should see it: TransientError (retried) or PermanentError (the job breaks). */
export function toTaskError(error: unknown, what: string): TransientError | PermanentError {
  if (error instanceof TransientError || error instanceof PermanentError) return error;
  const message = `${what}: ${error instanceof Error ? error.message : String(error)}`;
  return isTransient(error)
    ? new TransientError(message, { cause: error })
    : new PermanentError(message, { cause: error });
}
