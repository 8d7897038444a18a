/**
 * A real DNS server on 127.0.0.1 (UDP and TCP on the same port) for tests, built on dns2.
 *
 * Records are set per name and type; a CNAME is followed the way a recursive resolver would
 * (the answer carries the CNAME and the target's records). Unknown names get NXDOMAIN, known
 * names without the asked type get an empty NOERROR (NODATA), and names marked with
 * `setHang` never get an answer, for timeout tests. Use it with node's
 * `dns.promises.Resolver#setServers([address])`, or through `resolverLookup` below.
 */
import { promises as dnsPromises } from "node:dns";
import dns2, { type DnsHandler, type TCPServer, type UDPServer } from "dns2";

const { Packet } = dns2;

/** RFC 1035 §4.1.1; dns2 has it at runtime but not in its typings. */
const RCODE_NXDOMAIN = 3;

export type FakeRecordType = "A" | "AAAA" | "TXT" | "CNAME";

export interface FakeDns {
  port: number;
  /** "127.0.0.1:<port>", the form `Resolver#setServers` takes. */
  address: string;
  setRecord(name: string, type: FakeRecordType, values: string[]): void;
  /** Forget one name's records (or all of them), including hang marks. */
  clear(name?: string): void;
  /** Never answer queries for this name. */
  setHang(name: string): void;
  /** Names asked for so far, lowercase, in order (one entry per query). */
  queries: Array<{ name: string; type: string }>;
  close(): Promise<void>;
}

const TYPE_NAMES: Record<number, string> = {
  [Packet.TYPE.A]: "A",
  [Packet.TYPE.AAAA]: "AAAA",
  [Packet.TYPE.TXT]: "TXT",
  [Packet.TYPE.CNAME]: "CNAME",
};

function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}

/** dns2's AAAA encoder cannot expand "::" next to an embedded quad; hand it eight full groups. */
function expandV6(address: string): string {
  let text = address;
  const quad = text.match(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number);
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const headGroups = head ? head.split(":") : [];
  const tailGroups = tail === undefined ? [] : tail ? tail.split(":") : [];
  const fill = tail === undefined ? [] : new Array(8 - headGroups.length - tailGroups.length).fill("0");
  return [...headGroups, ...fill, ...tailGroups].map((g) => g.padStart(4, "0")).join(":");
}

/** Starts the server on an ephemeral port of 127.0.0.1. */
export async function startFakeDns(): Promise<FakeDns> {
  const records = new Map<string, Map<FakeRecordType, string[]>>();
  const hanging = new Set<string>();
  const queries: Array<{ name: string; type: string }> = [];

  const answersFor = (name: string, type: FakeRecordType, depth = 0): unknown[] | null => {
    const entry = records.get(name);
    if (!entry) return null;
    const values = entry.get(type);
    if (values) return values.map((value) => resource(name, type, value));
    const cname = entry.get("CNAME");
    if (cname && cname.length > 0 && depth < 8) {
      const target = normalizeName(cname[0]);
      return [resource(name, "CNAME", target), ...(answersFor(target, type, depth + 1) ?? [])];
    }
    return [];
  };

  const handle: DnsHandler = (request, send) => {
    const question = request.questions[0];
    if (!question) return;
    const name = normalizeName(question.name);
    const type = TYPE_NAMES[question.type] as FakeRecordType | undefined;
    queries.push({ name, type: type ?? String(question.type) });
    if (hanging.has(name)) return;
    const response = Packet.createResponseFromRequest(request);
    response.header.aa = 1;
    const answers = type ? answersFor(name, type) : records.has(name) ? [] : null;
    if (answers === null) response.header.rcode = RCODE_NXDOMAIN;
    else response.answers.push(...(answers as typeof response.answers));
    send(response).catch(() => {
      // The asking socket may be gone already (a timed-out client); nothing to do.
    });
  };

  const { udp, tcp } = await bindSamePort(handle);
  const port = udp.address().port;
  return {
    port,
    address: `127.0.0.1:${port}`,
    queries,
    setRecord(name, type, values) {
      const key = normalizeName(name);
      const entry = records.get(key) ?? new Map<FakeRecordType, string[]>();
      entry.set(type, [...values]);
      records.set(key, entry);
    },
    clear(name) {
      if (name === undefined) {
        records.clear();
        hanging.clear();
      } else {
        records.delete(normalizeName(name));
        hanging.delete(normalizeName(name));
      }
    },
    setHang(name) {
      hanging.add(normalizeName(name));
    },
    async close() {
      await Promise.all([
        new Promise<void>((resolve) => udp.close(() => resolve())),
        new Promise<void>((resolve) => {
          tcp.close(() => resolve());
          // Resolvers keep TCP connections open for pipelining; do not wait for their idle timeout.
          for (const socket of tcpSockets.get(tcp) ?? []) socket.destroy();
        }),
      ]);
    },
  };
}

