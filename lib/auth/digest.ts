/**
 * HTTP Digest access authentication (RFC 7616), server side, without state.
 *
 * Nonces carry their own issue time and an HMAC, so any instance holding `secret` can check them;
 * replay protection (nc must grow within one nonce) needs storage and is left to the caller, which gets
 * `nc` and `nonceExpiresAt` back for a conditional write. Nothing here logs.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export type DigestAlgorithm = 'MD5' | 'SHA-256';

export const REALM = 'MMS Public API';

/** How long an issued nonce is accepted. Past it, a correct response earns a `stale=true` challenge. */
export const NONCE_TTL_MS = 5 * 60 * 1000;

/** Headers longer than this are refused before parsing (a real Digest header is a few hundred bytes). */
const MAX_HEADER_LENGTH = 8192;

const NONCE_TIME_BYTES = 8;
const NONCE_RANDOM_BYTES = 16;
const NONCE_MAC_BYTES = 32;
const NONCE_PAYLOAD_BYTES = NONCE_TIME_BYTES + NONCE_RANDOM_BYTES;
/** Domain separation: the same secret may sign other things elsewhere. */
const NONCE_MAC_CONTEXT = 'restore-jobs/digest-nonce/v1:';

const HASH_NAMES: Record<DigestAlgorithm, string> = { MD5: 'md5', 'SHA-256': 'sha256' };

export function hashHex(algorithm: DigestAlgorithm, data: string): string {
  return createHash(HASH_NAMES[algorithm]).update(data, 'utf8').digest('hex');
}

/**
 * HA1 = H(username:realm:password) for the algorithm, hex. Stored per API key instead of the private key.
 * `realm` is only overridable so the RFC test vectors (another realm) can be checked.
 */
export function computeHa1(
  algorithm: DigestAlgorithm,
  username: string,
  password: string,
  realm: string = REALM,
): string {
  return hashHex(algorithm, `${username}:${realm}:${password}`);
}

/** The `response` value a client computes (qop=auth when `qop` is given, else the RFC 2069 form). */
export function computeResponse(args: {
  algorithm: DigestAlgorithm;
  ha1: string;
  method: string;
  uri: string;
  nonce: string;
  qop?: 'auth';
  nc?: string;
  cnonce?: string;
}): string {
  const ha2 = hashHex(args.algorithm, `${args.method}:${args.uri}`);
  if (args.qop === undefined) return hashHex(args.algorithm, `${args.ha1}:${args.nonce}:${ha2}`);
  return hashHex(args.algorithm, `${args.ha1}:${args.nonce}:${args.nc ?? ''}:${args.cnonce ?? ''}:${args.qop}:${ha2}`);
}

function requireSecret(secret: string): void {
  // An empty HMAC key would make nonces forgeable by anyone: a configuration error, not a client error.
  if (secret.length === 0) throw new Error('digest nonce secret must not be empty');
}

function nonceMac(secret: string, payload: Buffer): Buffer {
  return createHmac('sha256', secret).update(NONCE_MAC_CONTEXT).update(payload).digest();
}

/** base64url(issue time ms, 8 bytes BE || 16 random bytes || HMAC-SHA256): 75 chars of [A-Za-z0-9_-], never quoted. */
export function createNonce(secret: string, now: number): string {
  requireSecret(secret);
  const payload = Buffer.alloc(NONCE_PAYLOAD_BYTES);
  payload.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(now))), 0);
  randomBytes(NONCE_RANDOM_BYTES).copy(payload, NONCE_TIME_BYTES);
  return Buffer.concat([payload, nonceMac(secret, payload)]).toString('base64url');
}

/** Issue time (epoch ms) of a nonce this service signed, or undefined when the nonce is not ours. */
function checkNonce(secret: string, nonce: string): number | undefined {
  // Buffer.from(…, 'base64url') silently skips foreign characters, so check the alphabet and length first.
  if (!/^[A-Za-z0-9_-]+$/.test(nonce)) return undefined;
  const raw = Buffer.from(nonce, 'base64url');
  if (raw.length !== NONCE_PAYLOAD_BYTES + NONCE_MAC_BYTES || raw.toString('base64url') !== nonce) return undefined;
  const payload = raw.subarray(0, NONCE_PAYLOAD_BYTES);
  if (!timingSafeEqual(raw.subarray(NONCE_PAYLOAD_BYTES), nonceMac(secret, payload))) return undefined;
  return Number(payload.readBigUInt64BE(0));
}

