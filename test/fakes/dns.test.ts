import { promises as dnsPromises } from "node:dns";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeDns, resolverLookup, startFakeDns } from "./dns";

let dns: FakeDns;
let resolver: dnsPromises.Resolver;

beforeAll(async () => {
  dns = await startFakeDns();
  resolver = new dnsPromises.Resolver({ timeout: 300, tries: 1 });
  resolver.setServers([dns.address]);
});

afterAll(async () => {
  await dns.close();
});

describe("startFakeDns", () => {
  it("serves A, AAAA, TXT and CNAME records to node's resolver", async () => {
    dns.setRecord("api.customer.test", "CNAME", ["edge.openpaw.test"]);
    dns.setRecord("edge.openpaw.test", "A", ["203.0.113.7"]);
    dns.setRecord("edge.openpaw.test", "AAAA", ["2001:db8::7", "::ffff:203.0.113.7"]);
    dns.setRecord("_openpaw-verify.customer.test", "TXT", ["openpaw-verify=tok_123"]);
    expect(await resolver.resolveCname("api.customer.test")).toEqual(["edge.openpaw.test"]);
    expect(await resolver.resolve4("api.customer.test")).toEqual(["203.0.113.7"]);
    expect(await resolver.resolve6("edge.openpaw.test")).toEqual(["2001:db8::7", "::ffff:203.0.113.7"]);
    expect(await resolver.resolveTxt("_openpaw-verify.customer.test")).toEqual([["openpaw-verify=tok_123"]]);
  });

  it("answers NXDOMAIN for unknown names and NODATA for missing types", async () => {
    await expect(resolver.resolve4("unknown.test")).rejects.toMatchObject({ code: "ENOTFOUND" });
    await expect(resolver.resolveTxt("edge.openpaw.test")).rejects.toMatchObject({ code: "ENODATA" });
  });

  it("forgets records on clear and can be told never to answer", async () => {
    dns.setRecord("gone.test", "A", ["192.0.2.1"]);
    expect(await resolver.resolve4("gone.test")).toEqual(["192.0.2.1"]);
    dns.clear("gone.test");
    await expect(resolver.resolve4("gone.test")).rejects.toMatchObject({ code: "ENOTFOUND" });

    dns.setHang("slow.test");
    const started = Date.now();
    await expect(resolver.resolve4("slow.test")).rejects.toMatchObject({ code: "ETIMEOUT" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(dns.queries.filter((q) => q.name === "slow.test").length).toBeGreaterThan(0);
  });

  it("gives the fetcher a lookup with every address", async () => {
    const lookup = resolverLookup(dns.address);
    expect(await lookup("edge.openpaw.test")).toEqual([
      { address: "203.0.113.7", family: 4 },
      { address: "2001:db8::7", family: 6 },
      { address: "::ffff:203.0.113.7", family: 6 },
    ]);
    await expect(lookup("unknown.test")).rejects.toMatchObject({ code: "ENOTFOUND" });
  });

  it("also answers over TCP on the same port", async () => {
    const { createConnection } = await import("node:net");
    const dns2 = (await import("dns2")).default;
    const query = new dns2.Packet();
    query.header.id = 4242;
    query.header.rd = 1;
    query.questions.push(new dns2.Packet.Question("edge.openpaw.test", dns2.Packet.TYPE.A, dns2.Packet.CLASS.IN));
    const payload = query.toBuffer();
    const frame = Buffer.concat([Buffer.from([payload.length >> 8, payload.length & 255]), payload]);
    const answer = await new Promise<Buffer>((resolve, reject) => {
      const socket = createConnection(dns.port, "127.0.0.1", () => socket.write(frame));
      let buffered = Buffer.alloc(0);
      socket.on("data", (chunk) => {
        buffered = Buffer.concat([buffered, chunk]);
        if (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
          socket.destroy();
          resolve(buffered.subarray(2, 2 + buffered.readUInt16BE(0)));
        }
      });
      socket.on("error", reject);
    });
    const parsed = dns2.Packet.parse(answer);
    expect(parsed.header.id).toBe(4242);
    expect(parsed.answers.map((a) => (a as { address?: string }).address)).toEqual(["203.0.113.7"]);
  });
});
