import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { describe, expect, it, vi } from 'vitest';
import {
  computeHa1,
  computeResponse,
  createChallenges,
  createNonce,
  type DigestAlgorithm,
  type DigestCredentials,
  NONCE_TTL_MS,
  parseAuthorization,
  REALM,
  verifyDigest,
} from '../../../lib/auth/digest.js';

const SECRET = 'test-secret-0123456789';
const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const USER = 'Mufasa';
const PASSWORD = 'Circle of Life';
const URI = '/api/atlas/v1.0/groups/5e2211c17a3e5a48f5497de3/clusters/Cluster0/restoreJobs?pretty=true';

/** lookupHa1 backed by one user, computing HA1 for the requested algorithm like a stored key would hold it. */
function lookupFor(username = USER, password = PASSWORD) {
  return vi.fn(async (name: string, algorithm: DigestAlgorithm) =>
    name === username ? computeHa1(algorithm, username, password) : undefined,
  );
}

/** What a client does with one of our challenges: pick nonce/algorithm out of it and sign the request. */
function signFromChallenge(
  challenge: string,
  opts: { method?: string; uri?: string; password?: string; nc?: string; qop?: 'auth' | undefined } = {},
): DigestCredentials {
  const nonce = /nonce="([^"]+)"/.exec(challenge)?.[1] as string;
  const algorithm = /algorithm=([A-Z0-9-]+)/.exec(challenge)?.[1] as DigestAlgorithm;
  const method = opts.method ?? 'GET';
  const uri = opts.uri ?? URI;
  const ha1 = computeHa1(algorithm, USER, opts.password ?? PASSWORD);
  if ('qop' in opts && opts.qop === undefined) {
    return {
      username: USER,
      realm: REALM,
      nonce,
      uri,
      algorithm,
      response: computeResponse({ algorithm, ha1, method, uri, nonce }),
    };
  }
  const nc = opts.nc ?? '00000001';
  const cnonce = 'MTIzNDU2Nzg5MGFiY2RlZg==';
  const response = computeResponse({ algorithm, ha1, method, uri, nonce, qop: 'auth', nc, cnonce });
  return { username: USER, realm: REALM, nonce, uri, algorithm, response, qop: 'auth', nc, cnonce };
}

function verify(credentials: DigestCredentials, overrides: Partial<Parameters<typeof verifyDigest>[0]> = {}) {
  return verifyDigest({
    credentials,
    method: 'GET',
    requestUri: URI,
    secret: SECRET,
    now: NOW + 1000,
    lookupHa1: lookupFor(),
    ...overrides,
  });
}

describe('RFC 7616 section 3.9.1 test vectors', () => {
  const vector = {
    realm: 'http-auth@example.org',
    method: 'GET',
    uri: '/dir/index.html',
    nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
    cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
    nc: '00000001',
    qop: 'auth' as const,
  };

  it.each([
    ['MD5' as const, '8ca523f5e9506fed4657c9700eebdbec'],
    ['SHA-256' as const, '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1'],
  ])('%s response', (algorithm, expected) => {
    // Prepare
    const ha1 = computeHa1(algorithm, 'Mufasa', 'Circle of Life', vector.realm);

    // Act
    const response = computeResponse({ algorithm, ha1, ...vector });

    // Assess
    expect(response).toBe(expected);
  });

  it('parses the RFC SHA-256 Authorization example', () => {
    // Prepare: the example header from the RFC, folded onto one line
    const header =
      'Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=SHA-256, ' +
      'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, ' +
      'cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, ' +
      'response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", ' +
      'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"';

    // Act
    const credentials = parseAuthorization(header);

    // Assess
    expect(credentials).toEqual({
      username: 'Mufasa',
      realm: 'http-auth@example.org',
      uri: '/dir/index.html',
      algorithm: 'SHA-256',
      nonce: vector.nonce,
      nc: '00000001',
      cnonce: vector.cnonce,
      qop: 'auth',
      response: '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
      opaque: 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS',
    });
  });
});

