import { jsonWithin, REQUEST_JSON_LIMITS } from "../../../http/openapi";
import { z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AgentsTable, RunsTable } from "../../../db/schema";
import type { AppEnv, OrgAccess } from "../../../http/context";
import { ApiError, errors } from "../../../http/errors";
import { jsonBody } from "../../../http/openapi";
import { sseResponse } from "../../../http/sse";
import { findConversation, forkConversation, runPlaceInConversation } from "../../conversations/repository";
import { isLive } from "../../runs/repository";
import { openAiErrorEnvelope } from "../errors";
import { resolveModel } from "../resolve-model";
import { ModelField, ignoredSamplingFields, openAiRoute, RUN_START_ERRORS, tags } from "../schemas";
import { type ResponseInputItem, fromResponseInput } from "../turns";
import { ResponseProjection } from "./projection";
import { insertResponse } from "./repository";
import { ResponseEventStream, ResponseObjectSchema } from "./schemas";
import { type StoredResponse, loadResponse, metaOf, responseObject } from "./stored";
import { followResponse, responseEventWriter, writeDone } from "./stream";

const InputItem = z.looseObject({
  type: z.string().max(64).optional(),
  role: z.string().max(32).optional(),
  content: z
    .union([z.string(), z.array(z.looseObject({ type: z.string().max(64), text: z.string().optional() })).max(1000)])
    .nullable()
    .optional(),
});

const Metadata = z
  .record(z.string().max(64), z.string().max(512))
  .refine((m) => Object.keys(m).length <= 16, { message: "At most 16 keys." })
  .openapi({ description: "Up to 16 string pairs, echoed on the response" });

const Body = z
  .looseObject({
    model: ModelField,
    input: z
      .union([z.string(), z.array(InputItem).min(1).max(2_000)])
      .openapi({ description: "A string (the user message) or input items", example: "Hello" }),
    instructions: z.string().max(100_000).nullable().optional(),
    previous_response_id: z.string().max(100).nullable().optional(),
    store: z.boolean().nullable().optional(),
    stream: z.boolean().nullable().optional(),
    background: z.boolean().nullable().optional(),
    metadata: Metadata.nullable().optional(),
    tools: z.array(z.unknown()).nullable().optional(),
    conversation: z.unknown().optional(),
    prompt: z.unknown().optional(),
    text: z
      .looseObject({ format: z.looseObject({ type: z.string() }).optional() })
      .nullable()
      .optional(),
    max_output_tokens: z.number().nullable().optional(),
    max_tool_calls: z.number().nullable().optional(),
    truncation: z.string().nullable().optional(),
    include: z.array(z.string()).nullable().optional(),
    reasoning: z.unknown().optional(),
    stream_options: z.unknown().optional(),
    top_logprobs: z.number().nullable().optional(),
    ...ignoredSamplingFields,
  })
  // The body is the client's own JSON, much of it passed through loosely: bounded as a whole.
  .superRefine(jsonWithin(REQUEST_JSON_LIMITS))
  .openapi("CreateResponseRequest");

const route = openAiRoute({
  method: "post",
  path: "/openai/v1/responses",
  operationId: "openai.responses.create",
  tags,
  summary: "Create a response: one run of the agent `model` (Open Responses)",
  description:
    "`input` is a string or items (messages; `openpaw:tool_call` items of an earlier response are taken back). `instructions` and " +
    "system messages are added after the agent's prompt. `previous_response_id` continues that response's conversation (a branch " +
    "when it has gone on since). `background: true` is a durable background run: poll it, stream it, resume its stream with " +
    "`starting_after`. `stream: true` sends the Open Responses events with `sequence_number`, ending with `data: [DONE]`. " +
    "The agent's tool calls run on the server and appear as `openpaw:tool_call` output items.",
  request: { body: jsonBody(Body) },
  responses: {
    200: {
      description: "The response (or its events as Server-Sent Events)",
      content: { "application/json": { schema: ResponseObjectSchema }, "text/event-stream": { schema: ResponseEventStream } },
    },
  },
  errors: { ...RUN_START_ERRORS, 409: "`previous_response_id` names a response that is still in progress (`run_ended`)" },
});

type CreateBody = z.infer<typeof Body>;

