import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The delivery URL's token. It is derived, not stored: HMAC(secret, jobId + random salt). The job keeps
 * the salt and the token's SHA-256, so the table alone yields no usable download URL, while the
 * service (which holds the secret) can print the URL on every read of the job.
 */
export function newTokenSalt(): string {
  return randomBytes(16).toString('hex');
}

export function deriveToken(secret: string, jobId: string, salt: string): string {
  return createHmac('sha256', secret).update(`delivery-token\0${jobId}\0${salt}`).digest('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Constant-time check of a presented token against the stored hash. */
export function tokenMatches(presented: string, storedHash: string): boolean {
  const a = Buffer.from(hashToken(presented), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
