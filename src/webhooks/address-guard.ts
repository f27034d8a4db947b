/**
 * Server-side request forgery guard for webhook deliveries: a URL an organisation admin typed must not
 * make the server talk to itself, its network or a cloud metadata service. Every address a host name
 * resolves to is checked at creation and again at each delivery, and the delivery connects to the
 * addresses that were checked (a custom `lookup`, so a DNS answer that changes between the check and the
 * connection — rebinding — cannot slip in). Redirects are never followed (src/webhooks/sender.ts).
 *
 * Address spellings are normalised before the check: the WHATWG URL parser turns decimal, hex and octal
 * IPv4 (`2130706433`, `0x7f.1`, `0177.0.0.1`) into dotted quads, and IPv4-mapped IPv6 (`::ffff:7f00:1`)
 * is matched against the IPv4 ranges by `BlockList`.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export type Resolution =
  | { ok: true; addresses: ResolvedAddress[] }
  /** `refused`: the policy said no (retrying will not help); `unresolved`: DNS failed (it may later). */
  | { ok: false; kind: 'refused' | 'unresolved'; reason: string };

type Family = 'ipv4' | 'ipv6';

/**
 * Special-purpose ranges (IANA's IPv4 and IPv6 special-purpose address registries, RFC 6890), by the
 * word a refusal uses. IPv6 outside 2000::/3 (global unicast) is all reserved: that also covers
 * IPv4-compatible and NAT64 (64:ff9b::/96) addresses, which would reach IPv4 hosts behind them.
 */
const RANGES: [label: string, family: Family, network: string, prefix: number][] = [
  ['unspecified', 'ipv4', '0.0.0.0', 8],
  ['unspecified', 'ipv6', '::', 128],
  ['loopback', 'ipv4', '127.0.0.0', 8],
  ['loopback', 'ipv6', '::1', 128],
  ['private', 'ipv4', '10.0.0.0', 8],
  ['private', 'ipv4', '172.16.0.0', 12],
  ['private', 'ipv4', '192.168.0.0', 16],
  ['private (unique local)', 'ipv6', 'fc00::', 7],
  ['shared address space (carrier-grade NAT)', 'ipv4', '100.64.0.0', 10],
  // 169.254.169.254 is the metadata service of most clouds.
  ['link-local', 'ipv4', '169.254.0.0', 16],
  ['link-local', 'ipv6', 'fe80::', 10],
  ['multicast', 'ipv4', '224.0.0.0', 4],
  ['multicast', 'ipv6', 'ff00::', 8],
  ['reserved', 'ipv4', '192.0.0.0', 24],
  ['reserved', 'ipv4', '192.0.2.0', 24],
  ['reserved', 'ipv4', '192.88.99.0', 24],
  ['reserved', 'ipv4', '198.18.0.0', 15],
  ['reserved', 'ipv4', '198.51.100.0', 24],
  ['reserved', 'ipv4', '203.0.113.0', 24],
  ['reserved', 'ipv4', '240.0.0.0', 4],
  ['reserved', 'ipv6', '::', 3],
  ['reserved', 'ipv6', '4000::', 2],
  ['reserved', 'ipv6', '8000::', 1],
  ['reserved', 'ipv6', '2001::', 23],
  ['reserved', 'ipv6', '2001:db8::', 32],
  ['reserved', 'ipv6', '2002::', 16],
  ['reserved', 'ipv6', '3fff::', 20],
];

/**
 * One list per label and family, in the table's order, so a refusal can say which kind of address it
 * met. Separate families because a BlockList matches an IPv4 address against IPv6 rules as if it were
 * IPv4-mapped (so `::/3` would catch every IPv4 address); an IPv6 address is checked against the IPv4
 * lists too, which is how an IPv4-mapped one is caught by the IPv4 ranges.
 */
const LISTS: { label: string; ipv4: BlockList; ipv6: BlockList }[] = [];
for (const [label, family, network, prefix] of RANGES) {
  let lists = LISTS.find((entry) => entry.label === label);
  if (!lists) {
    lists = { label, ipv4: new BlockList(), ipv6: new BlockList() };
    LISTS.push(lists);
  }
  lists[family].addSubnet(network, prefix, family);
}

/** What kind of special address this is, or undefined for an ordinary public one. */
export function specialKind(address: string): string | undefined {
  const family = isIP(address);
  // A zone index (`fe80::1%eth0`) only exists on link-local addresses.
  if (!family) return address.includes('%') ? 'link-local' : 'not an IP address';
  if (family === 4) return LISTS.find((lists) => lists.ipv4.check(address, 'ipv4'))?.label;
  return (
    LISTS.find((lists) => lists.ipv4.check(address, 'ipv6'))?.label ??
    LISTS.find((lists) => lists.ipv6.check(address, 'ipv6'))?.label
  );
}

export interface AddressGuard {
  /** The addresses `hostname` (from a parsed URL; IPv6 in brackets) may be reached at, or why not. */
  resolve(hostname: string): Promise<Resolution>;
}

export function createAddressGuard(allowPrivate: 'all' | readonly string[]): AddressGuard {
  const allowed = { ipv4: new BlockList(), ipv6: new BlockList() };
  if (allowPrivate !== 'all') {
    for (const network of allowPrivate) {
      const [address = '', prefix = ''] = network.split('/');
      const family: Family = isIP(address) === 4 ? 'ipv4' : 'ipv6';
      allowed[family].addSubnet(address, Number(prefix), family);
    }
  }
  const isAllowed = (address: string) =>
    isIP(address) === 4
      ? allowed.ipv4.check(address, 'ipv4')
      : allowed.ipv4.check(address, 'ipv6') || allowed.ipv6.check(address, 'ipv6');
  const refusal = (address: string): string | undefined => {
    if (allowPrivate === 'all') return undefined;
    const kind = specialKind(address);
    if (kind === undefined || isAllowed(address)) return undefined;
    return `${address} is not a public address (${kind}); WEBHOOK_ALLOW_PRIVATE decides which may be reached`;
  };

  return {
    async resolve(hostname) {
      const host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
      let addresses: ResolvedAddress[];
      if (isIP(host)) addresses = [{ address: host, family: isIP(host) as 4 | 6 }];
      else {
        try {
          const found = await lookup(host, { all: true, order: 'verbatim' });
          addresses = found.map(({ address, family }) => ({ address, family: family as 4 | 6 }));
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code ?? 'error';
          return { ok: false, kind: 'unresolved', reason: `the host name ${host} does not resolve (${code})` };
        }
      }
      // All or nothing: a name that also resolves to an internal address is refused, whichever is tried first.
      for (const { address } of addresses) {
        const reason = refusal(address);
        if (reason) return { ok: false, kind: 'refused', reason: `${host}: ${reason}` };
      }
      if (addresses.length === 0) return { ok: false, kind: 'unresolved', reason: `${host} has no address` };
      return { ok: true, addresses };
    },
  };
}
