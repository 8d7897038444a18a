/**
 * Which network addresses an agent's tools may reach: public unicast only.
 *
 * Two questions live here. `parseHostAddress` answers "is this host an IP literal, in any of the
 * spellings a URL parser or libc's inet_aton would accept?" — so that `http://0x7f.1/` or
 * `http://2130706433/` cannot slip past a check that only knows dotted quads. `isForbiddenAddress`
 * answers "may we connect to this address?", following the IANA special-purpose registries and
 * looking inside IPv6 forms that carry an IPv4 address (mapped, NAT64, 6to4).
 */

/** One IPv4 range: base address as a 32-bit number and prefix length. */
interface V4Range {
  base: number;
  bits: number;
  kind: string;
}

const V4_RANGES: V4Range[] = [
  v4("0.0.0.0", 8, "unspecified"),
  v4("10.0.0.0", 8, "private"),
  v4("100.64.0.0", 10, "shared (CGNAT)"),
  v4("127.0.0.0", 8, "loopback"),
  v4("169.254.0.0", 16, "link-local"),
  v4("172.16.0.0", 12, "private"),
  v4("192.0.0.0", 24, "reserved (IETF protocol)"),
  v4("192.0.2.0", 24, "documentation"),
  v4("192.88.99.0", 24, "reserved (6to4 relay)"),
  v4("192.168.0.0", 16, "private"),
  v4("198.18.0.0", 15, "benchmarking"),
  v4("198.51.100.0", 24, "documentation"),
  v4("203.0.113.0", 24, "documentation"),
  v4("224.0.0.0", 4, "multicast"),
  v4("240.0.0.0", 4, "reserved"),
];

function v4(text: string, bits: number, kind: string): V4Range {
  const parts = text.split(".").map(Number);
  return { base: ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0, bits, kind };
}

function inV4Range(value: number, range: V4Range): boolean {
  if (range.bits === 0) return true;
  const mask = (0xffffffff << (32 - range.bits)) >>> 0;
  return (value & mask) >>> 0 === range.base;
}

/**
 * Why an address is not public unicast ("loopback", "private", ...), or null when it is.
 * Anything that is not an IP address at all is reported as "not an IP address": callers
 * treat that as forbidden, so a parsing gap fails closed.
 */
export function classifyAddress(ip: string): string | null {
  const parsed = parseAddressBytes(ip);
  if (!parsed) return "not an IP address";
  return parsed.length === 4 ? classifyV4(toV4Number(parsed)) : classifyV6(parsed);
}

/** True for every address that is not public unicast (see the ranges above); fails closed on garbage. */
export function isForbiddenAddress(ip: string): boolean {
  return classifyAddress(ip) !== null;
}

/**
 * The canonical address when `host` is an IP literal in any accepted spelling, else null.
 * IPv4: WHATWG/inet_aton forms (decimal `2130706433`, octal `0177.0.0.1`, hex `0x7f.1`, short `127.1`,
 * a trailing dot). IPv6: with or without brackets, with an embedded dotted quad, with a zone id.
 * IPv4 comes back dotted-quad, IPv6 in RFC 5952 form without brackets.
 */
export function parseHostAddress(host: string): string | null {
  const bytes = parseAddressBytes(host);
  if (!bytes) return null;
  return bytes.length === 4 ? bytes.join(".") : formatV6(bytes);
}

function parseAddressBytes(input: string): number[] | null {
  let host = input.trim();
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  if (host.includes(":")) return parseV6(host);
  return parseV4(host);
}

function toV4Number(bytes: number[]): number {
  return ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
}

function classifyV4(value: number): string | null {
  if (value === 0xffffffff) return "broadcast";
  for (const range of V4_RANGES) if (inV4Range(value, range)) return range.kind;
  return null;
}

/** Parses one IPv4 part the way inet_aton does: 0x → hex, leading 0 → octal, else decimal. */
function parseV4Part(part: string): number | null {
  if (part === "") return null;
  let digits = part;
  let radix = 10;
  if (/^0x/i.test(digits)) {
    digits = digits.slice(2);
    radix = 16;
    if (digits === "") return 0; // WHATWG treats a bare "0x" as zero
    if (!/^[0-9a-f]+$/i.test(digits)) return null;
  } else if (digits.length > 1 && digits.startsWith("0")) {
    digits = digits.slice(1);
    radix = 8;
    if (!/^[0-7]+$/.test(digits)) return null;
  } else if (!/^[0-9]+$/.test(digits)) {
    return null;
  }
  const value = Number.parseInt(digits, radix);
  // Very long digit strings overflow to Infinity or lose precision; both are out of range anyway.
  return Number.isFinite(value) && value <= 0xffffffff ? value : null;
}

function parseV4(host: string): number[] | null {
  let parts = host.split(".");
  if (parts.length > 1 && parts[parts.length - 1] === "") parts = parts.slice(0, -1); // "127.0.0.1."
  if (parts.length < 1 || parts.length > 4) return null;
  const numbers: number[] = [];
  for (const part of parts) {
    const n = parseV4Part(part);
    if (n === null) return null;
    numbers.push(n);
  }
  const last = numbers.pop() as number;
  for (const n of numbers) if (n > 255) return null;
  // The last part fills all the bytes the earlier parts left: "127.1" is 127.0.0.1.
  if (last >= 2 ** (8 * (4 - numbers.length))) return null;
  let value = last;
  numbers.forEach((n, i) => {
    value += n * 2 ** (8 * (3 - i));
  });
  return [(value >>> 24) & 255, (value >>> 16) & 255, (value >>> 8) & 255, value & 255];
}

