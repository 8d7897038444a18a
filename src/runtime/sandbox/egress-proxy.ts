import { timingSafeEqual } from "node:crypto";
import { lookup as dnsLookup } from "node:dns/promises";
import { rm } from "node:fs/promises";
import { type IncomingMessage, type ServerResponse, createServer, request as httpRequest } from "node:http";
import { type Socket, connect } from "node:net";
import { isForbiddenAddress, parseHostAddress } from "../tools/net/address-policy";

export interface EgressPolicyOptions {
  /** `host` or `host:port` entries exempt from the address check (OPENPAW_FETCH_ALLOWLIST; tests). */
  allowlist?: string[];
  /** Resolver; the system's by default. Every address it returns must be allowed. */
  lookup?: (host: string) => Promise<string[]>;
}

export type EgressDecision = { ok: true; address: string } | { ok: false; reason: string };

/**
 * Decides whether a connection to host:port may be made, and to which address. The answer
 * pins the address: the caller connects to `address`, never to the name, so a DNS answer that
 * changes between check and connect (rebinding) cannot reach a private address.
 */
export async function checkEgress(host: string, port: number, options: EgressPolicyOptions = {}): Promise<EgressDecision> {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  const allowed = (options.allowlist ?? []).some((entry) => {
    const item = entry.trim().toLowerCase();
    return item === bare || item === `${bare}:${port}` || item === `[${bare}]:${port}`;
  });
  const literal = parseHostAddress(bare);
  let addresses: string[];
  if (literal) {
    addresses = [literal];
  } else {
    try {
      addresses = await (options.lookup ?? systemLookup)(bare);
    } catch (error) {
      return { ok: false, reason: `cannot resolve ${bare}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` };
    }
    if (addresses.length === 0) return { ok: false, reason: `cannot resolve ${bare}` };
  }
  if (!allowed) {
    const forbidden = addresses.find((address) => isForbiddenAddress(address));
    if (forbidden) return { ok: false, reason: `${bare} resolves to ${forbidden}, a private or reserved address` };
  }
  return { ok: true, address: addresses[0] };
}

async function systemLookup(host: string): Promise<string[]> {
  return (await dnsLookup(host, { all: true, verbatim: true })).map((entry) => entry.address);
}

/** A running egress proxy: `url` is `http://127.0.0.1:<port>`, or `unix:<path>` for a socket. */
export interface EgressProxy {
  url: string;
  close(): Promise<void>;
}

export interface EgressProxyOptions extends EgressPolicyOptions {
  onRefused?: (target: string, reason: string) => void;
  /** Listen on this unix socket instead of a port of 127.0.0.1: a browser sandbox's only way out. */
  socketPath?: string;
  /** Basic credentials every request must carry in Proxy-Authorization (one pair per browser). */
  credentials?: { username: string; password: string };
}

const PROXY_REALM = 'Basic realm="openpaw-egress"';

/** Set on the proxy's own refusals, so the browser tool can tell them from a site's 403. */
export const BLOCKED_HEADER = "x-openpaw-egress-blocked";

const HOP_HEADERS = ["proxy-connection", "proxy-authorization", "connection", "keep-alive", "te", "trailer", "upgrade"];

/**
 * An HTTP proxy on 127.0.0.1 that applies checkEgress to every connection: plain requests are
 * forwarded to the pinned address, CONNECT tunnels (HTTPS, WebSocket) are opened to it. The
 * browser's route interception gives early, readable refusals; this proxy is what actually
 * guarantees that nothing the page does (redirects, workers, sockets) reaches a private address.
 */
export async function startEgressProxy(options: EgressProxyOptions = {}): Promise<EgressProxy> {
  const sockets = new Set<Socket>();
  const refuse = (target: string, reason: string) => options.onRefused?.(target, reason);
  const expected = options.credentials
    ? Buffer.from(`Basic ${Buffer.from(`${options.credentials.username}:${options.credentials.password}`).toString("base64")}`)
    : null;
  /** Constant-time: the credentials are the one thing telling this browser's requests from anyone else's. */
  const authorized = (req: IncomingMessage): boolean => {
    if (!expected) return true;
    const given = Buffer.from(req.headers["proxy-authorization"] ?? "");
    return given.length === expected.length && timingSafeEqual(given, expected);
  };

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    if (!authorized(req)) {
      res.writeHead(407, { "proxy-authenticate": PROXY_REALM, "content-length": "0" }).end();
      return;
    }
    let target: URL;
    try {
      target = new URL(req.url ?? "");
    } catch {
      res.writeHead(400).end("absolute URL expected");
      return;
    }
    if (target.protocol !== "http:") {
      res.writeHead(400).end("only http:// is forwarded; use CONNECT for https");
      return;
    }
    const port = Number(target.port || 80);
    const decision = await checkEgress(target.hostname, port, options);
    if (!decision.ok) {
      refuse(target.href, decision.reason);
      res
        .writeHead(403, { "content-type": "text/plain", [BLOCKED_HEADER]: encodeURIComponent(decision.reason) })
        .end(`blocked by OpenPaw egress policy: ${decision.reason}`);
      return;
    }
    const headers = { ...req.headers };
    for (const name of HOP_HEADERS) delete headers[name];
    const upstream = httpRequest(
      { host: decision.address, port, method: req.method, path: `${target.pathname}${target.search}`, headers, setHost: false },
      (response) => {
        res.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(res);
      },
    );
    upstream.setTimeout(30_000, () => upstream.destroy(new Error("upstream timeout")));
    upstream.on("error", () => {
      if (!res.headersSent) res.writeHead(502).end("upstream failed");
      else res.destroy();
    });
    req.pipe(upstream);
  });

  server.on("connect", async (req: IncomingMessage, client: Socket, head: Buffer) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => client.destroy());
    if (!authorized(req)) {
      client.end(`HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: ${PROXY_REALM}\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(req.url ?? "");
    if (!match) {
      client.end("HTTP/1.1 400 Bad Request\r\n\r\n");
      return;
    }
    const [, host, portText] = match;
    const decision = await checkEgress(host, Number(portText), options);
    if (!decision.ok) {
      refuse(`${host}:${portText}`, decision.reason);
      client.end("HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\n\r\n");
      return;
    }
    const upstream = connect(Number(portText), decision.address, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    upstream.setTimeout(30_000, () => upstream.destroy());
    upstream.on("error", () => client.end("HTTP/1.1 502 Bad Gateway\r\n\r\n"));
  });
  // Upgrades without CONNECT are not something Chromium sends through a proxy; refuse them.
  server.on("upgrade", (_req: IncomingMessage, socket: Socket) => socket.destroy());
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    if (options.socketPath) server.listen(options.socketPath, resolve);
    else server.listen(0, "127.0.0.1", resolve);
  });
  const url = options.socketPath ? `unix:${options.socketPath}` : `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (options.socketPath) await rm(options.socketPath, { force: true });
    },
  };
}
