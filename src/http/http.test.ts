import { Agent, request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, createHarness } from "../../test/helpers/harness";
import { SONNET } from "../../test/security/support";

describe("gateway basics", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness({ OPENPAW_MAX_BODY_BYTES: "65536" });
  });
  afterAll(() => h.close());

  it("answers /healthz and /readyz without auth, with a request id", async () => {
    const health = await h.request("GET", "/healthz");
    expect(health.status).toBe(200);
    expect(health.headers.get("x-request-id")).toMatch(/^req_[0-9A-Za-z]{20}$/);
    expect((await h.request("GET", "/readyz")).body).toEqual({ status: "ready" });
  });

  it("unknown routes get a 404 envelope, never HTML", async () => {
    const res = await h.request("GET", "/v1/nothing-here");
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toMatch(/application\/json/);
    expect(res.body.error).toMatchObject({ type: "not_found_error" });
    expect(res.body.error.requestId).toBe(res.headers.get("x-request-id"));
  });

  it("refuses bodies over the limit with 413", async () => {
    const big = JSON.stringify({ email: "a@b.co", password: "x".repeat(70_000) });
    const res = await h.request("POST", "/v1/auth/signup", { raw: big, headers: { "content-type": "application/json" } });
    expect(res.status).toBe(413);
    expect(res.body.error.type).toBe("request_too_large_error");
  });

  it("serves OpenAPI 3.1 generated from the validating schemas, and offline docs", async () => {
    const doc = await h.request("GET", "/openapi.json");
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe("3.1.0");
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(["/v1/auth/signup", "/v1/orgs/{orgId}/api-keys", "/v1/orgs/{orgId}/members/{userId}"]),
    );
    const signup = doc.body.paths["/v1/auth/signup"].post.requestBody.content["application/json"].schema;
    expect(JSON.stringify(signup)).toContain("SignupRequest");
    const docs = await h.request("GET", "/docs");
    expect(docs.status).toBe(200);
    // Swagger UI, vendored and served by the gateway itself (no CDN), under the dashboard's strict CSP.
    expect(docs.headers.get("content-security-policy")).toContain("script-src 'self'");
    const scripts = [...docs.text.matchAll(/<script[^>]*src="([^"]+)"/g)].map((m) => m[1]);
    expect(scripts.some((src) => src.startsWith("/assets/swagger-ui-bundle.js"))).toBe(true);
    expect(scripts.every((src) => src.startsWith("/assets/"))).toBe(true);
    expect(docs.text).not.toMatch(/<script>|<style>|https?:\/\/(cdn|unpkg)/);
    // Without JavaScript the operations are listed in the page.
    expect(docs.text).toContain("/v1/orgs/{orgId}/api-keys");
    for (const src of scripts) expect((await h.request("GET", src)).status).toBe(200);
  });

  it("turns a thrown bug into a generic 500 envelope, logged with the request id", async () => {
    const app = (await import("../app")).createApp(h.services);
    app.get("/boom", () => {
      throw new Error("secret internal detail");
    });
    const res = await app.request("/boom");
    const body = (await res.json()) as { error: { type: string; message: string; requestId: string } };
    expect(res.status).toBe(500);
    expect(body.error.type).toBe("api_error");
    expect(body.error.message).not.toContain("secret internal detail");
    expect(h.logs.some((l) => l.includes(body.error.requestId) && l.includes("secret internal detail"))).toBe(true);
  });

  it("serves over real HTTP and stops accepting after a graceful stop", async () => {
    const server = await h.listen();
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    await server.stop();
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });
});

