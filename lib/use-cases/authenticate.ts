import { canCreateRestoreJob, canRead, isAddressAllowed } from '../auth/access.js';
import { createChallenges, parseAuthorization, verifyDigest } from '../auth/digest.js';
import { ApiError, errors } from '../domain/errors.js';
import type { ApiKey, Clock, KeyStore } from './ports.js';

/** A 401 that carries a Digest challenge (WWW-Authenticate). */
export class DigestChallenge extends ApiError {
  constructor(readonly challenge: string) {
    super(401, 'USER_UNAUTHORIZED', 'You are not authorized for this resource.');
  }
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
  const challenge = (stale = false) =>
    new DigestChallenge(createChallenges({ secret: deps.secret, now, stale })[0] ?? '');

  const credentials = request.authorization ? parseAuthorization(request.authorization) : undefined;
  // No API key has a name this long (and it could not be a table key): refuse before any lookup.
  if (credentials === undefined || credentials.username.length > MAX_PUBLIC_KEY_LENGTH) throw challenge();

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
  if (!verdict.ok) throw challenge(verdict.reason === 'stale-nonce');
  if (key === undefined) throw challenge();

  // A nonce's nc must grow: a replayed request (same nonce, same or lower nc) is refused.
  if (!(await deps.keys.recordNonceUse(verdict.nonce, verdict.nc, verdict.nonceExpiresAt))) throw challenge();

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