function refuseUnsupported(body: CreateBody): void {
  if (body.tools?.length) throw errors.invalid("Client-side tools are not supported: the agent runs its own tools on the server.", "tools");
  if (body.conversation !== undefined && body.conversation !== null) {
    throw errors.invalid("conversation is not supported: continue a conversation with previous_response_id.", "conversation");
  }
  if (body.prompt !== undefined && body.prompt !== null)
    throw errors.invalid("Prompt templates are not supported: the agent has its own prompt.", "prompt");
  const format = body.text?.format?.type;
  if (format !== undefined && format !== "text")
    throw errors.invalid('Only text.format {"type": "text"} is supported: the agent answers in text.', "text.format.type");
  if (body.background && body.store === false)
    throw errors.invalid("A background response must be stored (store: true) to be retrieved.", "store");
}

/**
 * The conversation a response continues: that of `previous_response_id` when its run is the last
 * that wrote there, else a branch holding the conversation up to that response (previous input +
 * previous output + this input, as Open Responses defines it).
 */
async function conversationToContinue(c: Context<AppEnv>, access: OrgAccess, agent: AgentsTable, previousId: string): Promise<string> {
  const { services } = c.var;
  const param = "previous_response_id";
  const previous = await loadResponse(services, access, previousId, param);
  if (previous.row.agent_id !== agent.id) {
    throw errors.invalid(`That response was created with the model "${previous.row.agent_id}"; continue it with that model.`, param);
  }
  if (isLive(previous.row.status)) throw errors.conflict("That response is still in progress; continue it once it has ended.", param, "run_ended");
  const db = services.db.kysely;
  const conversation = await findConversation(db, access.orgId, agent.id, previous.row.conversation_id);
  if (!conversation) throw new ApiError("not_found_error", "That response's conversation has been deleted.", { param });
  const place = await runPlaceInConversation(db, access.orgId, conversation.id, previous.row.id);
  if (!place) throw errors.invalid("That response recorded nothing to continue from (it ended before it started).", param);
  return place.followed ? forkConversation(db, access.orgId, conversation, place.lastSeq, Date.now()) : conversation.id;
}

export function createResponse(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { services } = c.var;
    const { runs, config, db } = services;
    const body = c.req.valid("json");
    const { agent, access } = await resolveModel(c, body.model);
    refuseUnsupported(body);
    const turn = fromResponseInput(body.input as string | ResponseInputItem[], config.limits.toolOutputChars);
    const conversationId = body.previous_response_id
      ? await conversationToContinue(c, access, agent, body.previous_response_id)
      : undefined;
    const request = {
      access,
      agent,
      message: turn.message,
      prelude: turn.prelude,
      instructions: [body.instructions ?? "", turn.instructions].filter((s) => s.trim()).join("\n\n"),
      conversationId,
    };
    const fields = {
      store: body.store === false ? 0 : 1,
      previous_response_id: body.previous_response_id ?? null,
      metadata: body.metadata ? JSON.stringify(body.metadata) : null,
    };
    /** Marks the run as this response (the row the Response's own fields live in). */
    const record = async (row: RunsTable): Promise<StoredResponse> => {
      const stored = { run_id: row.id, org_id: row.org_id, ...fields, created_at: row.created_at };
      await insertResponse(db.kysely, stored);
      c.header("X-Run-Id", row.id);
      c.header("X-Conversation-Id", row.conversation_id);
      return { row, stored, meta: metaOf(row, stored) };
    };

    if (body.background) {
      const response = await record(await runs.startBackground({ ...request, background: true }));
      if (body.stream) return followResponse(c, response, -1) as never;
      return c.json(await responseObject(services, response), 200) as never;
    }

    const pending = await runs.startForeground(request);
    const projection = new ResponseProjection((await record(pending.row)).meta);

    if (body.stream) {
      return sseResponse(c, { pingMs: config.limits.ssePingMs }, async (sse) => {
        const write = responseEventWriter(sse, -1);
        write(projection.opening());
        // The client going away cancels a foreground run, as on the native chat.
        await pending.execute((event) => write(projection.apply(event)), sse.signal);
        if (projection.ended) writeDone(sse);
      }) as never;
    }

    projection.opening();
    await pending.execute((event) => projection.apply(event), c.req.raw.signal);
    if (projection.status === "failed") {
      // The run already ran (and was billed): a typed error the SDKs raise, not one to retry blindly.
      const error = projection.error ?? { code: "api_error", message: "The run failed." };
      const { status, body: envelope, headers } = openAiErrorEnvelope(new ApiError(error.code as "api_error", error.message));
      return c.json(envelope, status as 502, { ...headers, "x-should-retry": "false" }) as never;
    }
    return c.json(projection.snapshot({ completedAt: Math.floor(Date.now() / 1000) }), 200) as never;
  });
}
