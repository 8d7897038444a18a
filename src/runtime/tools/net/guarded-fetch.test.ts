import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeDns, resolverLookup, startFakeDns } from "../../../../test/fakes/dns";
import { type FakeWeb, hugeBody, redirectTo, respond, startFakeWeb, trickle } from "../../../../test/fakes/web";
import { createGuardedFetcher, FetchLimitError, FetchRefusedError, type GuardedFetcher } from "./guarded-fetch";

let dns: FakeDns;
let site: FakeWeb; // allowlisted by address
let named: FakeWeb; // allowlisted by name only
let trap: FakeWeb; // never allowlisted
let fetcher: GuardedFetcher;

beforeAll(async () => {
  dns = await startFakeDns();
  site = await startFakeWeb();
  named = await startFakeWeb();
  trap = await startFakeWeb({ host: "::" });
  dns.setRecord("site.test", "A", ["127.0.0.1"]);
  dns.setRecord("trap.test", "A", ["127.0.0.1"]);
  dns.setRecord("mixed.test", "A", ["93.184.216.34", "127.0.0.1"]);
  dns.setRecord("mapped.test", "AAAA", ["::ffff:127.0.0.1"]);
  dns.setRecord("alias.test", "CNAME", ["trap.test"]);
  fetcher = createGuardedFetcher({
    allowlist: [`127.0.0.1:${site.port}`, `site.test:${named.port}`],
    lookup: resolverLookup(dns.address),
    timeoutMs: 1500,
    maxBytes: 64 * 1024,
    maxRedirects: 3,
  });

  site.route("/hello", respond("hello there", "text/plain; charset=utf-8"));
  site.route("/echo", async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    res.writeHead(200, { "content-type": "application/json" }).end(
      JSON.stringify({
        method: req.method,
        body: Buffer.concat(chunks).toString("utf8"),
        authorization: req.headers.authorization ?? null,
        userAgent: req.headers["user-agent"],
      }),
    );
  });
  site.route("/post-303", redirectTo("/echo", 303));
  site.route("/post-307", redirectTo("/echo", 307));
  site.route("/to-named", redirectTo(`http://site.test:${named.port}/auth`, 302));
  named.route("/auth", (req, res) => {
    res.writeHead(200, { "content-type": "text/plain" }).end(`auth=${req.headers.authorization ?? "none"}`);
  });
  site.route("/hop1", redirectTo("/hop2"));
  site.route("/hop2", redirectTo("/hop3"));
  site.route("/hop3", redirectTo("/hello"));
  site.route("/loop", redirectTo("/loop"));
  site.route("/to-trap", redirectTo(`http://127.0.0.1:${trap.port}/`));
  site.route("/to-trap-name", redirectTo(`http://trap.test:${trap.port}/`));
  site.route("/to-file", redirectTo("file:///etc/passwd"));
  site.route("/big", hugeBody(1024 * 1024));
  site.route("/big-declared", hugeBody(1024 * 1024, { declareLength: true }));
  site.route("/slow", trickle(100));
});

afterAll(async () => {
  await fetcher.close();
  await Promise.all([site.close(), named.close(), trap.close(), dns.close()]);
});

async function refusal(promise: Promise<unknown>): Promise<FetchRefusedError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FetchRefusedError);
  return error as FetchRefusedError;
}

