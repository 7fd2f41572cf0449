/**
 * HTTP Digest (RFC 7616) as MongoDB's clients use it against this API: MD5 (or SHA-256), qop=auth, the public key
 * as user name and the private key as password.
 *
 * Written here, on the service's own hashing (lib/auth/digest.ts), rather than taken from npm: digest-fetch makes
 * its cnonce with Math.random, keeps one nonce and `nc` for all requests without regard to concurrent ones, cuts
 * `uri` out of the URL string by hand, and pulls four hashing packages; urllib is a whole HTTP client that only does
 * MD5 and shares `nc` process-wide. What the CLI needs is small: parse the one challenge, sign, count `nc`, and
 * retry once. (The service's own auth-param parser is strict and reads one header value; fetch joins the service's
 * two challenge lines into one, so the challenge is parsed here, up to where the first one ends.)
 *
 * A nonce is reused with a growing `nc` until the service stops accepting it (its nonces live 5 minutes), so a
 * watch polling every 2 s costs one round trip per request instead of two. The service keeps a high-water mark of
 * `nc` per nonce: two concurrent requests that arrive out of order make the later-numbered one win and the other
 * get a fresh challenge, which the retry answers.
 */
import { randomBytes } from 'node:crypto';
import { computeHa1, computeResponse, type DigestAlgorithm } from '#lib/auth/digest.js';

export interface DigestChallenge {
  readonly realm: string;
  readonly nonce: string;
  readonly opaque?: string;
  readonly algorithm: DigestAlgorithm;
  readonly stale: boolean;
}

/**
 * Parses a `WWW-Authenticate: Digest …` value (auth-params: tokens or quoted strings with `\` escapes, separated by
 * commas). Undefined when it is not a Digest challenge this client can answer: another scheme, no nonce, a qop
 * without `auth`, an algorithm other than MD5 or SHA-256 (`-sess` variants included: MongoDB never sends them).
 */
export function parseDigestChallenge(header: string): DigestChallenge | undefined {
  const match = /^\s*Digest\s+/i.exec(header);
  if (!match) return undefined;
  const params = new Map<string, string>();
  const pattern = /\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*(?:,|$)/y;
  pattern.lastIndex = match[0].length;
  while (pattern.lastIndex < header.length) {
    const param = pattern.exec(header);
    if (!param) break;
    const value = param[2] !== undefined ? param[2].replace(/\\(.)/g, '$1') : (param[3] ?? '');
    params.set((param[1] as string).toLowerCase(), value);
  }
  const nonce = params.get('nonce');
  if (nonce === undefined || nonce === '') return undefined;
  const qop = params.get('qop');
  if (qop !== undefined && !qop.split(',').some((one) => one.trim().toLowerCase() === 'auth')) return undefined;
  const algorithmName = (params.get('algorithm') ?? 'MD5').toUpperCase();
  if (algorithmName !== 'MD5' && algorithmName !== 'SHA-256') return undefined;
  const opaque = params.get('opaque');
  return {
    realm: params.get('realm') ?? '',
    nonce,
    ...(opaque !== undefined && { opaque }),
    algorithm: algorithmName,
    stale: params.get('stale')?.toLowerCase() === 'true',
  };
}

/** One API key's Digest state: the current challenge and how many times its nonce was used. */
export class DigestSigner {
  private challenge: DigestChallenge | undefined;
  private nc = 0;

  constructor(
    private readonly username: string,
    private readonly password: string,
  ) {}

  /** Takes a new challenge (from a 401); false when it cannot be answered. */
  accept(header: string): boolean {
    const challenge = parseDigestChallenge(header);
    if (challenge === undefined) return false;
    this.challenge = challenge;
    this.nc = 0;
    return true;
  }

  /** True once a challenge is known, so requests can be signed before the server asks. */
  get ready(): boolean {
    return this.challenge !== undefined;
  }

  /** The Authorization value for `method` and `uri` (the request's path and query exactly as sent). */
  authorization(method: string, uri: string): string {
    const challenge = this.challenge;
    if (challenge === undefined) throw new Error('no Digest challenge yet');
    this.nc += 1;
    const nc = this.nc.toString(16).padStart(8, '0');
    const cnonce = randomBytes(16).toString('hex');
    const { algorithm, realm, nonce } = challenge;
    const ha1 = computeHa1(algorithm, this.username, this.password, realm);
    const response = computeResponse({ algorithm, ha1, method, uri, nonce, qop: 'auth', nc, cnonce });
    const quoted = (value: string) => `"${value.replace(/(["\\])/g, '\\$1')}"`;
    return [
      `Digest username=${quoted(this.username)}`,
      `realm=${quoted(challenge.realm)}`,
      `nonce=${quoted(challenge.nonce)}`,
      `uri=${quoted(uri)}`,
      `algorithm=${challenge.algorithm}`,
      `qop=auth`,
      `nc=${nc}`,
      `cnonce=${quoted(cnonce)}`,
      `response=${quoted(response)}`,
      ...(challenge.opaque !== undefined ? [`opaque=${quoted(challenge.opaque)}`] : []),
    ].join(', ');
  }
}

/**
 * Sends a request with Digest: signed at once when a challenge is known, else first without credentials (as
 * MongoDB's clients do); a 401 with a challenge is answered once with a fresh signature. A second 401 is the
 * caller's (wrong key, or a key without a role on the group). `body` must be replayable (a string).
 */
export async function digestFetch(
  signer: DigestSigner,
  url: URL,
  init: { method: string; headers: Record<string, string>; body?: string },
  fetchImpl: typeof fetch = fetch,
): Promise<Response> {
  const uri = `${url.pathname}${url.search}`;
  const send = (authorization?: string) =>
    fetchImpl(url, {
      method: init.method,
      headers: { ...init.headers, ...(authorization !== undefined && { authorization }) },
      ...(init.body !== undefined && { body: init.body }),
      redirect: 'manual',
    });
  const first = await send(signer.ready ? signer.authorization(init.method, uri) : undefined);
  const challenge = first.headers.get('www-authenticate');
  if (first.status !== 401 || challenge === null || !signer.accept(challenge)) return first;
  await first.body?.cancel();
  return send(signer.authorization(init.method, uri));
}
