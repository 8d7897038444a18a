import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLeanFetch } from "./lean-fetch";

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;
const routes = new Map<string, Handler>();
const server = createServer((req, res) => {
  let body = "";
  req.on("data", (d) => {
    body += d;
  });
  req.on("end", () => (routes.get(req.url ?? "") ?? ((_, r) => r.writeHead(404).end()))(req, res, body));
});
let base = "";
const leanFetch = createLeanFetch();

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  routes.set("/echo", (req, res, body) => {
    res.writeHead(201, { "content-type": "application/json", "x-multi": ["a", "b"] });
    res.end(JSON.stringify({ method: req.method, body, auth: req.headers["x-api-key"], length: req.headers["content-length"] }));
  });
  routes.set("/moved", (_req, res) => res.writeHead(307, { location: "/echo" }).end());
  routes.set("/empty", (_req, res) => res.writeHead(204).end());
  routes.set("/slow", (_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write("data: first\n\n");
    // Never ends by itself: the client aborts.
  });
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

describe("lean fetch (the model SDKs' fetch)", () => {
  it("sends method, headers and a JSON body, and answers status, headers and body like fetch", async () => {
    const headers = new Headers({ "content-type": "application/json", "x-api-key": "k1" });
    const res = await leanFetch(`${base}/echo`, { method: "post", headers, body: JSON.stringify({ a: 1 }) });
    expect(res.status).toBe(201);
    expect(res.ok).toBe(true);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.headers.get("x-multi")).toBe("a, b");
    expect(await res.json()).toEqual({ method: "POST", body: '{"a":1}', auth: "k1", length: "7" });
  });

  it("follows redirects, and a 204 has no body", async () => {
    const moved = await leanFetch(new URL(`${base}/moved`), { method: "POST", body: "x", headers: { "x-api-key": "k2" } });
    expect(moved.status).toBe(201);
    expect((await moved.json()).body).toBe("x");
    const empty = await leanFetch(`${base}/empty`);
    expect(empty.status).toBe(204);
    expect(empty.body).toBeNull();
  });

  it("an abort rejects with an AbortError before the answer, and errors the body mid-stream", async () => {
    const before = new AbortController();
    before.abort();
    await expect(leanFetch(`${base}/echo`, { signal: before.signal })).rejects.toMatchObject({ name: "AbortError" });

    const during = new AbortController();
    const res = await leanFetch(`${base}/slow`, { signal: during.signal });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("data: first\n\n");
    const next = reader.read();
    during.abort();
    await expect(next).rejects.toMatchObject({ name: "AbortError" });
  });

  it("a server that is not there rejects (the SDKs report a connection error)", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    await expect(leanFetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
  });

  it("hands bodies it does not stream itself (FormData) to the platform's fetch", async () => {
    const form = new FormData();
    form.set("field", "value");
    const res = await leanFetch(`${base}/echo`, { method: "POST", body: form });
    expect((await res.json()).body).toContain('name="field"');
  });
});