/** Parses IPv6 text into 16 bytes; accepts "::" compression, a trailing dotted quad and a %zone. */
function parseV6(text: string): number[] | null {
  let host = text;
  const zone = host.indexOf("%");
  if (zone !== -1) host = host.slice(0, zone);
  if (host === "" || /[^0-9a-f:.]/i.test(host)) return null;
  const doubleColon = host.indexOf("::");
  if (doubleColon !== -1 && host.indexOf("::", doubleColon + 1) !== -1) return null;
  const parseGroups = (s: string): number[] | null => {
    if (s === "") return [];
    const groups = s.split(":");
    const out: number[] = [];
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i];
      if (g.includes(".")) {
        if (i !== groups.length - 1) return null;
        // The embedded IPv4 part must be a strict dotted quad (RFC 4291), no inet_aton spellings.
        if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(g)) return null;
        const bytes = g.split(".").map(Number);
        if (bytes.some((b) => b > 255)) return null;
        out.push((bytes[0] << 8) | bytes[1], (bytes[2] << 8) | bytes[3]);
      } else {
        if (!/^[0-9a-f]{1,4}$/i.test(g)) return null;
        out.push(Number.parseInt(g, 16));
      }
    }
    return out;
  };
  let groups: number[];
  if (doubleColon === -1) {
    const all = parseGroups(host);
    if (all?.length !== 8) return null;
    groups = all;
  } else {
    const head = parseGroups(host.slice(0, doubleColon));
    const tail = parseGroups(host.slice(doubleColon + 2));
    if (!head || !tail || head.length + tail.length > 7) return null;
    groups = [...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail];
  }
  const bytes: number[] = [];
  for (const g of groups) bytes.push(g >> 8, g & 255);
  return bytes;
}

/** RFC 5952: lowercase, no leading zeros, the longest run (≥ 2) of zero groups as "::". */
function formatV6(bytes: number[]): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(":");
  const head = hex.slice(0, bestStart).join(":");
  const tail = hex.slice(bestStart + bestLen).join(":");
  return `${head}::${tail}`;
}

function prefixMatches(bytes: number[], prefix: number[], bits: number): boolean {
  for (let i = 0; i < bits; i++) {
    const byte = i >> 3;
    const mask = 0x80 >> (i & 7);
    if ((bytes[byte] & mask) !== ((prefix[byte] ?? 0) & mask)) return false;
  }
  return true;
}

function embeddedV4(bytes: number[], offset: number): number {
  return toV4Number(bytes.slice(offset, offset + 4));
}

function classifyV6(b: number[]): string | null {
  const allZeroBefore = (n: number) => b.slice(0, n).every((x) => x === 0);
  if (allZeroBefore(16)) return "unspecified";
  if (allZeroBefore(15) && b[15] === 1) return "loopback";
  // ::ffff:a.b.c.d — the connection goes to the embedded IPv4 address.
  if (allZeroBefore(10) && b[10] === 0xff && b[11] === 0xff) {
    const inner = classifyV4(embeddedV4(b, 12));
    return inner ? `IPv4-mapped ${inner}` : null;
  }
  // ::a.b.c.d (deprecated IPv4-compatible) and ::ffff:0:a.b.c.d (SIIT): never legitimate targets.
  if (allZeroBefore(12)) return "IPv4-compatible";
  if (prefixMatches(b, [0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0], 96)) return "IPv4-translated";
  // 64:ff9b::/96 well-known NAT64: the translator forwards to the embedded IPv4 address.
  if (prefixMatches(b, [0x00, 0x64, 0xff, 0x9b], 96)) {
    const inner = classifyV4(embeddedV4(b, 12));
    return inner ? `NAT64 ${inner}` : null;
  }
  // 64:ff9b:1::/48 local-use NAT64 (RFC 8215) is not globally reachable, whatever it embeds.
  if (prefixMatches(b, [0x00, 0x64, 0xff, 0x9b, 0x00, 0x01], 48)) return "local-use NAT64";
  if (prefixMatches(b, [0x01, 0x00], 64)) return "discard-only";
  if (prefixMatches(b, [0xfc], 7)) return "unique local (private)";
  if (prefixMatches(b, [0xfe, 0x80], 10)) return "link-local";
  if (prefixMatches(b, [0xfe, 0xc0], 10)) return "site-local";
  if (prefixMatches(b, [0xff], 8)) return "multicast";
  // Everything below is inside 2000::/3, the only space IANA hands out as global unicast.
  if (!prefixMatches(b, [0x20], 3)) return "reserved";
  if (prefixMatches(b, [0x20, 0x01, 0x0d, 0xb8], 32)) return "documentation";
  if (prefixMatches(b, [0x20, 0x01, 0x00, 0x00], 32)) return "Teredo";
  // 2001::/23 holds IETF protocol assignments (benchmarking, ORCHID, ...), not ordinary hosts.
  if (prefixMatches(b, [0x20, 0x01, 0x00], 23)) return "reserved (IETF protocol)";
  if (prefixMatches(b, [0x3f, 0xff], 20)) return "documentation";
  if (prefixMatches(b, [0x20, 0x02], 16)) {
    const inner = classifyV4(embeddedV4(b, 2));
    return inner ? `6to4 ${inner}` : null;
  }
  return null;
}