/**
 * The WWW-Authenticate header values to send with a 401: MD5 first, then SHA-256, sharing one nonce.
 * The exact shape matters: MongoDB's Go clients split on `", "` and reject unknown keys, so no opaque, no charset,
 * no userhash. Each value must go out as its own header line (joined with ", " the Go clients would see junk keys).
 */
export function createChallenges(opts: { secret: string; now: number; stale?: boolean }): string[] {
  const nonce = createNonce(opts.secret, opts.now);
  const stale = opts.stale === true ? 'true' : 'false';
  return (['MD5', 'SHA-256'] as const).map(
    (algorithm) =>
      `Digest realm="${REALM}", domain="", nonce="${nonce}", algorithm=${algorithm}, qop="auth", stale=${stale}`,
  );
}

export type DigestCredentials = {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  algorithm: DigestAlgorithm;
  qop?: string;
  nc?: string;
  cnonce?: string;
  opaque?: string;
};

/** RFC 9110 token characters (auth-param names and unquoted values). */
const TOKEN_CHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;

/** Splits `k=v, k="v"` into a map of lower-cased keys; undefined on any syntax error or duplicate key. */
function parseAuthParams(input: string): Map<string, string> | undefined {
  const params = new Map<string, string>();
  let i = 0;
  const skipSpace = () => {
    while (i < input.length && (input[i] === ' ' || input[i] === '\t')) i++;
  };
  for (;;) {
    skipSpace();
    // Tolerate empty list elements ("a=1, , b=2" and a trailing comma), as RFC 9110 #rule allows.
    if (input[i] === ',') {
      i++;
      continue;
    }
    if (i >= input.length) break;
    const keyStart = i;
    while (i < input.length && TOKEN_CHAR.test(input[i] as string)) i++;
    if (i === keyStart) return undefined;
    const key = input.slice(keyStart, i).toLowerCase();
    skipSpace();
    if (input[i] !== '=') return undefined;
    i++;
    skipSpace();
    let value = '';
    if (input[i] === '"') {
      i++;
      let closed = false;
      while (i < input.length) {
        const c = input[i] as string;
        if (c === '\\' && i + 1 < input.length) {
          value += input[i + 1];
          i += 2;
        } else if (c === '"') {
          i++;
          closed = true;
          break;
        } else {
          value += c;
          i++;
        }
      }
      if (!closed) return undefined;
    } else {
      const valueStart = i;
      while (i < input.length && TOKEN_CHAR.test(input[i] as string)) i++;
      // An unquoted value must be a non-empty token: anything else (e.g. a bare "/path") is malformed.
      if (i === valueStart) return undefined;
      value = input.slice(valueStart, i);
    }
    if (params.has(key)) return undefined;
    params.set(key, value);
    skipSpace();
    if (i < input.length && input[i] !== ',') return undefined;
  }
  return params;
}

/**
 * Parses an Authorization header; returns undefined when it is not a well-formed Digest header.
 * Quoted and unquoted values are both accepted (curl sends qop, nc and algorithm unquoted); `algorithm` missing
 * means MD5. The -sess variants, `userhash=true` and `username*` are not supported and yield undefined.
 */
export function parseAuthorization(header: string): DigestCredentials | undefined {
  if (header.length > MAX_HEADER_LENGTH) return undefined;
  const match = /^\s*digest\s+(.*)$/is.exec(header);
  if (!match) return undefined;
  const params = parseAuthParams(match[1] as string);
  if (!params) return undefined;

  const username = params.get('username');
  const realm = params.get('realm');
  const nonce = params.get('nonce');
  const uri = params.get('uri');
  const response = params.get('response');
  if (username === undefined || realm === undefined || nonce === undefined || uri === undefined) return undefined;
  if (response === undefined || nonce === '' || uri === '' || response === '') return undefined;
  // userhash=true would mean `username` is H(username:realm); we never offer it.
  if (params.get('userhash')?.toLowerCase() === 'true') return undefined;

  const algorithmParam = params.get('algorithm')?.toUpperCase() ?? 'MD5';
  if (algorithmParam !== 'MD5' && algorithmParam !== 'SHA-256') return undefined;

  const credentials: DigestCredentials = { username, realm, nonce, uri, response, algorithm: algorithmParam };
  for (const key of ['qop', 'nc', 'cnonce', 'opaque'] as const) {
    const value = params.get(key);
    if (value !== undefined) credentials[key] = value;
  }
  return credentials;
}

