import { createRoute, z } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import { requireAuth } from "../../http/auth";
import { ApiError, errorEnvelope } from "../../http/errors";
import { commonErrors, createRouter, jsonBody, jsonResponse } from "../../http/openapi";
import type { RunEvent } from "../../runtime/events";
import { executeRun, prepareRun } from "./run";

const ChatBody = z
  .strictObject({
    message: z.string().min(1, { message: "Must not be empty." }).max(100_000),
    conversationId: z.string().min(1).max(64).optional(),
    stream: z.boolean().optional(),
  })
  .openapi("ChatRequest");

const ChatResult = z
  .object({
    text: z.string(),
    conversationId: z.string(),
    runId: z.string(),
    iterations: z.number(),
    toolCalls: z.number(),
    tokens: z.number(),
    cost: z.number(),
    stopReason: z.enum(["end_turn", "max_iterations", "error", "cancelled"]),
    events: z.array(z.object({ event: z.string(), data: z.any() })),
  })
  .openapi("ChatResult");

const chat = createRoute({
  method: "post",
  path: "/v1/agent/{agentId}/chat",
  tags: ["Chat"],
  summary: "Chat with an agent (Server-Sent Events, or one JSON object with stream:false)",
  description:
    "Streams `text`, `tool_start`, `tool_result`, `error` and `done` events. `: ping` comments keep idle streams open. " +
    "Headers X-Conversation-Id and X-Run-Id name the conversation and run. A client that disconnects cancels the run; its usage is still recorded.",
  middleware: [requireAuth] as const,
  request: {
    params: z.object({ agentId: z.string().min(1).max(64).openapi({ param: { name: "agentId", in: "path" } }) }),
    body: jsonBody(ChatBody),
  },
  responses: {
    200: {
      description: "The run: an SSE stream, or the JSON result when stream is false",
      content: { "text/event-stream": { schema: z.string() }, "application/json": { schema: ChatResult } },
    },
    402: jsonResponse(z.any(), "The plan's token limit is reached"),
    429: jsonResponse(z.any(), "Too many concurrent runs"),
    ...commonErrors,
  },
});

/** `POST /v1/agent/:agentId/chat`. */
export function chatRoutes() {
  const app = createRouter();

  app.openapi(chat, async (c) => {
    const services = c.var.services;
    const { agentId } = c.req.valid("param");
    const body = c.req.valid("json");
    const wantsJson = body.stream === false || (body.stream === undefined && /^application\/json\b/i.test(c.req.header("accept") ?? ""));
    const run = await prepareRun(c, agentId, body);
    c.header("X-Conversation-Id", run.conversationId);
    c.header("X-Run-Id", run.runId);

    // Cancelled by the client going away, or by a shutdown whose grace period ran out.
    const controller = new AbortController();
    const cancel = () => controller.abort();
    c.req.raw.signal.addEventListener("abort", cancel, { once: true });
    services.shutdown.signal.addEventListener("abort", cancel, { once: true });
    const detach = () => {
      c.req.raw.signal.removeEventListener("abort", cancel);
      services.shutdown.signal.removeEventListener("abort", cancel);
    };

    if (wantsJson) {
      const events: RunEvent[] = [];
      const result = await executeRun(services, run, (e) => events.push(e), controller.signal).finally(detach);
      if (result.stopReason === "error" && result.error) {
        const { status, body: envelope, headers } = errorEnvelope(new ApiError(result.error.type, result.error.message), c.var.requestId);
        return c.json(envelope, status as 502, headers);
      }
      const done = events.find((e) => e.event === "done")?.data as { tokens: number; cost: number };
      return c.json(
        {
          text: result.text,
          conversationId: run.conversationId,
          runId: run.runId,
          iterations: result.iterations,
          toolCalls: result.toolCalls,
          tokens: done.tokens,
          cost: done.cost,
          stopReason: result.stopReason,
          events,
        },
        200,
      );
    }

    c.header("X-Accel-Buffering", "no");
    c.header("Cache-Control", "no-cache, no-transform");
    return streamSSE(c, async (stream) => {
      stream.onAbort(cancel);
      // Writes are chained so events keep their order; a failed write means the client is gone.
      let writes = Promise.resolve();
      const write = (chunk: () => Promise<unknown>) => {
        writes = writes.then(async () => {
          if (stream.aborted || stream.closed) return;
          try {
            await chunk();
          } catch {
            cancel();
          }
        });
      };
      const ping = setInterval(() => write(() => stream.write(": ping\n\n")), services.config.limits.ssePingMs);
      try {
        await executeRun(services, run, (e) => write(() => stream.writeSSE({ event: e.event, data: JSON.stringify(e.data) })), controller.signal);
      } finally {
        clearInterval(ping);
        detach();
        await writes;
      }
    }) as never;
  });

  return app;
}