describe('createChallenges', () => {
  it('is byte-exact: MD5 first, then SHA-256, one nonce, separated by ", "', () => {
    // Act
    const challenges = createChallenges({ secret: SECRET, now: NOW });

    // Assess
    expect(challenges).toHaveLength(2);
    const nonce = /nonce="([^"]*)"/.exec(challenges[0] as string)?.[1] as string;
    expect(challenges).toEqual([
      `Digest realm="MMS Public API", domain="", nonce="${nonce}", algorithm=MD5, qop="auth", stale=false`,
      `Digest realm="MMS Public API", domain="", nonce="${nonce}", algorithm=SHA-256, qop="auth", stale=false`,
    ]);
  });

  it('says stale=true when asked', () => {
    // Act
    const challenges = createChallenges({ secret: SECRET, now: NOW, stale: true });

    // Assess
    for (const challenge of challenges) expect(challenge.endsWith(', qop="auth", stale=true')).toBe(true);
  });

  it('issues nonces that need no quoting and differ every time', () => {
    // Act
    const nonces = Array.from({ length: 50 }, () => createNonce(SECRET, NOW));

    // Assess
    for (const nonce of nonces) expect(nonce).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(new Set(nonces).size).toBe(50);
  });

  it('survives the Go clients\' parser (split on ", ", only known keys)', () => {
    // Prepare: a transcription of the Go digest transport's challenge parsing
    const allowed = new Set(['realm', 'domain', 'nonce', 'opaque', 'stale', 'algorithm', 'qop']);

    for (const challenge of createChallenges({ secret: SECRET, now: NOW })) {
      // Act
      const pairs = challenge
        .replace(/^Digest /, '')
        .split(', ')
        .map((part) => {
          const eq = part.indexOf('=');
          return [part.slice(0, eq), part.slice(eq + 1).replace(/^"|"$/g, '')] as const;
        });

      // Assess
      for (const [key] of pairs) expect(allowed.has(key)).toBe(true);
      expect(Object.fromEntries(pairs).qop).toBe('auth');
    }
  });

  it('refuses an empty secret', () => {
    // Act / Assess
    expect(() => createChallenges({ secret: '', now: NOW })).toThrow();
  });
});