export type DigestVerdict =
  | { ok: true; username: string; nonce: string; nc: number /* 0 when no qop */; nonceExpiresAt: number /* epoch ms */ }
  | {
      ok: false;
      reason:
        | 'malformed'
        | 'unknown-user'
        | 'bad-response'
        | 'uri-mismatch'
        | 'bad-nonce'
        | 'stale-nonce'
        | 'realm-mismatch'
        | 'bad-qop';
    };

function sameUri(credentialUri: string, requestUri: string): boolean {
  return normalizeTarget(credentialUri) === normalizeTarget(requestUri);
}

/**
 * The request target as sent, up to encodings that cannot change its meaning: percent-escapes of unreserved
 * characters (RFC 3986 2.3) and of a space are decoded, every other escape is kept (hex upper-cased). So
 * `%7E` equals `~`, but `x%26pageNum%3D2` never equals `x&pageNum=2`: a response signed for one query is not
 * accepted for another.
 */
function normalizeTarget(uri: string): string {
  return uri.replace(/%([0-9A-Fa-f]{2})/g, (_escape, hex: string) => {
    const char = String.fromCharCode(Number.parseInt(hex, 16));
    return /^[A-Za-z0-9\-._~ ]$/.test(char) ? char : `%${hex.toUpperCase()}`;
  });
}

function constantTimeEqualHex(expected: string, received: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  // Hex digits are case-insensitive; every client we know sends lower case, as H() is defined to.
  const b = Buffer.from(received.toLowerCase(), 'utf8');
  // Lengths are public (they only depend on the algorithm), so an early return leaks nothing secret.
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Verifies credentials against the request. `requestUri` is the raw path plus query string as received.
 * Cheap checks (realm, qop, uri, nonce signature) run before `lookupHa1`, so forged requests cost no lookup.
 */
export async function verifyDigest(args: {
  credentials: DigestCredentials;
  method: string;
  requestUri: string;
  secret: string;
  now: number;
  lookupHa1: (username: string, algorithm: DigestAlgorithm) => Promise<string | undefined>;
}): Promise<DigestVerdict> {
  requireSecret(args.secret);
  const c = args.credentials;
  // Credentials may be built by hand rather than by parseAuthorization: re-check what parsing guarantees.
  if (c.algorithm !== 'MD5' && c.algorithm !== 'SHA-256') return { ok: false, reason: 'malformed' };
  if (!c.username || !c.nonce || !c.uri || !c.response) return { ok: false, reason: 'malformed' };
  if (c.realm !== REALM) return { ok: false, reason: 'realm-mismatch' };

  // The challenge requires qop="auth": a response without it (RFC 2069's form, no nc, so no replay counter) is
  // refused.
  if (c.qop !== 'auth') return { ok: false, reason: 'bad-qop' };
  // nc 00000000 is refused: clients start counting at 1.
  if (c.nc === undefined || !/^[0-9a-fA-F]{8}$/.test(c.nc) || !c.cnonce) return { ok: false, reason: 'malformed' };
  const nc = Number.parseInt(c.nc, 16);
  if (nc === 0) return { ok: false, reason: 'malformed' };

  if (!sameUri(c.uri, args.requestUri)) return { ok: false, reason: 'uri-mismatch' };

  const issuedAt = checkNonce(args.secret, c.nonce);
  if (issuedAt === undefined) return { ok: false, reason: 'bad-nonce' };
  const nonceExpiresAt = issuedAt + NONCE_TTL_MS;

  const ha1 = await args.lookupHa1(c.username, c.algorithm);
  if (ha1 === undefined) return { ok: false, reason: 'unknown-user' };

  // The response covers the uri the client signed (c.uri), which sameUri tied to the request above.
  const expected = computeResponse({
    algorithm: c.algorithm,
    ha1: ha1.toLowerCase(),
    method: args.method, // case-sensitive (RFC 9110 9.1): hash it exactly as received
    uri: c.uri,
    nonce: c.nonce,
    qop: 'auth' as const,
    nc: c.nc,
    cnonce: c.cnonce,
  });
  if (!constantTimeEqualHex(expected, c.response)) return { ok: false, reason: 'bad-response' };

  // Only a client that knows the password learns its nonce is stale (RFC 7616 3.3: stale=true means
  // "the password was right, retry with the new nonce"), hence this check comes after the response check.
  if (args.now > nonceExpiresAt) return { ok: false, reason: 'stale-nonce' };

  return { ok: true, username: c.username, nonce: c.nonce, nc, nonceExpiresAt };
}