const tcpSockets = new WeakMap<object, Set<import("node:net").Socket>>();

/** UDP gets an ephemeral port first; TCP then takes the same number, retrying if it is taken. */
async function bindSamePort(handle: DnsHandler): Promise<{ udp: UDPServer; tcp: TCPServer }> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const udp = dns2.createUDPServer(handle);
    udp.on("requestError", () => {
      // A malformed query from a test is no reason to crash the run.
    });
    await udp.listen(0, "127.0.0.1");
    const tcp = dns2.createTCPServer(handle);
    tcp.on("requestError", () => {});
    const sockets = new Set<import("node:net").Socket>();
    tcpSockets.set(tcp, sockets);
    tcp.on("connection", (socket: import("node:net").Socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    const ok = await new Promise<boolean>((resolve) => {
      const onError = () => resolve(false);
      tcp.once("error", onError);
      tcp.listen(udp.address().port, "127.0.0.1", () => {
        tcp.off("error", onError);
        resolve(true);
      });
    });
    if (ok) return { udp, tcp };
    await new Promise<void>((resolve) => udp.close(() => resolve()));
  }
  throw new Error("fake DNS: could not bind UDP and TCP on one port");
}

function resource(name: string, type: FakeRecordType, value: string): unknown {
  const base = { name, type: Packet.TYPE[type], class: Packet.CLASS.IN, ttl: 1 };
  switch (type) {
    case "A":
      return { ...base, address: value };
    case "AAAA":
      return { ...base, address: expandV6(value) };
    case "TXT":
      return { ...base, data: [value] };
    case "CNAME":
      return { ...base, domain: normalizeName(value) };
  }
}

/**
 * A lookup for the guarded fetcher that asks the given DNS server (A and AAAA), the way
 * `dns.lookup` would ask the system resolver. Fails with ENOTFOUND when neither type resolves.
 */
export function resolverLookup(
  server: string,
  options: { timeoutMs?: number } = {},
): (hostname: string) => Promise<Array<{ address: string; family: 4 | 6 }>> {
  const resolver = new dnsPromises.Resolver({ timeout: options.timeoutMs ?? 500, tries: 1 });
  resolver.setServers([server]);
  return async (hostname) => {
    const [v4, v6] = await Promise.allSettled([resolver.resolve4(hostname), resolver.resolve6(hostname)]);
    const out: Array<{ address: string; family: 4 | 6 }> = [];
    if (v4.status === "fulfilled") for (const address of v4.value) out.push({ address, family: 4 });
    if (v6.status === "fulfilled") for (const address of v6.value) out.push({ address, family: 6 });
    if (out.length > 0) return out;
    const reason = v4.status === "rejected" ? v4.reason : v6.status === "rejected" ? v6.reason : null;
    const code = (reason as NodeJS.ErrnoException | null)?.code ?? "ENOTFOUND";
    throw Object.assign(new Error(`getaddrinfo ${code} ${hostname}`), { code, hostname });
  };
}