describe('parseAuthorization', () => {
  // Sent by curl 7.88.1 (`curl --digest -u 'Mufasa:Circle of Life' …`) to a server answering with
  // createChallenges({ secret: 's', now: … }) (MD5 listed last in that capture, hence curl chose it).
  const CURL_URI = '/api/atlas/v1.0/groups/x/clusters/y/restoreJobs?pretty=true&a=b,c';
  const CURL_NONCE = 'AAABogvINTLTvkVp9M1-mdvneM4OyxNFFwO9T236p3cF0roHW6O6oB7UmqUz-A9byTJcA1EEcIE';
  const CURL_NONCE_ISSUED_AT = 1795493999922;
  const CURL_HEADER =
    `Digest username="Mufasa", realm="MMS Public API", nonce="${CURL_NONCE}", uri="${CURL_URI}", ` +
    'cnonce="NTBiYTNjNGNiNWExMmMzODY1MDQxMjVhZTU0M2Y2NWU=", nc=00000001, qop=auth, ' +
    'response="a2549e6a4edc1ecf21a42035d2d61ef9", algorithm=MD5';

  it('parses the header curl 7.88 sends (unquoted qop, nc, algorithm; comma inside the quoted uri)', () => {
    // Act
    const credentials = parseAuthorization(CURL_HEADER);

    // Assess
    expect(credentials).toEqual({
      username: 'Mufasa',
      realm: 'MMS Public API',
      nonce: CURL_NONCE,
      uri: CURL_URI,
      cnonce: 'NTBiYTNjNGNiNWExMmMzODY1MDQxMjVhZTU0M2Y2NWU=',
      nc: '00000001',
      qop: 'auth',
      response: 'a2549e6a4edc1ecf21a42035d2d61ef9',
      algorithm: 'MD5',
    });
  });

  it('verifies that real curl request, and calls it stale once the nonce expired', async () => {
    // Prepare
    const credentials = parseAuthorization(CURL_HEADER) as DigestCredentials;
    const args = { credentials, method: 'GET', requestUri: CURL_URI, secret: 's', lookupHa1: lookupFor() };

    // Act
    const fresh = await verifyDigest({ ...args, now: CURL_NONCE_ISSUED_AT + 2000 });
    const expired = await verifyDigest({ ...args, now: CURL_NONCE_ISSUED_AT + NONCE_TTL_MS + 1 });

    // Assess
    expect(fresh).toEqual({
      ok: true,
      username: 'Mufasa',
      nonce: CURL_NONCE,
      nc: 1,
      nonceExpiresAt: CURL_NONCE_ISSUED_AT + NONCE_TTL_MS,
    });
    expect(expired).toEqual({ ok: false, reason: 'stale-nonce' });
  });

  it('defaults a missing algorithm to MD5 and accepts any case in scheme, keys and algorithm', () => {
    // Act
    const missing = parseAuthorization('Digest username="u", realm="r", nonce="n", uri="/", response="x"');
    const mixed = parseAuthorization('dIgEsT Username="u",Realm="r" , NONCE=n,uri="/",response=x,ALGORITHM="sha-256"');

    // Assess
    expect(missing?.algorithm).toBe('MD5');
    expect(mixed).toEqual({ username: 'u', realm: 'r', nonce: 'n', uri: '/', response: 'x', algorithm: 'SHA-256' });
  });

  it('unescapes quoted-pairs and keeps commas and spaces inside quoted strings', () => {
    // Act
    const credentials = parseAuthorization(
      'Digest username="a \\"quoted\\", user", realm="MMS Public API", nonce="n", uri="/x?a=1,2", response="r"',
    );

    // Assess
    expect(credentials?.username).toBe('a "quoted", user');
    expect(credentials?.uri).toBe('/x?a=1,2');
  });

  it.each([
    ['another scheme', 'Basic dXNlcjpwYXNz'],
    ['no parameters', 'Digest'],
    ['missing response', 'Digest username="u", realm="r", nonce="n", uri="/"'],
    ['missing username', 'Digest realm="r", nonce="n", uri="/", response="x"'],
    ['unterminated quote', 'Digest username="u, realm="r", nonce="n", uri="/", response="x"'],
    ['duplicate key', 'Digest username="u", username="v", realm="r", nonce="n", uri="/", response="x"'],
    ['missing comma', 'Digest username="u" realm="r", nonce="n", uri="/", response="x"'],
    ['unquoted non-token value', 'Digest username="u", realm="r", nonce="n", uri=/x, response="x"'],
    ['MD5-sess', 'Digest username="u", realm="r", nonce="n", uri="/", response="x", algorithm=MD5-sess'],
    ['SHA-256-sess', 'Digest username="u", realm="r", nonce="n", uri="/", response="x", algorithm=SHA-256-sess'],
    ['SHA-512-256', 'Digest username="u", realm="r", nonce="n", uri="/", response="x", algorithm=SHA-512-256'],
    ['userhash', 'Digest username="u", realm="r", nonce="n", uri="/", response="x", userhash=true'],
    ['empty nonce', 'Digest username="u", realm="r", nonce="", uri="/", response="x"'],
    ['oversized', `Digest username="${'u'.repeat(9000)}", realm="r", nonce="n", uri="/", response="x"`],
  ])('rejects %s', (_name, header) => {
    // Act / Assess
    expect(parseAuthorization(header)).toBeUndefined();
  });
});

