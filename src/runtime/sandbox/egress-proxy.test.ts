import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

describe("egress proxy on a unix socket, with credentials", () => {
  let pages: TestPages;
  let proxy: EgressProxy;
  let dir: string;
  const credentials = { username: "browser", password: "s3cret-of-this-browser" };
  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

  beforeAll(async () => {
    pages = await startTestPages();
    dir = mkdtempSync(join(tmpdir(), "openpaw-egress-"));
    proxy = await startEgressProxy({ allowlist: [pages.allow], socketPath: join(dir, "egress.sock"), credentials });
  });
  afterAll(async () => {
    await proxy?.close();
    await pages?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function get(authorization?: string): Promise<{ status: number; challenge?: string }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { host: pages.allow, ...(authorization ? { "proxy-authorization": authorization } : {}) };
      const req = request({ socketPath: join(dir, "egress.sock"), path: `${pages.url}/`, headers }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, challenge: res.headers["proxy-authenticate"] as string | undefined });
      });
      req.on("error", reject);
      req.end();
    });
  }

  function tunnel(authorization?: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(join(dir, "egress.sock"), () =>
        socket.write(
          `CONNECT ${pages.allow} HTTP/1.1\r\nhost: ${pages.allow}\r\n${authorization ? `proxy-authorization: ${authorization}\r\n` : ""}\r\n`,
        ),
      );
      socket.once("data", (data) => {
        resolve(data.toString().split("\r\n")[0]);
        socket.destroy();
      });
      socket.on("error", reject);
    });
  }

  it("answers 407 with a Basic challenge without this browser's credentials, and forwards with them", async () => {
    expect(await get()).toEqual({ status: 407, challenge: 'Basic realm="openpaw-egress"' });
    expect((await get(basic("browser", "another-browsers-password"))).status).toBe(407);
    expect((await get(basic(credentials.username, credentials.password))).status).toBe(200);
    expect(proxy.url).toBe(`unix:${join(dir, "egress.sock")}`);
  });

  it("refuses a CONNECT tunnel without them", async () => {
    expect(await tunnel()).toBe("HTTP/1.1 407 Proxy Authentication Required");
    expect(await tunnel(basic(credentials.username, credentials.password))).toBe("HTTP/1.1 200 Connection Established");
  });

  it("removes its socket when closed", async () => {
    const other = await startEgressProxy({ socketPath: join(dir, "other.sock"), credentials });
    expect(existsSync(join(dir, "other.sock"))).toBe(true);
    await other.close();
    expect(existsSync(join(dir, "other.sock"))).toBe(false);
  });
});
