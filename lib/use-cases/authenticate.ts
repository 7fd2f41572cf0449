import { canCreateRestoreJob, canRead, isAddressAllowed } from '../auth/access.js';
import { createChallenges, type DigestVerdict, parseAuthorization, verifyDigest } from '../auth/digest.js';
import { ApiError, errors } from '../domain/errors.js';
import type { ApiKey, Clock, KeyStore } from './ports.js';

/**
 * Why a request was not let in, in a fixed, small set (a metric dimension: never a key name or an address).
 * `missingCredentials` is the first leg of every Digest exchange (clients only sign after the challenge), and
 * `staleNonce` a client with the right key and an expired nonce (it retries at once): both are normal traffic.
 */
export const AUTH_FAILURE_REASONS = [
  'missingCredentials',
  'malformed',
  'uriMismatch',
  'badNonce',
  'unknownKey',
  'badSignature',
  'staleNonce',
  'replayedNonce',
  'ipNotAllowed',
  'forbidden',
] as const;
export type AuthFailureReason = (typeof AUTH_FAILURE_REASONS)[number];

/** A 401 that carries a Digest challenge (WWW-Authenticate), and why it was sent. */
export class DigestChallenge extends ApiError {
  constructor(
    readonly challenge: string,
    readonly reason: AuthFailureReason,
  ) {
    super(401, 'USER_UNAUTHORIZED', 'You are not authorized for this resource.');
  }
}

/** The verdicts of digest.ts, in the reasons' terms. */
const VERDICT_REASONS: Record<Extract<DigestVerdict, { ok: false }>['reason'], AuthFailureReason> = {
  malformed: 'malformed',
  'realm-mismatch': 'malformed',
  'bad-qop': 'malformed',
  'uri-mismatch': 'uriMismatch',
  'bad-nonce': 'badNonce',
  'unknown-user': 'unknownKey',
  'bad-response': 'badSignature',
  'stale-nonce': 'staleNonce',
};

/**
 * Why `error`, thrown by {@link authenticate} or {@link authorize}, refused the request; undefined for any other
 * error (a failed key lookup is not a refusal).
 */
export function authFailureReason(error: unknown): AuthFailureReason | undefined {
  if (error instanceof DigestChallenge) return error.reason;
  if (!(error instanceof ApiError)) return undefined;
  if (error.errorCode === 'IP_ADDRESS_NOT_ON_ACCESS_LIST') return 'ipNotAllowed';
  return error.errorCode === 'USER_UNAUTHORIZED' ? 'forbidden' : undefined;
}

const MAX_PUBLIC_KEY_LENGTH = 256;

export interface AuthRequest {
  readonly method: string;
  /** Raw path plus query string, as the client signed it. */
  readonly requestUri: string;
  readonly authorization?: string;
  readonly sourceIp: string;
}

/**
 * HTTP Digest with programmatic API keys, then the key's IP access list. Any failure to prove the key
 * is a 401 with a fresh challenge (MongoDB's clients only sign after a 401 with WWW-Authenticate);
 * a correct answer to an expired nonce gets `stale=true` so clients retry without asking the user.
 */
export async function authenticate(
  deps: { keys: KeyStore; secret: string; clock: Clock },
  request: AuthRequest,
): Promise<ApiKey> {
  const now = deps.clock.now();
  // Only the MD5 challenge is sent: MongoDB's Go clients read one WWW-Authenticate value and reject
  // any other shape. SHA-256 answers to the same nonce are still accepted (curl, RFC 7616 clients).
  const challenge = (reason: AuthFailureReason) =>
    new DigestChallenge(
      createChallenges({ secret: deps.secret, now, stale: reason === 'staleNonce' })[0] ?? '',
      reason,
    );

  if (!request.authorization) throw challenge('missingCredentials');
  const credentials = parseAuthorization(request.authorization);
  // No API key has a name this long (and it could not be a table key): refuse before any lookup.
  if (credentials === undefined || credentials.username.length > MAX_PUBLIC_KEY_LENGTH) throw challenge('malformed');

  let key: ApiKey | undefined;
  const verdict = await verifyDigest({
    credentials,
    method: request.method,
    requestUri: request.requestUri,
    secret: deps.secret,
    now,
    lookupHa1: async (username, algorithm) => {
      key = await deps.keys.getApiKey(username);
      return key?.ha1[algorithm];
    },
  });
  if (!verdict.ok) throw challenge(VERDICT_REASONS[verdict.reason]);
  if (key === undefined) throw challenge('unknownKey');

  // A nonce's nc must grow: a replayed request (same nonce, same or lower nc) is refused.
  if (!(await deps.keys.recordNonceUse(verdict.nonce, verdict.nc, verdict.nonceExpiresAt))) {
    throw challenge('replayedNonce');
  }

  if (!isAddressAllowed(request.sourceIp, key.accessList)) throw errors.notOnAccessList(request.sourceIp);
  return key;
}

export type Permission = 'read' | 'createRestoreJob';

/**
 * A key without the needed role on the group gets the same 401 whether or not the group exists, so
 * a key of one group learns nothing about another.
 */
export function authorize(key: ApiKey, groupId: string, permission: Permission): void {
  const role = key.roles[groupId];
  const allowed = permission === 'read' ? canRead(role) : canCreateRestoreJob(role);
  if (!allowed) throw errors.unauthorized();
}
