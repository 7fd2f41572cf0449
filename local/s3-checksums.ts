import { createHash, type Hash } from 'node:crypto';
import { Crc32, Crc32c, Crc64Nvme } from '@aws-sdk/checksums/crc';

/** S3's additional checksum algorithms, as named in `x-amz-checksum-algorithm` and `x-amz-sdk-checksum-algorithm`. */
export const CHECKSUM_ALGORITHMS = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

/** Digest length in bytes: a header value must be the base64 of exactly this many bytes. */
const DIGEST_BYTES: Record<ChecksumAlgorithm, number> = { CRC32: 4, CRC32C: 4, CRC64NVME: 8, SHA1: 20, SHA256: 32 };

export function isChecksumAlgorithm(value: string): value is ChecksumAlgorithm {
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(value);
}

/** `x-amz-checksum-crc32` for CRC32, and so on. */
export function checksumHeader(algorithm: ChecksumAlgorithm): string {
  return `x-amz-checksum-${algorithm.toLowerCase()}`;
}

/** The algorithm a `x-amz-checksum-*` header (or trailer) name stands for. */
export function algorithmOfHeader(name: string): ChecksumAlgorithm | undefined {
  const lower = name.toLowerCase();
  return CHECKSUM_ALGORITHMS.find((algorithm) => checksumHeader(algorithm) === lower);
}

/** `ChecksumCRC32` for CRC32: the element name in S3's XML (ListParts, CompleteMultipartUpload). */
export function checksumElement(algorithm: ChecksumAlgorithm): string {
  return `Checksum${algorithm}`;
}

/** Whether a header value is a well-formed base64 digest for the algorithm. */
export function isWellFormedChecksum(algorithm: ChecksumAlgorithm, value: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value) || value.length % 4 !== 0) return false;
  return Buffer.from(value, 'base64').length === DIGEST_BYTES[algorithm];
}

export interface Checksum {
  update(data: Uint8Array): void;
  /** The digest, raw. */
  digest(): Promise<Buffer>;
}

/** An incremental checksum. CRCs come from the SDK's own implementations (CRC32 on zlib where Node has it). */
export function createChecksum(algorithm: ChecksumAlgorithm): Checksum {
  switch (algorithm) {
    case 'SHA1':
    case 'SHA256':
      return nodeHash(createHash(algorithm === 'SHA1' ? 'sha1' : 'sha256'));
    case 'CRC32':
      return sdkChecksum(new Crc32());
    case 'CRC32C':
      return sdkChecksum(new Crc32c());
    case 'CRC64NVME':
      return sdkChecksum(new Crc64Nvme());
  }
}

function nodeHash(hash: Hash): Checksum {
  return {
    update: (data) => {
      hash.update(data);
    },
    digest: async () => hash.digest(),
  };
}

function sdkChecksum(checksum: { update(data: Uint8Array): void; digest(): Promise<Uint8Array> }): Checksum {
  return {
    update: (data) => checksum.update(data),
    digest: async () => Buffer.from(await checksum.digest()),
  };
}

/** The checksum of a whole buffer, base64 (S3's notation). */
export async function checksumOf(algorithm: ChecksumAlgorithm, data: Uint8Array): Promise<string> {
  const checksum = createChecksum(algorithm);
  checksum.update(data);
  return (await checksum.digest()).toString('base64');
}
