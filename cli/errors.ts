/**
 * How a run of the CLI ends. Scripts branch on the exit code, so every way to fail has its own, documented in
 * `restore-jobs --help` and the README.
 */
export const EXIT = {
  /** Done; for `restores watch`, every job FINISHED. */
  ok: 0,
  /** The API or S3 answered an error (MongoDB's errorCode and detail on stderr), or the network failed. */
  apiError: 1,
  /** The command line was wrong (unknown option, missing argument, bad value) or configuration is missing. */
  usage: 2,
  /** `restores watch`: a job ended BROKEN. */
  broken: 3,
  /** `restores watch`: a job ended KILLED (and none BROKEN). */
  killed: 4,
  /** `--timeout` passed: `restores watch`, `restores download` waiting for the SHA-1, `backup import-snapshot` waiting for ingest. */
  timeout: 5,
  /** `restores download`: the file's SHA-1 is not the job's `hashes` value. */
  integrity: 6,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure the CLI explains itself: `message` goes to stderr as is, then the process exits with `exitCode`. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usageError = (message: string) => new CliError(EXIT.usage, message);

/** MongoDB's error body: `{detail, error, errorCode, parameters, reason}`. */
export interface MongoErrorBody {
  detail?: string;
  error?: number;
  errorCode?: string;
  parameters?: unknown[];
  reason?: string;
}

/** MongoDB's error body in an answer's text; undefined for anything else (a proxy's page, API Gateway's own). */
export function mongoErrorBody(text: string): MongoErrorBody | undefined {
  try {
    const body = JSON.parse(text) as unknown;
    if (typeof body === 'object' && body !== null && typeof (body as MongoErrorBody).errorCode === 'string') {
      return body as MongoErrorBody;
    }
  } catch {
    // Not JSON: ApiError keeps the text.
  }
  return undefined;
}

/**
 * A non-2xx answer of the API. `body` is MongoDB's error body when the answer had one; anything else (a proxy's
 * HTML page, API Gateway's own `{"message": …}`) is kept as `text` so the user still sees what came back.
 */
export class ApiError extends Error {
  readonly exitCode = EXIT.apiError;
  constructor(
    readonly status: number,
    readonly body: MongoErrorBody | undefined,
    readonly text: string,
    readonly method: string,
    readonly path: string,
  ) {
    super(
      body?.errorCode !== undefined
        ? `${body.errorCode} (${status}): ${body.detail ?? body.reason ?? ''}`
        : `HTTP ${status} from ${method} ${path}: ${text.slice(0, 300)}`,
    );
    this.name = 'ApiError';
  }

  /** Worth asking again later (watch loops): throttling and server-side failures. */
  get transient(): boolean {
    return this.status === 429 || this.status >= 500;
  }
}

/** The service could not be reached at all (refused, reset, DNS, TLS). */
export class NetworkError extends Error {
  readonly exitCode = EXIT.apiError;
  constructor(url: string, cause: unknown) {
    super(`cannot reach ${new URL(url).origin}: ${describeCause(cause)}`);
    this.name = 'NetworkError';
  }
}

/** undici hides the socket error in `cause` ("fetch failed" alone says nothing). */
export function describeCause(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as Error & { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: string }).code;
    return `${error.message} (${code ? `${code}: ` : ''}${cause.message})`;
  }
  return error.message;
}
