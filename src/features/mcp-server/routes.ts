/**
 * `POST /mcp` (DESIGN.md §6): a Model Context Protocol server over Streamable HTTP offering the
 * org's agents (those the key may chat with) as tools. Authenticated by the API key as a bearer
 * token, never a session cookie. Stateless, as the SDK recommends for servers behind a load
 * balancer: each POST is served by a server of its own on whichever gateway receives it; the
 * session id given at initialization only correlates a client's requests (for cancellation), it
 * holds no state. There is no standalone stream and no session to end: GET and DELETE are 405.
 */
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { authenticate, resolveOrgAccess } from "../../http/auth";
import type { AppEnv, Principal } from "../../http/context";
import { ApiError, errors } from "../../http/errors";
import { limitBody, requireJsonContentType } from "../../http/middleware";
import { createRouter, jsonWithin, REQUEST_JSON_LIMITS } from "../../http/openapi";
import { apiRoute } from "../../http/routes";
import { validationError } from "../../http/errors";
import { requirePermission } from "../../http/permissions";
import { agentsMcpServer } from "./server";

const PATH = "/mcp";

/** The key's access, for a key that may chat: 401 without a valid key, 403 without the chat scope. */
async function keyAccess(c: Context<AppEnv>) {
  // A cookie is not read here: without an Authorization header the caller is unauthenticated (WWW-Authenticate says how).
  if (c.req.header("authorization") === undefined)
    throw errors.unauthenticated('Send an OpenPaw API key as "Authorization: Bearer sk_live_...".');
  const principal = (await authenticate(c)) as Principal;
  const key = principal as Extract<Principal, { kind: "key" }>;
  const access = await resolveOrgAccess(c, key, key.orgId);
  requirePermission(access, "chat");
  return { key, access };
}

/**
 * DNS rebinding protection (the MCP transport spec's MUST): a browser page of another origin is
 * refused. Clients that are not browsers send no Origin.
 */
function checkOrigin(c: Context<AppEnv>): void {
  const origin = c.req.header("origin");
  if (origin === undefined) return;
  let allowed = false;
  try {
    allowed = new URL(origin).origin === new URL(c.var.services.config.publicUrl).origin;
  } catch {}
  if (!allowed) throw errors.forbidden("Cross-origin MCP requests are refused (Origin does not match this server).");
}

/**
 * One JSON-RPC message as the transport takes it: a request or notification (`method`), or a
 * response (`id` with `result` or `error`). Checked here so bad input is our 400 naming the field,
 * like everywhere else (MCP clients read an HTTP error's status; its body is for people).
 */
const JsonRpcMessage = z
  .looseObject({
    jsonrpc: z.literal("2.0"),
    id: z
      .union([z.string().max(256), z.number().int()])
      .nullable()
      .optional(),
    method: z.string().min(1).max(256).optional(),
    params: z.record(z.string(), z.unknown()).optional(),
  })
  // The body is the client's own JSON, much of it passed through loosely: bounded as a whole, first.
  .superRefine(jsonWithin(REQUEST_JSON_LIMITS))
  .refine((m) => m.method !== undefined || (m.id !== undefined && m.id !== null && ("result" in m || "error" in m)), {
    message: "A JSON-RPC message needs a method (a request or notification), or an id with a result or an error (a response).",
    path: ["method"],
  })
  .openapi("JsonRpcMessage");

/** The parsed body, a message or a batch, or 400 naming what is wrong. */
async function messagesOf(c: Context<AppEnv>): Promise<unknown> {
  let body: unknown;
  try {
    body = JSON.parse(await c.req.text());
  } catch {
    throw errors.invalid("The body is not valid JSON.");
  }
  const parsed = Array.isArray(body) ? z.array(JsonRpcMessage).min(1).max(100).safeParse(body) : JsonRpcMessage.safeParse(body);
  if (!parsed.success) throw validationError(parsed.error as never, "json");
  return body;
}

