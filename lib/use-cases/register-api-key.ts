import { parseCidr, type Role } from '../auth/access.js';
import { computeHa1 } from '../auth/digest.js';
import type { ApiKey } from './ports.js';

/**
 * A programmatic API key as stored: the private key is reduced to Digest's HA1 per algorithm at once
 * and never kept. Access-list entries are validated here so a typo cannot silently lock a key out.
 */
export function apiKeyRecord(args: {
  publicKey: string;
  privateKey: string;
  accessList: readonly string[];
  roles: Readonly<Record<string, Role>>;
  description?: string;
}): ApiKey {
  const invalid = args.accessList.find((entry) => parseCidr(entry) === undefined);
  if (invalid !== undefined) throw new Error(`Invalid access list entry: ${invalid}`);
  return {
    publicKey: args.publicKey,
    ha1: {
      MD5: computeHa1('MD5', args.publicKey, args.privateKey),
      'SHA-256': computeHa1('SHA-256', args.publicKey, args.privateKey),
    },
    accessList: [...args.accessList],
    roles: { ...args.roles },
    ...(args.description !== undefined && { description: args.description }),
  };
}
