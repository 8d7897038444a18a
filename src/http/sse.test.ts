import { connect } from "node:net";
import type { AddressInfo } from "node:net";
import { type ServerType, serve } from "@hono/node-server";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sseResponse } from "./sse";

/** The raw HTTP response of GET `path`, split into its chunked-encoding chunks (one per write to the socket's response). */
function rawChunks(port: number, path: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    let raw = "";
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => {
      raw += d;
    });
    socket.on("error", reject);
    socket.on("end", () => {
      let body = raw.slice(raw.indexOf("\r\n\r\n") + 4);
      const chunks: string[] = [];
      for (;;) {
        const eol = body.indexOf("\r\n");
        const size = Number.parseInt(body.slice(0, eol), 16);
        if (!size) break;
        chunks.push(body.slice(eol + 2, eol + 2 + size));
        body = body.slice(eol + 2 + size + 2);
      }
      resolve(chunks);
    });
  });
}

describe("the SSE writer", () => {
  let server: ServerType;
  let port: number;
  beforeAll(async () => {
    const app = new Hono();
    app.get("/burst", (c) =>
      sseResponse(c, { pingMs: 60_000 }, async (sse) => {
        for (let i = 0; i < 50; i++) sse.send({ id: i, event: "text", data: { text: `delta ${i}` } });
        await new Promise((r) => setTimeout(r, 30));
        sse.send({ id: 50, event: "done", data: {} });
      }),
    );
    server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
    await new Promise((r) => server.once("listening", r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("writes what one turn of the event loop sends as one chunk, in order, and what comes later after it", async () => {
    const chunks = await rawChunks(port, "/burst");
    // Headers may be flushed with an empty first write; what carries events are two chunks.
    const withEvents = chunks.filter((c) => c.includes("event:"));
    expect(withEvents).toHaveLength(2);
    const ids = withEvents.join("").match(/^id: \d+$/gm);
    expect(ids).toEqual(Array.from({ length: 51 }, (_, i) => `id: ${i}`));
    expect(withEvents[1]).toBe("event: done\ndata: {}\nid: 50\n\n");
  });
});