describe("createGuardedFetcher", () => {
  it("reads an allowlisted page and sends a User-Agent", async () => {
    const response = await fetcher.request(`${site.origin}/echo`);
    expect(response.status).toBe(200);
    expect(JSON.parse(new TextDecoder().decode(response.body))).toMatchObject({ method: "GET", userAgent: /OpenPaw/ });
    expect(response.truncated).toBe(false);
  });

  it("refuses names resolving to private addresses at connect time, CNAMEs and mixed answers included", async () => {
    const before = trap.connections;
    for (const host of ["trap.test", "alias.test", "mixed.test", "mapped.test"]) {
      const error = await refusal(fetcher.request(`http://${host}:${trap.port}/`));
      expect(error.message).toMatch(/^Refused: .*(127\.0\.0\.1|::ffff:127\.0\.0\.1) is a.*loopback address.*resolves to it/);
    }
    expect(trap.connections).toBe(before);
    // The lookup really happened (the check is on resolved addresses, not on the name).
    expect(dns.queries.some((q) => q.name === "alias.test")).toBe(true);
  });

  it("lets a name through only on its allowlisted port", async () => {
    const ok = await fetcher.request(`http://site.test:${named.port}/auth`);
    expect(new TextDecoder().decode(ok.body)).toBe("auth=none");
    await refusal(fetcher.request(`http://site.test:${trap.port}/`));
  });

  it("follows redirects up to the limit and re-checks every hop", async () => {
    const ok = await fetcher.request(`${site.origin}/hop1`);
    expect(ok.url).toBe(`${site.origin}/hello`);
    expect(ok.redirects).toEqual([`${site.origin}/hop1`, `${site.origin}/hop2`, `${site.origin}/hop3`]);

    expect((await refusal(fetcher.request(`${site.origin}/loop`))).message).toMatch(/more than 3 redirects/);
    expect((await refusal(fetcher.request(`${site.origin}/to-trap`))).message).toMatch(/127\.0\.0\.1 is a loopback/);
    await refusal(fetcher.request(`${site.origin}/to-trap-name`));
    expect((await refusal(fetcher.request(`${site.origin}/to-file`))).message).toMatch(/only http and https/);
    expect(trap.connections).toBe(0);
  });

  it("turns POST into GET on 303, replays the body on 307, and drops credentials across origins", async () => {
    const seeOther = await fetcher.request(`${site.origin}/post-303`, { method: "POST", body: "x=1" });
    expect(JSON.parse(new TextDecoder().decode(seeOther.body))).toMatchObject({ method: "GET", body: "" });
    const temporary = await fetcher.request(`${site.origin}/post-307`, {
      method: "POST",
      body: "x=1",
      headers: { authorization: "Bearer same-origin" },
    });
    expect(JSON.parse(new TextDecoder().decode(temporary.body))).toMatchObject({
      method: "POST",
      body: "x=1",
      authorization: "Bearer same-origin",
    });
    const crossed = await fetcher.request(`${site.origin}/to-named`, { headers: { authorization: "Bearer secret" } });
    expect(new TextDecoder().decode(crossed.body)).toBe("auth=none");
  });

  it("refuses bodies over the cap, or cuts them when asked", async () => {
    const error = await fetcher.request(`${site.origin}/big`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FetchLimitError);
    expect((error as FetchLimitError).limit).toBe("size");
    const declared = await fetcher.request(`${site.origin}/big-declared`).catch((e: unknown) => e);
    expect((declared as Error).message).toMatch(/1048576 bytes, over the 65536-byte limit/);
    const cut = await fetcher.request(`${site.origin}/big`, { onOversize: "truncate" });
    expect(cut.body.byteLength).toBe(64 * 1024);
    expect(cut.truncated).toBe(true);
  });

  it("gives up at the deadline, and when the caller aborts", async () => {
    const started = Date.now();
    const error = await fetcher.request(`${site.origin}/slow`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FetchLimitError);
    expect((error as Error).message).toBe("Timed out after 1500 ms");
    expect(Date.now() - started).toBeLessThan(3000);

    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("run cancelled")), 100);
    await expect(fetcher.request(`${site.origin}/slow`, { signal: controller.signal })).rejects.toThrow("run cancelled");
  });

  it("refuses credentials in URLs and non-http schemes", async () => {
    expect((await refusal(fetcher.request(`http://user:pw@127.0.0.1:${site.port}/hello`))).message).toMatch(/credentials/);
    expect((await refusal(fetcher.request("ftp://example.com/"))).message).toMatch(/not ftp:/);
    expect((await refusal(fetcher.request("not a url"))).message).toMatch(/not a valid absolute URL/);
  });

  it("reports unknown names plainly", async () => {
    await expect(fetcher.request("http://nowhere.test/")).rejects.toThrow("Could not resolve host nowhere.test");
  });
});

describe("fetcher.fetch (fetch-compatible)", () => {
  it("returns a web Response with the final URL", async () => {
    const response = await fetcher.fetch(`${site.origin}/hop3`);
    expect(response).toBeInstanceOf(Response);
    expect(response.status).toBe(200);
    expect(response.url).toBe(`${site.origin}/hello`);
    expect(response.redirected).toBe(true);
    expect(await response.text()).toBe("hello there");
  });

  it("sends Request objects with their method, headers and body", async () => {
    const response = await fetcher.fetch(
      new Request(`${site.origin}/echo`, { method: "POST", body: '{"a":1}', headers: { authorization: "Bearer t" } }),
    );
    expect(await response.json()).toMatchObject({ method: "POST", body: '{"a":1}', authorization: "Bearer t" });
  });

  it("applies the same guards", async () => {
    await refusal(fetcher.fetch(`http://[::ffff:7f00:1]:${trap.port}/`));
    await refusal(fetcher.fetch(`http://trap.test:${trap.port}/`));
    await refusal(fetcher.fetch(`http://a:b@127.0.0.1:${site.port}/`));
    const big = await fetcher.fetch(`${site.origin}/big`);
    await expect(big.arrayBuffer()).rejects.toThrow(/exceeds the 65536-byte limit/);
    const slow = await fetcher.fetch(`${site.origin}/slow`);
    await expect(slow.text()).rejects.toThrow("Timed out after 1500 ms");
    expect(trap.connections).toBe(0);
  });

  it("control: an allowlisted trap does count connections", async () => {
    const open = createGuardedFetcher({ allowlist: [`127.0.0.1:${trap.port}`] });
    try {
      const response = await open.request(`http://127.0.0.1:${trap.port}/`);
      expect(response.status).toBe(404);
      expect(trap.connections).toBeGreaterThan(0);
    } finally {
      await open.close();
    }
  });
});
