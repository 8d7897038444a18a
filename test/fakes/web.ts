/**
 * Local web servers for network-tool tests: pages, redirects, slow and endless responses, and a
 * connection counter, so a test can prove that a refused URL never reached the listener.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface FakeWeb {
  port: number;
  /** "http://127.0.0.1:<port>" (or the bracketed host it listens on). */
  origin: string;
  /** TCP connections accepted so far. */
  readonly connections: number;
  /** Requests received, in order. */
  requests: Array<{ method: string; url: string; headers: IncomingMessage["headers"] }>;
  route(path: string, handler: RouteHandler): void;
  close(): Promise<void>;
}

/**
 * Starts an HTTP server on `host` (default 127.0.0.1; "::" listens dual-stack, which catches
 * connections to 127.0.0.1, ::1, ::ffff:127.0.0.1 and 0.0.0.0 alike). Unknown paths answer 404.
 */
export async function startFakeWeb(options: { host?: string } = {}): Promise<FakeWeb> {
  const host = options.host ?? "127.0.0.1";
  const routes = new Map<string, RouteHandler>();
  const requests: FakeWeb["requests"] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? "GET", url: req.url ?? "/", headers: req.headers });
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const handler = routes.get(path);
    if (!handler) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    Promise.resolve(handler(req, res)).catch(() => res.destroy());
  });
  server.on("connection", (socket) => {
    connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  const shownHost = host.includes(":") ? (host === "::" ? "127.0.0.1" : `[${host}]`) : host;
  return {
    port,
    origin: `http://${shownHost}:${port}`,
    get connections() {
      return connections;
    },
    requests,
    route(path, handler) {
      routes.set(path, handler);
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Answers with a fixed body and content type. */
export function respond(body: string | Uint8Array, contentType: string, status = 200): RouteHandler {
  return (_req, res) => {
    res.writeHead(status, { "content-type": contentType }).end(body);
  };
}

/** Answers with a redirect. */
export function redirectTo(location: string, status = 302): RouteHandler {
  return (_req, res) => {
    res.writeHead(status, { location }).end();
  };
}

/** Sends headers, then trickles one byte every `intervalMs` without ever finishing. */
export function trickle(intervalMs = 200): RouteHandler {
  return (_req, res) => {
    res.writeHead(200, { "content-type": "text/plain" });
    const timer = setInterval(() => res.write("."), intervalMs);
    res.on("close", () => clearInterval(timer));
  };
}

/** Never answers at all: not even headers. */
export function hang(): RouteHandler {
  return () => {};
}

/**
 * Streams `totalBytes` of text in 64 KiB chunks; `declareLength` sets Content-Length up front
 * (without it the body is chunked, so only counting the bytes can catch it). `sent.last` is how
 * many bytes the latest request got written before the client went away; `sent.total` sums all.
 */
export function hugeBody(
  totalBytes: number,
  options: { declareLength?: boolean; contentType?: string } = {},
): RouteHandler & { sent: { last: number; total: number } } {
  const sent = { last: 0, total: 0 };
  const handler: RouteHandler = (_req, res) => {
    const headers: Record<string, string | number> = { "content-type": options.contentType ?? "text/plain" };
    if (options.declareLength) headers["content-length"] = totalBytes;
    res.writeHead(200, headers);
    const chunk = Buffer.alloc(64 * 1024, "a");
    let written = 0;
    sent.last = 0;
    const writeMore = () => {
      while (written < totalBytes && !res.destroyed) {
        const size = Math.min(chunk.length, totalBytes - written);
        written += size;
        sent.last = written;
        sent.total += size;
        if (!res.write(chunk.subarray(0, size))) {
          res.once("drain", writeMore);
          return;
        }
      }
      if (!res.destroyed) res.end();
    };
    writeMore();
  };
  return Object.assign(handler, { sent });
}