describe('verifyDigest', () => {
  it.each(['MD5', 'SHA-256'] as const)(
    'accepts a round trip challenge → client → verify with %s',
    async (algorithm) => {
      // Prepare
      const challenge = createChallenges({ secret: SECRET, now: NOW }).find((c) =>
        c.includes(`algorithm=${algorithm},`),
      );
      const credentials = signFromChallenge(challenge as string, { method: 'POST' });
      const lookupHa1 = lookupFor();

      // Act
      const verdict = await verify(credentials, { method: 'POST', lookupHa1 });

      // Assess
      expect(verdict).toEqual({
        ok: true,
        username: USER,
        nonce: credentials.nonce,
        nc: 1,
        nonceExpiresAt: NOW + NONCE_TTL_MS,
      });
      expect(lookupHa1).toHaveBeenCalledWith(USER, algorithm);
    },
  );

  it('refuses the RFC 2069 form without the challenged qop, even correctly signed', async () => {
    // Prepare
    const [challenge] = createChallenges({ secret: SECRET, now: NOW });
    const credentials = signFromChallenge(challenge as string, { qop: undefined });

    // Act
    const verdict = await verify(credentials);

    // Assess
    expect(verdict).toEqual({ ok: false, reason: 'bad-qop' });
  });

  it('returns nc parsed as hex', async () => {
    // Prepare
    const [challenge] = createChallenges({ secret: SECRET, now: NOW });
    const credentials = signFromChallenge(challenge as string, { nc: '0000001f' });

    // Act
    const verdict = await verify(credentials);

    // Assess
    expect(verdict).toMatchObject({ ok: true, nc: 31 });
  });

  it('accepts the response hex in upper case', async () => {
    // Prepare
    const [challenge] = createChallenges({ secret: SECRET, now: NOW });
    const credentials = signFromChallenge(challenge as string);

    // Act
    const verdict = await verify({ ...credentials, response: credentials.response.toUpperCase() });

    // Assess
    expect(verdict.ok).toBe(true);
  });

  it('rejects a tampered response', async () => {
    // Prepare
    const [challenge] = createChallenges({ secret: SECRET, now: NOW });
    const credentials = signFromChallenge(challenge as string);
    const last = credentials.response.at(-1) === '0' ? '1' : '0';

    // Act
    const tampered = await verify({ ...credentials, response: credentials.response.slice(0, -1) + last });
    const truncated = await verify({ ...credentials, response: credentials.response.slice(0, -2) });

    // Assess
    expect(tampered).toEqual({ ok: false, reason: 'bad-response' });
    expect(truncated).toEqual({ ok: false, reason: 'bad-response' });
  });

  it('rejects a wrong password, and a method other than the signed one', async () => {
    // Prepare
    const [challenge] = createChallenges({ secret: SECRET, now: NOW });

    // Act
    const wrongPassword = await verify(signFromChallenge(challenge as string, { password: 'Circle of Death' }));
    const wrongMethod = await verify(signFromChallenge(challenge as string), { method: 'POST' });

    // Assess
    expect(wrongPassword).toEqual({ ok: false, reason: 'bad-response' });
    expect(wrongMethod).toEqual({ ok: false, reason: 'bad-response' });
  });

  it("rejects a uri other than the request's, including a missing query string", async () => {
    // Prepare
    const [challenge] = createChallenges({ secret: SECRET, now: NOW });
    const credentials = signFromChallenge(challenge as string);

    // Act
    const otherPath = await verify(credentials, {
      requestUri: '/api/atlas/v1.0/groups/other/clusters/Cluster0/restoreJobs',
    });
    const noQuery = await verify(credentials, { requestUri: URI.split('?')[0] as string });

    // Assess
    expect(otherPath).toEqual({ ok: false, reason: 'uri-mismatch' });
    expect(noQuery).toEqual({ ok: false, reason: 'uri-mismatch' });
  });

  it('accepts a uri that differs from the request only in percent-encoding', async () => {
    // Prepare: the client signed the encoded form, the request arrived decoded
    const [challenge] = createChallenges({ secret: SECRET, now: NOW });
    const credentials = signFromChallenge(challenge as string, {
      uri: '/api/atlas/v1.0/groups/g/clusters/My%20Cluster/restoreJobs',
    });

    // Act
    const verdict = await verify(credentials, {
      requestUri: '/api/atlas/v1.0/groups/g/clusters/My Cluster/restoreJobs',
    });
    const broken = await verify({ ...credentials, uri: '/bad%zz' }, { requestUri: '/bad%zz/' });

    // Assess
    expect(verdict.ok).toBe(true);
    expect(broken).toEqual({ ok: false, reason: 'uri-mismatch' });
  });

  it('compares the request target as sent: escaped delimiters are not the delimiters', async () => {
    // Prepare: signed for one query parameter whose value holds "&pageNum=2", sent as two parameters
    const [challenge] = createChallenges({ secret: SECRET, now: NOW });
    const path = '/api/atlas/v1.0/groups/g/clusters/c/restoreJobs';
    const credentials = signFromChallenge(challenge as string, { uri: `${path}?batchId=x%26pageNum%3D2` });

    // Act
    const smuggled = await verify(credentials, { requestUri: `${path}?batchId=x&pageNum=2` });
    const same = await verify(credentials, { requestUri: `${path}?batchId=x%26pageNum%3d2` });
    const tilde = await verify({ ...credentials, uri: `${path}?a=%7E` }, { requestUri: `${path}?a=~` });

    // Assess
    expect(smuggled).toEqual({ ok: false, reason: 'uri-mismatch' });
    expect(same.ok).toBe(true);
    expect((tilde as { reason?: string }).reason).not.toBe('uri-mismatch');
  });

  it('rejects forged nonces without looking the user up', async () => {
    // Prepare: one signed with another secret, one with a flipped byte, one random, one not base64url at all
    const good = createNonce(SECRET, NOW);
    const raw = Buffer.from(good, 'base64url');
    raw[5] = (raw[5] as number) ^ 1;
    const forged = [
      createNonce('another-secret', NOW),
      raw.toString('base64url'),
      randomBytes(56).toString('base64url'),
      `${good}=`,
      good.slice(0, -4),
      'nonce',
    ];
    const lookupHa1 = lookupFor();

    for (const nonce of forged) {
      // Prepare
      const credentials = signFromChallenge(`nonce="${nonce}", algorithm=MD5`);

      // Act
      const verdict = await verify(credentials, { lookupHa1 });

      // Assess
      expect(verdict).toEqual({ ok: false, reason: 'bad-nonce' });
    }
    expect(lookupHa1).not.toHaveBeenCalled();
  });

  it('calls an expired nonce stale only when the response is right', async () => {
    // Prepare
    const [challenge] = createChallenges({ secret: SECRET, now: NOW });
    const credentials = signFromChallenge(challenge as string);
    const later = NOW + NONCE_TTL_MS + 1;

    // Act
    const lastMoment = await verify(credentials, { now: NOW + NONCE_TTL_MS });
    const stale = await verify(credentials, { now: later });
    const wrong = await verify(signFromChallenge(challenge as string, { password: 'guess' }), { now: later });

    // Assess
    expect(lastMoment.ok).toBe(true);
    expect(stale).toEqual({ ok: false, reason: 'stale-nonce' });
    expect(wrong).toEqual({ ok: false, reason: 'bad-response' });
  });

  it('rejects an unknown user', async () => {
    // Prepare
    const [challenge] = createChallenges({ secret: SECRET, now: NOW });

    // Act
    const verdict = await verify(signFromChallenge(challenge as string), { lookupHa1: lookupFor('someone-else') });

    // Assess
    expect(verdict).toEqual({ ok: false, reason: 'unknown-user' });
  });

  it('rejects qop=auth-int and any other qop', async () => {
    // Prepare
    const [challenge] = createChallenges({ secret: SECRET, now: NOW });
    const credentials = signFromChallenge(challenge as string);

    // Act
    const authInt = await verify({ ...credentials, qop: 'auth-int' });
    const list = await verify({ ...credentials, qop: 'auth,auth-int' });

    // Assess
    expect(authInt).toEqual({ ok: false, reason: 'bad-qop' });
    expect(list).toEqual({ ok: false, reason: 'bad-qop' });
  });

  it('rejects another realm', async () => {
    // Prepare
    const [challenge] = createChallenges({ secret: SECRET, now: NOW });

    // Act
    const verdict = await verify({ ...signFromChallenge(challenge as string), realm: 'http-auth@example.org' });

    // Assess
    expect(verdict).toEqual({ ok: false, reason: 'realm-mismatch' });
  });

  it.each([
    ['nc not 8 hex digits', { nc: '1' }],
    ['nc not hex', { nc: '0000000g' }],
    ['nc zero', { nc: '00000000' }],
    ['qop without cnonce', { cnonce: undefined }],
    ['qop without nc', { nc: undefined }],
  ])('rejects %s as malformed', async (_name, change) => {
    // Prepare
    const [challenge] = createChallenges({ secret: SECRET, now: NOW });
    const credentials = { ...signFromChallenge(challenge as string), ...change } as DigestCredentials;

    // Act
    const verdict = await verify(credentials);

    // Assess
    expect(verdict).toEqual({ ok: false, reason: 'malformed' });
  });

  it('rejects nc/cnonce without qop (RFC 7616 3.4; qop is required anyway)', async () => {
    // Prepare
    const [challenge] = createChallenges({ secret: SECRET, now: NOW });
    const credentials = { ...signFromChallenge(challenge as string, { qop: undefined }), nc: '00000001' };

    // Act
    const verdict = await verify(credentials);

    // Assess
    expect(verdict).toEqual({ ok: false, reason: 'bad-qop' });
  });
});

