import { describe, expect, it } from 'vitest';
import { canCreateRestoreJob, canRead, isAddressAllowed, parseCidr, type Role } from '../../../lib/auth/access.js';

describe('roles', () => {
  it.each([
    ['GROUP_OWNER', true, true],
    ['GROUP_BACKUP_ADMIN', true, true],
    ['GROUP_READ_ONLY', true, false],
    [undefined, false, false],
  ] as const)('%s: read %s, create restore job %s', (role, read, create) => {
    // Act / Assess
    expect(canRead(role)).toBe(read);
    expect(canCreateRestoreJob(role)).toBe(create);
  });

  it('grants nothing to a role string that is not a Role (e.g. read from storage)', () => {
    // Prepare
    const role = 'GROUP_OWNER ' as Role;

    // Act / Assess
    expect(canRead(role)).toBe(false);
    expect(canCreateRestoreJob(role)).toBe(false);
    expect(canRead('toString' as Role)).toBe(false);
  });
});

describe('parseCidr', () => {
  it.each([
    ['127.0.0.1', { address: '127.0.0.1', prefix: 32, family: 'ipv4' }],
    ['127.0.0.1/32', { address: '127.0.0.1', prefix: 32, family: 'ipv4' }],
    ['10.0.0.0/8', { address: '10.0.0.0', prefix: 8, family: 'ipv4' }],
    ['10.1.2.3/8', { address: '10.0.0.0', prefix: 8, family: 'ipv4' }],
    ['255.255.255.255/1', { address: '128.0.0.0', prefix: 1, family: 'ipv4' }],
    ['0.0.0.0/0', { address: '0.0.0.0', prefix: 0, family: 'ipv4' }],
    [' 192.168.1.7/24 ', { address: '192.168.1.0', prefix: 24, family: 'ipv4' }],
    ['::1', { address: '::1', prefix: 128, family: 'ipv6' }],
    ['::1/128', { address: '::1', prefix: 128, family: 'ipv6' }],
    ['2001:DB8:0:0:0:0:0:1/32', { address: '2001:db8::', prefix: 32, family: 'ipv6' }],
    ['2001:db8:abcd:12ff::/56', { address: '2001:db8:abcd:1200::', prefix: 56, family: 'ipv6' }],
    ['::/0', { address: '::', prefix: 0, family: 'ipv6' }],
    ['::ffff:127.0.0.1/128', { address: '::ffff:7f00:1', prefix: 128, family: 'ipv6' }],
  ] as const)('normalizes %j', (entry, expected) => {
    // Act / Assess
    expect(parseCidr(entry)).toEqual(expected);
  });

  it.each([
    '',
    '/8',
    '10.0.0.0/',
    '10.0.0.0/33',
    '10.0.0.0/-1',
    '10.0.0.0/8/8',
    '10.0.0.0/+8',
    '10.0.0.0/0x8',
    '256.0.0.1',
    '010.0.0.1',
    '10.0.0',
    '::1/129',
    'fe80::1%eth0/64',
    '2001:db8::g',
    'localhost',
    '1.2.3.4 /32',
  ])('rejects %j', (entry) => {
    // Act / Assess
    expect(parseCidr(entry)).toBeUndefined();
  });
});

describe('isAddressAllowed', () => {
  it.each([
    ['127.0.0.1', ['127.0.0.1/32'], true],
    ['127.0.0.1', ['127.0.0.1'], true],
    ['127.0.0.2', ['127.0.0.1'], false],
    ['10.200.3.4', ['192.168.0.0/16', '10.0.0.0/8'], true],
    ['11.0.0.1', ['10.0.0.0/8'], false],
    ['203.0.113.9', ['0.0.0.0/0'], true],
    ['203.0.113.9', [], false],
    ['::1', ['::1/128'], true],
    ['::2', ['::1/128'], false],
    ['2001:db8:ffff::1', ['2001:db8::/32'], true],
    ['2001:db9::1', ['2001:db8::/32'], false],
    ['2001:0DB8:0000::0001', ['2001:db8::1'], true],
    // IPv4-mapped IPv6, as a dual-stack socket reports an IPv4 peer, against IPv4 entries (both notations)
    ['::ffff:127.0.0.1', ['127.0.0.1/32'], true],
    ['::ffff:7f00:1', ['127.0.0.0/8'], true],
    ['::ffff:127.0.0.1', ['10.0.0.0/8'], false],
    // families do not mix otherwise
    ['127.0.0.1', ['::1/128'], false],
    ['::1', ['127.0.0.1/32'], false],
    ['::1', ['0.0.0.0/0'], false],
  ] as const)('%s in %j → %s', (address, list, expected) => {
    // Act / Assess
    expect(isAddressAllowed(address, list)).toBe(expected);
  });

  it('skips malformed entries without throwing', () => {
    // Prepare
    const list = ['not-an-ip', '10.0.0.0/99', '', '::1/abc', '300.1.1.1/8', '192.0.2.0/24'];

    // Act / Assess
    expect(isAddressAllowed('192.0.2.77', list)).toBe(true);
    expect(isAddressAllowed('10.0.0.1', list)).toBe(false);
    expect(isAddressAllowed('192.0.2.77', [undefined, null, 42] as unknown as string[])).toBe(false);
  });

  it.each(['', 'localhost', '192.0.2.300', 'fe80::1%eth0', '192.0.2.1:443'])(
    'refuses malformed address %j',
    (address) => {
      // Act / Assess
      expect(isAddressAllowed(address, ['0.0.0.0/0', '::/0'])).toBe(false);
    },
  );
});