/** Streamable HTTP answers a POST with JSON or a stream: the client must take both. */
function checkAccept(c: Context<AppEnv>): void {
  const accept = c.req.header("accept") ?? "";
  if (!accept.includes("application/json") || !accept.includes("text/event-stream")) {
    throw new ApiError("invalid_request_error", "Accept must list both application/json and text/event-stream (MCP Streamable HTTP).", {
      status: 406,
      param: "Accept",
    });
  }
}

/** The response (with `headers`) whose body passes through, calling `done` once it is finished or abandoned. */
function onFinished(response: Response, headers: Headers, done: () => void): Response {
  if (!response.body) {
    done();
    return new Response(null, { status: response.status, headers });
  }
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done: ended, value } = await reader.read();
      if (ended) {
        controller.close();
        done();
      } else controller.enqueue(value);
    },
    cancel(reason) {
      done();
      return reader.cancel(reason);
    },
  });
  return new Response(body, { status: response.status, headers });
}

export function agentMcpRoutes() {
  const app = createRouter();
  // Served by the MCP SDK's transport rather than app.openapi (it reads the raw request), so only declared here.
  const { middleware: _none, ...operation } = apiRoute({
    method: "post",
    path: PATH,
    operationId: "mcp.post",
    tags: ["MCP server"],
    audience: "key",
    summary: "Model Context Protocol server (Streamable HTTP): the org's agents as tools",
    description:
      "JSON-RPC over Streamable HTTP (`Accept: application/json, text/event-stream`), authenticated by `Authorization: Bearer sk_live_...` " +
      "(a key with the chat scope). `tools/list` offers one tool per agent the key may chat with, input `{message, conversationId?}`; " +
      "`tools/call` runs the agent and answers its text with `{text, conversationId, runId, stopReason, usage}` as structured content, " +
      "sending `notifications/progress` while it works when the call has a progress token. `notifications/cancelled` cancels the run. " +
      "GET and DELETE answer 405: the server is stateless.",
    request: { body: { content: { "application/json": { schema: JsonRpcMessage } }, required: true } },
    responses: {
      200: {
        description: "JSON-RPC responses as Server-Sent Events",
        content: {
          "text/event-stream": {
            schema: z.string().openapi({ description: "`event: message` with one JSON-RPC response or notification per `data:`" }),
          },
        },
      },
      202: { description: "A notification was accepted" },
    },
    errors: {
      400: "Not JSON, or not a JSON-RPC message (param names the field), or an `Accept` header without both media types",
      403: "The key may not chat, or a cross-origin browser request",
      406: "`Accept` does not list both application/json and text/event-stream (`invalid_request`)",
    },
  });
  app.openAPIRegistry.registerPath(operation);

  app.use(
    PATH,
    (c, next) => limitBody(c.var.services.config.limits.maxBodyBytes)(c, next),
    requireJsonContentType(() => false),
  );

  app.post(PATH, async (c) => {
    checkOrigin(c);
    const { key, access } = await keyAccess(c);
    checkAccept(c);
    const body = await messagesOf(c);
    const initializing = Array.isArray(body) ? body.some(isInitializeRequest) : isInitializeRequest(body);
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: initializing ? () => crypto.randomUUID() : undefined,
    });
    const server = await agentsMcpServer({
      services: c.var.services,
      access,
      identity: `${key.keyId}:${c.req.header("mcp-session-id") ?? ""}`,
      signal: c.req.raw.signal,
    });
    await server.connect(transport);
    const response = await transport.handleRequest(c.req.raw, { parsedBody: body });
    // The gateway's own headers (X-Request-Id, …) with the transport's.
    for (const [name, value] of response.headers) c.header(name, value);
    return onFinished(response, c.res.headers, () => server.close().catch(() => {}));
  });

  app.on(["GET", "DELETE"], PATH, () => {
    throw new ApiError(
      "invalid_request_error",
      "This MCP server is stateless: only POST is served (no standalone stream, no session to end).",
      {
        status: 405,
        headers: { Allow: "POST" },
      },
    );
  });

  return app;
}
