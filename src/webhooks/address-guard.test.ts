import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAddressGuard, specialKind } from './address-guard.ts';

/** The host name a URL parser hands the guard: spellings normalised as a delivery would see them. */
const hostOf = (url: string) => new URL(url).hostname;

describe('webhook address guard', () => {
  it('names the kind of every special-purpose address, and passes public ones', () => {
    const cases: [string, string | undefined][] = [
      ['8.8.8.8', undefined],
      ['2606:4700:4700::1111', undefined],
      ['127.0.0.1', 'loopback'],
      ['127.255.0.9', 'loopback'],
      ['::1', 'loopback'],
      ['0.0.0.0', 'unspecified'],
      ['::', 'unspecified'],
      ['10.1.2.3', 'private'],
      ['172.16.0.1', 'private'],
      ['172.31.255.255', 'private'],
      ['192.168.1.1', 'private'],
      ['fd12:3456::1', 'private (unique local)'],
      ['169.254.169.254', 'link-local'],
      ['fe80::1', 'link-local'],
      ['fe80::1%eth0', 'link-local'],
      ['100.64.0.1', 'shared address space (carrier-grade NAT)'],
      ['224.0.0.251', 'multicast'],
      ['ff02::1', 'multicast'],
      ['255.255.255.255', 'reserved'],
      ['198.18.0.1', 'reserved'],
      ['2001:db8::1', 'reserved'],
      // IPv4-mapped IPv6 is judged by the IPv4 address inside it.
      ['::ffff:127.0.0.1', 'loopback'],
      ['::ffff:7f00:1', 'loopback'],
      ['::ffff:a9fe:a9fe', 'link-local'],
      ['::ffff:10.0.0.1', 'private'],
      // Other IPv6 forms that reach IPv4 hosts: NAT64, 6to4, IPv4-compatible.
      ['64:ff9b::7f00:1', 'reserved'],
      ['2002:7f00:1::1', 'reserved'],
      ['::127.0.0.1', 'reserved'],
      ['172.32.0.1', undefined],
      ['11.0.0.1', undefined],
    ];
    for (const [address, kind] of cases) assert.equal(specialKind(address), kind, address);
  });

  it('sees through decimal, hex, octal and short IPv4 spellings and bracketed IPv6', async () => {
    const guard = createAddressGuard([]);
    for (const url of [
      'http://2130706433/',
      'http://0x7f000001/',
      'http://0x7f.1/',
      'http://0177.0.0.1/',
      'http://127.1/',
      'http://[::ffff:127.0.0.1]/',
      'http://[0:0:0:0:0:ffff:7f00:1]/',
      'http://[::1]/',
    ]) {
      const result = await guard.resolve(hostOf(url));
      assert.equal(result.ok, false, url);
      assert.equal(!result.ok && result.kind, 'refused', url);
      assert.match(!result.ok ? result.reason : '', /loopback/, url);
    }
    for (const url of ['http://0xa9fea9fe/', 'http://2852039166/', 'http://169.254.169.254/latest/meta-data/']) {
      const result = await guard.resolve(hostOf(url));
      assert.match(!result.ok ? result.reason : '', /link-local/, url);
    }
  });

  it('checks every address a name resolves to', async () => {
    const result = await createAddressGuard([]).resolve('localhost');
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.kind, 'refused');
  });

  it('passes a public address as it is, without a DNS lookup', async () => {
    assert.deepEqual(await createAddressGuard([]).resolve('8.8.8.8'), {
      ok: true,
      addresses: [{ address: '8.8.8.8', family: 4 }],
    });
    assert.deepEqual(await createAddressGuard([]).resolve('[2606:4700::1111]'), {
      ok: true,
      addresses: [{ address: '2606:4700::1111', family: 6 }],
    });
  });

  it('lets the configured networks through, and only those', async () => {
    const guard = createAddressGuard(['127.0.0.0/8', 'fd00::/8']);
    assert.equal((await guard.resolve('127.0.0.1')).ok, true);
    assert.equal((await guard.resolve('[::ffff:127.0.0.1]')).ok, true);
    assert.equal((await guard.resolve('[fd00::5]')).ok, true);
    assert.equal((await guard.resolve('10.0.0.1')).ok, false);
    assert.equal((await guard.resolve('[fc00::5]')).ok, false);
    assert.equal((await guard.resolve('169.254.169.254')).ok, false);
    // An IPv6 network allowed does not let IPv4 addresses through as if they were mapped.
    assert.equal((await createAddressGuard(['::/0']).resolve('127.0.0.1')).ok, false);
    assert.equal((await createAddressGuard('all').resolve('127.0.0.1')).ok, true);
  });

  it('reports a name that does not resolve as unresolved, not refused', async () => {
    const result = await createAddressGuard([]).resolve('no-such-host.invalid');
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.kind, 'unresolved');
  });
});
