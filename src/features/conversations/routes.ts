import { z } from "@hono/zod-openapi";
import type { OrgAccess } from "../../http/context";
import { errors } from "../../http/errors";
import { OrgIdParam, PaginationQuery, PathId, createRouter, iso, jsonResponse, paginated } from "../../http/openapi";
import { canSeeAgent } from "../../http/permissions";
import type { Services } from "../../services";
import { findAgent } from "../agents/repository";
import { deleteConversation, findConversation, listConversations, listRunsOfConversation, loadMessages } from "./repository";
import { orgRoute } from "../../http/routes";

const tags = ["Conversations"];
const AgentParams = z.object({ orgId: OrgIdParam, agentId: PathId("agentId") });
const ConversationParams = AgentParams.extend({ conversationId: PathId("conversationId") });

const ConversationSchema = z
  .object({ id: z.string(), agentId: z.string(), title: z.string().nullable(), createdAt: z.string(), updatedAt: z.string() })
  .openapi("Conversation");
const ConversationRunSchema = z
  .object({
    id: z.string(),
    status: z.string().openapi({ description: "running, completed, max_iterations, error, cancelled or interrupted" }),
    iterations: z.number(),
    toolCalls: z.number(),
    tokens: z.number(),
    inputTokens: z.number(),
    outputTokens: z.number(),
    cacheReadTokens: z.number(),
    cacheWriteTokens: z.number(),
    cost: z.number(),
    startedAt: z.string(),
    endedAt: z.string().nullable(),
  })
  .openapi("ConversationRun");
const MessageSchema = z
  .object({ id: z.string(), runId: z.string(), role: z.enum(["user", "assistant", "tool"]), content: z.any(), createdAt: z.string() })
  .openapi("ConversationMessage");

const list = orgRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/agents/{agentId}/conversations",
  operationId: "conversations.list",
  tags,
  summary: "List an agent's conversations, most recent first",
  request: { params: AgentParams, query: PaginationQuery },
  responses: {
    200: jsonResponse(
      z.object({ data: z.array(ConversationSchema), page: z.number(), limit: z.number(), total: z.number(), hasMore: z.boolean() }),
      "Conversations",
    ),
  },
  permission: "read",
});

const get = orgRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/agents/{agentId}/conversations/{conversationId}",
  operationId: "conversations.get",
  tags,
  summary: "A conversation with its messages (user, assistant with tool calls, tool results)",
  request: { params: ConversationParams },
  responses: {
    200: jsonResponse(
      ConversationSchema.extend({
        messages: z.array(MessageSchema),
        runs: z.array(ConversationRunSchema).openapi({ description: "The runs that made the conversation (a subagent's are in its own), oldest first" }),
      }),
      "The conversation",
    ),
  },
  permission: "read",
});

const remove = orgRoute({
  method: "delete",
  path: "/v1/orgs/{orgId}/agents/{agentId}/conversations/{conversationId}",
  operationId: "conversations.delete",
  tags,
  summary: "Delete a conversation with its messages, runs and HISTORY entries (usage records stay)",
  request: { params: ConversationParams },
  responses: { 204: { description: "Deleted" } },
  permission: "write",
});

async function visibleAgent(services: Services, access: OrgAccess, agentId: string) {
  const agent = await findAgent(services.db.kysely, access.orgId, agentId);
  if (!agent || !canSeeAgent(access, agentId)) throw errors.notFound("Agent", "agentId");
  return agent;
}

const serialize = (c: { id: string; agent_id: string; title: string | null; created_at: number; updated_at: number }) => ({
  id: c.id,
  agentId: c.agent_id,
  title: c.title,
  createdAt: iso(c.created_at),
  updatedAt: iso(c.updated_at),
});

/** Conversations of an agent: list, read with messages, delete. */
export function conversationRoutes() {
  const app = createRouter();

  app.openapi(list, async (c) => {
    const { access, services } = c.var;
    const { agentId } = c.req.valid("param");
    const { page, limit } = c.req.valid("query");
    await visibleAgent(services, access, agentId);
    const { rows, total } = await listConversations(services.db.kysely, access.orgId, agentId, page, limit);
    return c.json(paginated(rows.map(serialize), page, limit, total), 200);
  });

  app.openapi(get, async (c) => {
    const { access, services } = c.var;
    const { agentId, conversationId } = c.req.valid("param");
    await visibleAgent(services, access, agentId);
    const conversation = await findConversation(services.db.kysely, access.orgId, agentId, conversationId);
    if (!conversation) throw errors.notFound("Conversation", "conversationId");
    const [messages, runs] = await Promise.all([
      loadMessages(services.db.kysely, access.orgId, conversationId),
      listRunsOfConversation(services.db.kysely, access.orgId, conversationId),
    ]);
    return c.json(
      {
        ...serialize(conversation),
        messages: messages.map((m) => ({
          id: m.id,
          runId: m.runId,
          role: m.message.role,
          content: m.message.role === "tool" ? m.message.results : m.message.content,
          createdAt: iso(m.createdAt),
        })),
        runs: runs.map((r) => {
          const [input, output, cacheRead, cacheWrite] = [r.input_tokens, r.output_tokens, r.cache_read_tokens, r.cache_write_tokens].map(Number);
          return {
            id: r.id,
            status: r.status,
            iterations: r.iterations,
            toolCalls: r.tool_calls,
            tokens: input + output + cacheRead + cacheWrite,
            inputTokens: input,
            outputTokens: output,
            cacheReadTokens: cacheRead,
            cacheWriteTokens: cacheWrite,
            cost: Number(r.cost),
            startedAt: iso(Number(r.started_at)),
            endedAt: r.ended_at === null ? null : iso(Number(r.ended_at)),
          };
        }),
      },
      200,
    );
  });

  app.openapi(remove, async (c) => {
    const { access, services } = c.var;
    const { agentId, conversationId } = c.req.valid("param");
    await visibleAgent(services, access, agentId);
    if (!(await deleteConversation(services.db.kysely, access.orgId, agentId, conversationId))) throw errors.notFound("Conversation", "conversationId");
    return c.body(null, 204);
  });

  return app;
}
