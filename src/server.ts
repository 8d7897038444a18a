import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type ServerType, createAdaptorServer } from "@hono/node-server";
import { createApp } from "./app";
import { createDiagnostics } from "./lib/diagnostics";
import type { Services } from "./services";

/** Passes a body through and calls `onEnd` once when it ends, fails or is cancelled. */
function trackEnd(body: ReadableStream<Uint8Array>, onEnd: () => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let ended = false;
  const end = () => {
    if (!ended) {
      ended = true;
      onEnd();
    }
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          end();
          controller.close();
        } else controller.enqueue(value);
      } catch (error) {
        end();
        controller.error(error);
      }
    },
    async cancel(reason) {
      end();
      await reader.cancel(reason);
    },
  });
}

/**
 * A response sent before the request's body was all received (a 413, a 401 or 404 that never
 * read it): the server reads what is left for a moment and then drops the socket, so it cannot
 * be reused. Saying `Connection: close` lets the client open a new connection for its next
 * request instead of failing it.
 */
function closingIfBodyUnread(response: Response, incoming: IncomingMessage | undefined): Response {
  if (!incoming || incoming.complete || response.headers.has("connection")) return response;
  const headers = new Headers(response.headers);
  headers.set("Connection", "close");
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

/** True when the request came from this machine (the socket's peer, not a forwarded header). */
function isLoopback(env: unknown): boolean {
  const remote = (env as { incoming?: { socket?: { remoteAddress?: string } } }).incoming?.socket?.remoteAddress ?? "";
  return /^(127\.|::1$|::ffff:127\.)/.test(remote);
}

export interface RunningServer {
  port: number;
  url: string;
  /** Graceful stop: refuse new work, let in-flight requests finish up to the grace period, cancel the rest, close services. */
  stop(): Promise<void>;
}

/** Serves the app over HTTP on the configured host and port (port 0 picks a free one). */
export async function startServer(services: Services, options: { port?: number; host?: string } = {}): Promise<RunningServer> {
  const app = createApp(services);
  let inFlight = 0;
  let idle: (() => void) | null = null;
  const finished = () => {
    inFlight--;
    if (inFlight === 0) idle?.();
  };
  const diagnostics = services.config.security.diagnostics ? createDiagnostics({ statements: services.db.statementTimings }) : null;
  const port = options.port ?? services.config.port;
  const host = options.host ?? services.config.host;

  const server: ServerType = await new Promise((resolve) => {
    const s = createAdaptorServer(
      {
        fetch: async (request, env) => {
          const { metrics } = services.telemetry;
          if (metrics && request.method === "GET" && new URL(request.url).pathname === "/metrics") {
            // Opt-in (OPENPAW_METRICS) and, like diagnostics, only to the machine itself: a
            // Prometheus agent or a sidecar on the host scrapes it; the public never sees it.
            if (isLoopback(env)) return new Response(await metrics.text(), { headers: { "content-type": metrics.contentType } });
          }
          if (diagnostics && request.url.includes("/internal/diagnostics")) {
            const url = new URL(request.url);
            // Opt-in, and only to the machine itself: it is for benchmarks, not the public.
            if (url.pathname === "/internal/diagnostics" && isLoopback(env)) {
              return Response.json(diagnostics.snapshot(url.searchParams.has("reset")));
            }
          }
          inFlight++;
          let response: Response;
          try {
            response = closingIfBodyUnread(await app.fetch(request, env), (env as { incoming?: IncomingMessage }).incoming);
          } catch (error) {
            finished();
            throw error;
          }
          // A stream is in flight until its last byte (or the client leaves), not when its headers go out.
          // The content type first: reading `body` of @hono/node-server's lightweight Response turns
          // it into a full web Response and sends it down the adapter's slow path (a ReadableStream
          // read per response), which cost a JSON answer ~5% of its CPU.
          if (response.headers.get("content-type")?.startsWith("text/event-stream") && response.body) {
            // The Node response says when its last byte went out or the client left ('close'):
            // no second web stream between the SSE writer and the socket (a pull and a read per chunk).
            const outgoing = (env as { outgoing?: ServerResponse }).outgoing;
            if (outgoing) {
              outgoing.once("close", finished);
              return response;
            }
            return new Response(trackEnd(response.body, finished), response);
          }
          finished();
          return response;
        },
      },
    );
    // A large accept backlog: thousands of clients connecting within a second are queued by the
    // kernel instead of being refused (Node's default is 511).
    s.listen({ port, host, backlog: 4096 }, () => resolve(s));
  });
  const address = server.address() as AddressInfo;
  const shown = host.includes(":") ? `[${host}]` : host;

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      const { logger, config } = services;
      logger.info("shutting down", { inFlight });
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      (server as unknown as { closeIdleConnections?: () => void }).closeIdleConnections?.();
      // Streams count as in flight until their last byte, so this also waits for running chats.
      const drained = new Promise<void>((resolve) => {
        if (inFlight === 0) resolve();
        else idle = resolve;
      });
      const grace = new Promise<void>((resolve) => setTimeout(resolve, config.limits.shutdownGraceMs).unref());
      await Promise.race([drained, grace]);
      // Past the deadline: cancel what still runs; runs record their usage as they end.
      services.shutdown.abort();
      await Promise.race([drained, new Promise((r) => setTimeout(r, 5_000).unref())]);
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      await closed;
      diagnostics?.stop();
      await services.close();
      logger.info("stopped");
    })();
    return stopping;
  };

  return { port: address.port, url: `http://${shown}:${address.port}`, stop };
}