describe("oversized bodies over a kept-alive connection", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness({ OPENPAW_MAX_BODY_BYTES: "2097152", OPENPAW_MAX_UPLOAD_BYTES: "100000", OPENPAW_DEFAULT_PLAN: "pro" });
  });
  afterAll(() => h.close());

  /** One request on `agent`; resolves with the status and headers (body drained), whatever the socket does after. */
  function send(agent: Agent, url: string, method: string, headers: Record<string, string>, body?: Buffer) {
    return new Promise<{ status: number; headers: Record<string, unknown>; socket: unknown }>((resolve, reject) => {
      const req = httpRequest(
        url,
        { method, agent, headers: body ? { ...headers, "content-length": String(body.length) } : headers },
        (res) => {
          res.resume();
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, socket: req.socket }));
        },
      );
      // The server may stop reading an oversized body; the answer has arrived by then.
      req.on("error", (error) => (req.socket && (req as { res?: unknown }).res ? undefined : reject(error)));
      req.end(body);
    });
  }

  it("counts a chunked body as it arrives (it has no Content-Length): over the limit 413, within it parsed as usual", async () => {
    const server = await h.listen();
    const account = await h.signup();
    const { key } = await h.createKey(account);
    const chunked = (body: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest(
          `${server.url}/v1/orgs/${account.orgId}/agents`,
          { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json", "transfer-encoding": "chunked" } },
          (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode ?? 0));
          },
        );
        req.on("error", (error) => ((req as { res?: unknown }).res ? undefined : reject(error)));
        const half = Math.floor(body.length / 2);
        req.write(body.slice(0, half));
        req.end(body.slice(half));
      });
    const agent = (systemPrompt: string) => JSON.stringify({ name: "Chunked", systemPrompt, model: SONNET, enabledTools: [] });
    expect(await chunked(agent("x".repeat(2_200_000)))).toBe(413);
    expect(await chunked(agent("Be brief."))).toBe(201);
  });

  it("answers before reading a large body with Connection: close, so the client's next request on the agent succeeds", async () => {
    const server = await h.listen();
    const account = await h.signup();
    const { key } = await h.createKey(account);
    const json = { "content-type": "application/json" };
    const cases: Array<[number, string, string, Record<string, string>, Buffer]> = [
      [413, "POST", "/v1/auth/signup", json, Buffer.from(JSON.stringify({ email: "a@b.co", password: "x".repeat(3_000_000) }))],
      [
        413,
        "PUT",
        `/v1/orgs/${account.orgId}/files/content?path=big.bin`,
        { authorization: `Bearer ${key}`, "content-type": "application/octet-stream" },
        Buffer.alloc(300_000, 1),
      ],
      // The dashboard's upload form has its own error page; the same rule holds there.
      [
        413,
        "POST",
        `/orgs/${account.orgId}/files`,
        { cookie: account.cookie, "content-type": "multipart/form-data; boundary=b" },
        Buffer.alloc(300_000, 1),
      ],
      // A GET's body is never passed to the app (the body limit skips GET): answered as usual.
      [200, "GET", `/v1/orgs/${account.orgId}/agents`, { authorization: `Bearer ${key}`, ...json }, Buffer.alloc(3_000_000, 32)],
      // Bodies within the limit that an answer never reads: unauthenticated, no route, cross-site.
      [401, "POST", `/v1/orgs/${account.orgId}/agents`, json, Buffer.alloc(1_500_000, 32)],
      [404, "POST", "/v1/nothing-here", json, Buffer.alloc(1_500_000, 32)],
      [
        403,
        "POST",
        `/v1/orgs/${account.orgId}/agents`,
        { ...json, cookie: account.cookie, origin: "https://evil.example" },
        Buffer.alloc(1_500_000, 32),
      ],
    ];
    for (const [status, method, path, headers, body] of cases) {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const warm = await send(agent, `${server.url}/healthz`, "GET", {});
        expect(warm.status).toBe(200);
        const big = await send(agent, `${server.url}${path}`, method, headers, body);
        expect(big.status).toBe(status);
        if (status === 413) expect(big.headers.connection).toBe("close");
        const next = await send(agent, `${server.url}/healthz`, "GET", {});
        expect(next.status).toBe(200);
      } finally {
        agent.destroy();
      }
    }
  });
});
