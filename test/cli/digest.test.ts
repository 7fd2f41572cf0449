/** The CLI's Digest signer against the service's own verifier (lib/auth/digest.ts) and challenges. */
import { describe, expect, it } from 'vitest';
import { computeHa1, createChallenges, parseAuthorization, verifyDigest } from '#lib/auth/digest.js';
import { DigestSigner, parseDigestChallenge } from '../../cli/digest.js';

const secret = 'test-secret';
const user = 'abcdefgh';
const password = 'private-key-1234';

async function verify(header: string, uri: string, method = 'GET') {
  const credentials = parseAuthorization(header);
  if (credentials === undefined) throw new Error(`unparseable: ${header}`);
  return verifyDigest({
    credentials,
    method,
    requestUri: uri,
    secret,
    now: Date.now(),
    lookupHa1: async (name, algorithm) => (name === user ? computeHa1(algorithm, user, password) : undefined),
  });
}

describe('parseDigestChallenge', () => {
  it("reads the service's MD5 and SHA-256 challenges", () => {
    const [md5, sha256] = createChallenges({ secret, now: Date.now(), stale: true });

    expect(parseDigestChallenge(md5 ?? '')).toMatchObject({ realm: 'MMS Public API', algorithm: 'MD5', stale: true });
    expect(parseDigestChallenge(sha256 ?? '')).toMatchObject({ algorithm: 'SHA-256' });
  });

  it('reads quoted strings with escapes and commas, and a qop list', () => {
    expect(parseDigestChallenge('Digest realm="a \\"b\\", c", qop="auth-int,auth", nonce="n1", opaque="o"')).toEqual({
      realm: 'a "b", c',
      nonce: 'n1',
      opaque: 'o',
      algorithm: 'MD5',
      stale: false,
    });
  });

  it('refuses what it cannot answer', () => {
    expect(parseDigestChallenge('Basic realm="x"')).toBeUndefined();
    expect(parseDigestChallenge('Digest realm="x", qop="auth"')).toBeUndefined(); // no nonce
    expect(parseDigestChallenge('Digest realm="x", nonce="n", qop="auth-int"')).toBeUndefined();
    expect(parseDigestChallenge('Digest realm="x", nonce="n", algorithm=SHA-512-256')).toBeUndefined();
  });
});

describe('DigestSigner', () => {
  it.each(['MD5', 'SHA-256'] as const)(
    'signs what the service verifies (%s), counting nc up on one nonce',
    async (algorithm) => {
      // Prepare
      const signer = new DigestSigner(user, password);
      const challenge = createChallenges({ secret, now: Date.now() }).find((c) =>
        c.includes(`algorithm=${algorithm},`),
      );
      expect(signer.accept(challenge ?? '')).toBe(true);
      const uri = '/api/atlas/v1.0/groups/5e2211c17a3e5a48f5497de3/clusters/Cluster%200/restoreJobs?pageNum=2';

      // Act
      const first = signer.authorization('GET', uri);
      const second = signer.authorization('POST', uri);

      // Assess
      expect(await verify(first, uri)).toMatchObject({ ok: true, nc: 1 });
      expect(await verify(second, uri, 'POST')).toMatchObject({ ok: true, nc: 2 });
      expect(await verify(second, uri, 'GET')).toMatchObject({ ok: false, reason: 'bad-response' });
      expect(await verify(first, `${uri}&x=1`)).toMatchObject({ ok: false });
    },
  );

  it('signs with the wrong password into a refusal', async () => {
    const signer = new DigestSigner(user, 'not-the-key');
    signer.accept(createChallenges({ secret, now: Date.now() })[0] ?? '');
    const uri = '/api/public/v1.0/groups/5e2211c17a3e5a48f5497de3/clusters/5e2211c17a3e5a48f5497de4/restoreJobs';

    expect(await verify(signer.authorization('GET', uri), uri)).toMatchObject({ ok: false, reason: 'bad-response' });
  });
});
