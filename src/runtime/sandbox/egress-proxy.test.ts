import { request } from "node:http";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestPages, type TestPages } from "../../../test/fakes/sandbox-pages";
import { BLOCKED_HEADER, checkEgress, type EgressProxy, startEgressProxy } from "./egress-proxy";

describe("checkEgress", () => {
  it("refuses private literals in every spelling and names resolving to them", async () => {
    for (const host of ["127.0.0.1", "10.1.2.3", "[::1]", "0x7f000001", "169.254.169.254", "::ffff:127.0.0.1"]) {
      expect((await checkEgress(host, 80)).ok).toBe(false);
    }
    const lookup = async () => ["93.184.215.14", "192.168.1.10"];
    expect(await checkEgress("mixed.example", 80, { lookup })).toEqual({
      ok: false,
      reason: "mixed.example resolves to 192.168.1.10, a private or reserved address",
    });
    expect(await checkEgress("public.example", 443, { lookup: async () => ["93.184.215.14"] })).toEqual({
      ok: true,
      address: "93.184.215.14",
    });
  });

  it("lets allowlisted host:port through, and only that port", async () => {
    expect(await checkEgress("127.0.0.1", 4000, { allowlist: ["127.0.0.1:4000"] })).toEqual({ ok: true, address: "127.0.0.1" });
    expect((await checkEgress("127.0.0.1", 4001, { allowlist: ["127.0.0.1:4000"] })).ok).toBe(false);
  });
});

describe("egress proxy", () => {
  let pages: TestPages;
  let proxy: EgressProxy;
  const refused: string[] = [];

  beforeAll(async () => {
    pages = await startTestPages();
    proxy = await startEgressProxy({ allowlist: [pages.allow], onRefused: (target) => refused.push(target) });
  });
  afterAll(async () => {
    await proxy?.close();
    await pages?.close();
  });

  function viaProxy(url: string): Promise<{ status: number; blocked?: string; body: string }> {
    const { port } = new URL(proxy.url);
    return new Promise((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: Number(port), path: url, headers: { host: new URL(url).host } }, (res) => {
        let body = "";
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, blocked: res.headers[BLOCKED_HEADER] as string | undefined, body }));
      });
      req.on("error", reject);
      req.end();
    });
  }

  function tunnel(target: string): Promise<string> {
    const { port } = new URL(proxy.url);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), "127.0.0.1", () => socket.write(`CONNECT ${target} HTTP/1.1\r\nhost: ${target}\r\n\r\n`));
      socket.once("data", (data) => {
        resolve(data.toString().split("\r\n")[0]);
        socket.destroy();
      });
      socket.on("error", reject);
    });
  }

  it("forwards allowlisted requests and refuses private ones before connecting", async () => {
    const ok = await viaProxy(`${pages.url}/`);
    expect(ok.status).toBe(200);
    expect(ok.body).toContain("OpenPaw test page");
    const blocked = await viaProxy(`${pages.privateUrl}/secret`);
    expect(blocked.status).toBe(403);
    expect(decodeURIComponent(blocked.blocked ?? "")).toContain("private or reserved address");
    expect(pages.privateHits()).toEqual([]);
  });

  it("tunnels CONNECT only to allowed destinations", async () => {
    expect(await tunnel(pages.allow)).toBe("HTTP/1.1 200 Connection Established");
    expect(await tunnel(new URL(pages.privateUrl).host)).toBe("HTTP/1.1 403 Forbidden");
    expect(await tunnel("[::1]:22")).toBe("HTTP/1.1 403 Forbidden");
    expect(refused.length).toBeGreaterThanOrEqual(3);
  });
});
