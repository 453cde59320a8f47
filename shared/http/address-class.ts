/**
 * What kind of network an IP address belongs to, for the outbound-request guards (webhook
 * deliveries, deployment registration through the DAPI). IPv6 forms that carry an IPv4 address
 * (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are
 * judged by the IPv4 address they reach, so `[::ffff:127.0.0.1]` is loopback like `127.0.0.1`.
 */
import { lookup } from "node:dns/promises";
import { BlockList, isIP, isIPv4, isIPv6 } from "node:net";

export type AddressClass = "public" | "loopback" | "private" | "link-local" | "metadata" | "unspecified" | "reserved";

/** Cloud instance-metadata services: AWS, GCP, Azure, OCI (169.254.169.254), AWS ECS, Alibaba, AWS IPv6. */
const METADATA = ["169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254"];

function blockList(ipv4: [string, number][], ipv6: [string, number][]): BlockList {
  const list = new BlockList();
  for (const [network, prefix] of ipv4) list.addSubnet(network, prefix, "ipv4");
  for (const [network, prefix] of ipv6) list.addSubnet(network, prefix, "ipv6");
  return list;
}

const CLASSES: [Exclude<AddressClass, "public" | "metadata">, BlockList][] = [
  ["unspecified", blockList([["0.0.0.0", 8]], [["::", 128]])],
  ["loopback", blockList([["127.0.0.0", 8]], [["::1", 128]])],
  ["link-local", blockList([["169.254.0.0", 16]], [["fe80::", 10]])],
  // RFC 1918, shared address space (carrier-grade NAT), unique local IPv6.
  ["private", blockList([["10.0.0.0", 8], ["172.16.0.0", 12], ["192.168.0.0", 16], ["100.64.0.0", 10]], [["fc00::", 7]])],
  // IETF protocol assignments, documentation, benchmarking, multicast, class E and broadcast.
  [
    "reserved",
    blockList(
      [["192.0.0.0", 24], ["192.0.2.0", 24], ["198.18.0.0", 15], ["198.51.100.0", 24], ["203.0.113.0", 24], ["224.0.0.0", 4], ["240.0.0.0", 4]],
      [["ff00::", 8], ["2001:db8::", 32], ["100::", 64]],
    ),
  ],
];

/** Classifies an IP address; anything that is not an IP address is `reserved`. */
export function classifyAddress(address: string): AddressClass {
  const bare = address.replace(/^\[(.*)\]$/, "$1").replace(/%.*$/, "");
  const embedded = isIPv6(bare) ? embeddedIPv4(bare) : undefined;
  const ip = embedded ?? bare;
  const family = isIPv4(ip) ? "ipv4" : isIPv6(ip) ? "ipv6" : undefined;
  if (!family) return "reserved";
  if (METADATA.some((candidate) => sameAddress(candidate, ip))) return "metadata";
  for (const [name, list] of CLASSES) if (list.check(ip, family)) return name;
  return "public";
}

function sameAddress(a: string, b: string): boolean {
  if (isIPv4(a) && isIPv4(b)) return a === b;
  if (isIPv6(a) && isIPv6(b)) return hextets(a)?.join(":") === hextets(b)?.join(":");
  return false;
}

/** The IPv4 address an IPv6 address stands for, when it is one of the forms that carry one. */
function embeddedIPv4(address: string): string | undefined {
  const groups = hextets(address);
  if (!groups) return undefined;
  const tail = (high: number, low: number) => `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
  const zero = (from: number, to: number) => groups.slice(from, to).every((group) => group === 0);
  if (zero(0, 5) && groups[5] === 0xffff) return tail(groups[6]!, groups[7]!); // ::ffff:a.b.c.d
  if (zero(0, 6) && (groups[6] !== 0 || groups[7]! > 1)) return tail(groups[6]!, groups[7]!); // ::a.b.c.d (not :: or ::1)
  if (groups[0] === 0x64 && groups[1] === 0xff9b && zero(2, 6)) return tail(groups[6]!, groups[7]!); // NAT64
  if (groups[0] === 0x2002) return tail(groups[1]!, groups[2]!); // 6to4
  return undefined;
}

/** The eight 16-bit groups of an IPv6 address (a trailing dotted IPv4 part included). */
function hextets(address: string): number[] | undefined {
  let text = address.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail, ...rest] = text.split("::");
  if (rest.length > 0) return undefined;
  const parse = (part: string | undefined) => (part ? part.split(":").map((group) => Number.parseInt(group, 16)) : []);
  const left = parse(head);
  const right = parse(tail);
  const missing = 8 - left.length - right.length;
  if (tail === undefined ? missing !== 0 : missing < 0) return undefined;
  const groups = [...left, ...Array<number>(Math.max(0, missing)).fill(0), ...right];
  return groups.length === 8 && groups.every((group) => Number.isInteger(group) && group >= 0 && group <= 0xffff) ? groups : undefined;
}

/**
 * The addresses `host` (a name, or an IP address with or without brackets) stands for now, all of
 * them; a lookup that takes longer than `timeoutMs` fails like one that finds nothing.
 */
export async function resolveAddresses(host: string, timeoutMs: number): Promise<string[]> {
  const bare = host.replace(/^\[(.*)\]$/, "$1");
  if (isIP(bare) !== 0) return [bare];
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`looking up ${bare} took longer than ${timeoutMs} ms`), { code: "ETIMEOUT" })), timeoutMs);
  });
  try {
    return (await Promise.race([lookup(bare, { all: true }), timeout])).map((entry) => entry.address);
  } finally {
    clearTimeout(timer);
  }
}