// A real client end to end: curl against a node:http server guarded by this module.
describe.runIf(existsSync('/usr/bin/curl'))('with curl --digest', () => {
  async function withServer(challengeOrder: 'as-is' | 'reversed', run: (base: string) => Promise<void>) {
    const server = createServer((req, res) => {
      void (async () => {
        const credentials = parseAuthorization(req.headers.authorization ?? '');
        const verdict = credentials
          ? await verifyDigest({
              credentials,
              method: req.method ?? '',
              requestUri: req.url ?? '',
              secret: SECRET,
              now: Date.now(),
              lookupHa1: lookupFor(),
            })
          : undefined;
        req.resume();
        if (verdict?.ok) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ user: verdict.username, algorithm: credentials?.algorithm, nc: verdict.nc }));
          return;
        }
        const challenges = createChallenges({ secret: SECRET, now: Date.now() });
        if (challengeOrder === 'reversed') challenges.reverse();
        // One header line per challenge (an array value makes node:http repeat the header).
        res.writeHead(401, { 'www-authenticate': challenges });
        res.end();
      })();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  }

  const curl = async (...args: string[]) =>
    (await promisify(execFile)('curl', ['-s', '--digest', '-u', `${USER}:${PASSWORD}`, ...args])).stdout;

  it.each([
    ['as-is', 'MD5'],
    ['reversed', 'SHA-256'],
  ] as const)('authenticates a GET with a query string (challenges %s → curl picks %s)', async (order, algorithm) => {
    await withServer(order, async (base) => {
      // Act
      const body = await curl(`${base}/api/atlas/v1.0/groups/g/clusters/c/restoreJobs?pretty=true&itemsPerPage=5`);

      // Assess: curl 7.88 signs with the last Digest challenge it saw
      expect(JSON.parse(body)).toEqual({ user: USER, algorithm, nc: 1 });
    });
  });

  it('authenticates a POST with a body, and refuses a wrong password', async () => {
    await withServer('as-is', async (base) => {
      // Prepare
      const url = `${base}/api/atlas/v1.0/groups/g/clusters/c/restoreJobs`;

      // Act
      const ok = await curl('-X', 'POST', '-H', 'content-type: application/json', '-d', '{"snapshotId":"x"}', url);
      const refused = await promisify(execFile)('curl', [
        '-s',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '--digest',
        '-u',
        `${USER}:nope`,
        url,
      ]);

      // Assess
      expect(JSON.parse(ok)).toMatchObject({ user: USER });
      expect(refused.stdout).toBe('401');
    });
  });
});
