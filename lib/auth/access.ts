/**
 * Roles and IP access lists for API keys. Pure: node:net only.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

export type Role = 'GROUP_OWNER' | 'GROUP_BACKUP_ADMIN' | 'GROUP_READ_ONLY';

// Sets rather than `role === …`, so a role string read from storage that is not a Role grants nothing.
const READERS: ReadonlySet<string> = new Set<Role>(['GROUP_OWNER', 'GROUP_BACKUP_ADMIN', 'GROUP_READ_ONLY']);
const RESTORERS: ReadonlySet<string> = new Set<Role>(['GROUP_OWNER', 'GROUP_BACKUP_ADMIN']);

export function canRead(role: Role | undefined): boolean {
  return role !== undefined && READERS.has(role);
}

export function canCreateRestoreJob(role: Role | undefined): boolean {
  return role !== undefined && RESTORERS.has(role);
}

export type Cidr = { address: string; prefix: number; family: 'ipv4' | 'ipv6' };

function ipv4ToInt(address: string): number {
  return address.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

function intToIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

/** Canonical RFC 5952 text of an IPv6 address (lower case, "::" compression, mapped tail as hex), via WHATWG URL. */
function canonicalIpv6(address: string): string | undefined {
  try {
    return new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
}

function ipv6ToBigInt(canonical: string): bigint {
  const [head = '', tail] = canonical.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined
      ? headGroups
      : [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  return groups.reduce((n, group) => (n << 16n) | BigInt(`0x${group}`), 0n);
}

function bigIntToIpv6(n: bigint): string {
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(((n >> shift) & 0xffffn).toString(16));
  return canonicalIpv6(groups.join(':')) as string;
}

/**
 * Validates a CIDR list entry (for registering keys); returns a normalized form or undefined.
 * A bare address means /32 or /128. Host bits are cleared ("10.1.2.3/8" → 10.0.0.0/8) and IPv6 is printed
 * canonically, so equal ranges compare equal. Zone ids ("fe80::1%eth0") and leading-zero octets are refused.
 */
export function parseCidr(entry: string): Cidr | undefined {
  if (typeof entry !== 'string') return undefined;
  const parts = entry.trim().split('/');
  if (parts.length > 2) return undefined;
  const [address = '', prefixText] = parts;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;

  if (isIPv4(address)) {
    const prefix = prefixText === undefined ? 32 : Number(prefixText);
    if (prefix > 32) return undefined;
    // Unsigned arithmetic without bit operators (they are 32-bit signed in JS).
    const hostSize = 2 ** (32 - prefix);
    const network = ipv4ToInt(address) - (ipv4ToInt(address) % hostSize);
    return { address: intToIpv4(network), prefix, family: 'ipv4' };
  }
  if (isIPv6(address) && !address.includes('%')) {
    const prefix = prefixText === undefined ? 128 : Number(prefixText);
    if (prefix > 128) return undefined;
    const canonical = canonicalIpv6(address);
    if (canonical === undefined) return undefined;
    const hostMask = (1n << BigInt(128 - prefix)) - 1n;
    return { address: bigIntToIpv6(ipv6ToBigInt(canonical) & ~hostMask), prefix, family: 'ipv6' };
  }
  return undefined;
}

/**
 * True when `address` is inside one of the CIDRs (IPv4 and IPv6; a bare address means /32 or /128).
 * IPv4-mapped IPv6 addresses ("::ffff:127.0.0.1", as a dual-stack socket reports IPv4 peers) match IPv4 entries:
 * node:net BlockList does that mapping in both directions. Malformed entries never match and never throw.
 */
export function isAddressAllowed(address: string, accessList: readonly string[]): boolean {
  if (typeof address !== 'string') return false;
  const family = isIPv4(address) ? 'ipv4' : isIPv6(address) && !address.includes('%') ? 'ipv6' : undefined;
  if (family === undefined) return false;
  const list = new BlockList();
  for (const entry of accessList) {
    const cidr = parseCidr(entry);
    if (cidr) list.addSubnet(cidr.address, cidr.prefix, cidr.family);
  }
  try {
    return list.check(address, family);
  } catch {
    return false;
  }
}
