import { createHash, randomBytes } from 'node:crypto';

/**
 * A Digest client that behaves like MongoDB's Go clients (seeds/README.md): every request goes out
 * first without credentials, the challenge is parsed strictly (split on ", ", only the keys the Go
 * transport knows, qop exactly "auth"), and the retry is signed with a fresh nonce and nc=00000001.
 * A challenge the Go clients would reject makes this client throw, so the tests catch it.
 */
const KNOWN_KEYS = new Set(['realm', 'domain', 'nonce', 'opaque', 'stale', 'algorithm', 'qop']);

export interface ClientResponse {
  status: number;
  headers: Headers;
  text: string;
  json: () => unknown;
}

export function parseGoChallenge(header: string): Record<string, string> {
  if (!header.startsWith('Digest ')) throw new Error(`challenge is bad: ${header}`);
  const parts: Record<string, string> = {};
  for (const pair of header.slice('Digest '.length).split(', ')) {
    const index = pair.indexOf('=');
    const key = pair.slice(0, index).trim();
    if (!KNOWN_KEYS.has(key)) throw new Error(`challenge is bad, unexpected token: ${key}`);
    parts[key] = pair
      .slice(index + 1)
      .trim()
      .replace(/^"|"$/g, '');
  }
  if (parts.qop !== 'auth') throw new Error(`challenge is bad, qop: ${parts.qop}`);
  return parts;
}

export class GoDigestClient {
  constructor(
    private readonly baseUrl: string,
    private readonly username: string,
    private readonly password: string,
    private readonly algorithm: 'MD5' | 'SHA-256' = 'MD5',
  ) {}

  /** `extraHeaders` go with both requests (e.g. `Idempotency-Key`, which the Go clients do not send themselves). */
  async request(
    method: string,
    pathAndQuery: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<ClientResponse> {
    const url = `${this.baseUrl}${pathAndQuery}`;
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const headers: Record<string, string> = { ...extraHeaders, accept: 'application/json' };
    if (payload !== undefined) headers['content-type'] = 'application/json';

    const first = await fetch(url, { method, headers, body: payload, redirect: 'manual' });
    const challenge = first.headers.get('www-authenticate');
    if (first.status !== 401 || challenge === null) return wrap(first);
    await first.arrayBuffer();

    headers.authorization = this.authorization(method, pathAndQuery, parseGoChallenge(challenge));
    return wrap(await fetch(url, { method, headers, body: payload, redirect: 'manual' }));
  }

  authorization(method: string, uri: string, challenge: Record<string, string>): string {
    const hash = (data: string) =>
      createHash(this.algorithm === 'MD5' ? 'md5' : 'sha256')
        .update(data)
        .digest('hex');
    const cnonce = randomBytes(8).toString('hex');
    const nc = '00000001';
    const ha1 = hash(`${this.username}:${challenge.realm}:${this.password}`);
    const ha2 = hash(`${method}:${uri}`);
    const response = hash(`${ha1}:${challenge.nonce}:${nc}:${cnonce}:auth:${ha2}`);
    return (
      `Digest username="${this.username}", realm="${challenge.realm}", nonce="${challenge.nonce}", uri="${uri}", ` +
      `cnonce="${cnonce}", nc=${nc}, qop=auth, response="${response}", algorithm=${this.algorithm}`
    );
  }
}

async function wrap(response: Response): Promise<ClientResponse> {
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
}
