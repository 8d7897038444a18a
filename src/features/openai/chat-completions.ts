import { jsonWithin, REQUEST_JSON_LIMITS } from "../../http/openapi";
import { z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/context";
import { errors } from "../../http/errors";
import { jsonBody } from "../../http/openapi";
import { sseResponse } from "../../http/sse";
import { ChatCompletionProjection } from "./chat-completion-stream";
import { completionIdOf, unixSeconds } from "./ids";
import { resolveModel } from "./resolve-model";
import { ModelField, ignoredSamplingFields, openAiRoute, RUN_START_ERRORS, tags } from "./schemas";
import { type ChatCompletionMessage, fromChatMessages } from "./turns";

const Part = z.looseObject({ type: z.string().max(64), text: z.string().optional() });

const Message = z.looseObject({
  role: z.enum(["system", "developer", "user", "assistant", "tool", "function"]),
  content: z
    .union([z.string(), z.array(Part).max(1000)])
    .nullable()
    .optional(),
  name: z.string().max(256).optional(),
  tool_calls: z.array(z.unknown()).nullable().optional(),
});

const Body = z
  .looseObject({
    model: ModelField,
    messages: z
      .array(Message)
      .min(1)
      .max(2_000)
      .openapi({ example: [{ role: "user", content: "Hello" }] }),
    stream: z.boolean().nullable().optional(),
    stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullable().optional(),
    tools: z.array(z.unknown()).nullable().optional(),
    functions: z.array(z.unknown()).nullable().optional(),
    n: z.number().int().nullable().optional(),
    response_format: z.looseObject({ type: z.string() }).nullable().optional(),
    logprobs: z.boolean().nullable().optional(),
    modalities: z.array(z.string()).nullable().optional(),
    max_tokens: z.number().nullable().optional(),
    max_completion_tokens: z.number().nullable().optional(),
    stop: z
      .union([z.string(), z.array(z.string())])
      .nullable()
      .optional(),
    metadata: z.record(z.string(), z.string()).nullable().optional(),
    store: z.boolean().nullable().optional(),
    ...ignoredSamplingFields,
  })
  // The body is the client's own JSON, much of it passed through loosely: bounded as a whole.
  .superRefine(jsonWithin(REQUEST_JSON_LIMITS))
  .openapi("ChatCompletionRequest");

const route = openAiRoute({
  method: "post",
  path: "/openai/v1/chat/completions",
  operationId: "openai.chatCompletions.create",
  tags,
  summary: "Chat Completions with an agent (`model` = agent id)",
  description:
    "The agent runs its whole loop with its own tools on the server. `messages` are the turn's history: system and developer " +
    "messages are added after the agent's own prompt, skills and memory; the last user message is the message. Sampling " +
    "parameters (temperature, max_tokens, …) are the agent's and are ignored; client `tools` are refused. Streams " +
    "`chat.completion.chunk`s with `stream: true` (usage in a last chunk with `stream_options.include_usage`). Each request is " +
    "one run in a conversation of its own (X-Run-Id, X-Conversation-Id).",
  request: { body: jsonBody(Body) },
  responses: {
    200: {
      description: "A chat.completion, or the chunks as Server-Sent Events ending with `data: [DONE]`",
      content: {
        "application/json": { schema: z.looseObject({ id: z.string(), object: z.literal("chat.completion") }) },
        "text/event-stream": {
          schema: z.string().openapi({
            description: "`data:` lines of `chat.completion.chunk` objects (OpenAI's), the last one `data: [DONE]`; `: ping` comments keep an idle stream open",
          }),
        },
      },
    },
  },
  errors: RUN_START_ERRORS,
});

/** What the agent cannot honor is refused, naming the field; what it fixes itself is ignored. */
function refuseUnsupported(body: z.infer<typeof Body>): void {
  if (body.tools?.length || body.functions?.length) {
    throw errors.invalid(
      "Client-side tools are not supported: the agent runs its own tools on the server.",
      body.tools?.length ? "tools" : "functions",
    );
  }
  if (body.n !== undefined && body.n !== null && body.n !== 1) throw errors.invalid("Only one choice (n: 1) is supported.", "n");
  if (body.response_format && body.response_format.type !== "text") {
    throw errors.invalid('Only response_format {"type": "text"} is supported: the agent answers in text.', "response_format.type");
  }
  if (body.logprobs) throw errors.invalid("logprobs are not available for agent runs.", "logprobs");
  if (body.modalities?.some((m) => m !== "text")) throw errors.invalid('Only the "text" modality is supported.', "modalities");
}

export function chatCompletions(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { runs, config } = c.var.services;
    const body = c.req.valid("json");
    const { agent, access } = await resolveModel(c, body.model);
    refuseUnsupported(body);
    const turn = fromChatMessages(body.messages as ChatCompletionMessage[]);
    const pending = await runs.startForeground({
      access,
      agent,
      message: turn.message,
      prelude: turn.prelude,
      instructions: turn.instructions,
    });
    c.header("X-Run-Id", pending.row.id);
    c.header("X-Conversation-Id", pending.row.conversation_id);
    const projection = new ChatCompletionProjection(
      { id: completionIdOf(pending.row.id), created: unixSeconds(pending.row.created_at), model: agent.id },
      body.stream_options?.include_usage === true,
    );

    if (body.stream) {
      return sseResponse(c, { pingMs: config.limits.ssePingMs }, async (sse) => {
        sse.send({ data: projection.first() });
        // The client going away cancels the run, as on the native chat.
        await pending.execute((event) => {
          for (const chunk of projection.apply(event)) sse.send({ data: chunk });
        }, sse.signal);
        sse.send({ data: "[DONE]" });
      }) as never;
    }

    await pending.execute((event) => projection.apply(event), c.req.raw.signal);
    if (projection.error || !projection.done) {
      const { status, body: error, headers } = projection.openAiError();
      return c.json(error, status as 502, headers) as never;
    }
    return c.json(projection.completion(), 200) as never;
  });
}
