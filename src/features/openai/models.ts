import { z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AgentsTable } from "../../db/schema";
import type { AppEnv } from "../../http/context";
import { requirePermission } from "../../http/permissions";
import { listAgents } from "../agents/repository";
import { unixSeconds } from "./ids";
import { resolveModel } from "./resolve-model";
import { ModelField, openAiRoute, tags } from "./schemas";

const ModelSchema = z
  .object({
    id: z.string(),
    object: z.literal("model"),
    created: z.number().int(),
    owned_by: z.string(),
    name: z.string().openapi({ description: "The agent's name (an extension clients such as Open WebUI show)" }),
    description: z.string().nullable(),
  })
  .openapi("OpenAiModel");

const list = openAiRoute({
  method: "get",
  path: "/openai/v1/models",
  operationId: "openai.models.list",
  tags,
  summary: "The agents this key may chat with, as OpenAI models",
  description: "Every agent of the key's organization that the key may chat with (all of them, or those a restricted key names); `id` is what `model` takes.",
  responses: {
    200: {
      description: "A list",
      content: { "application/json": { schema: z.object({ object: z.literal("list"), data: z.array(ModelSchema) }) } },
    },
  },
});

const one = openAiRoute({
  method: "get",
  path: "/openai/v1/models/{model}",
  operationId: "openai.models.get",
  tags,
  summary: "One agent as an OpenAI model",
  description: "The agent `model` as an OpenAI model object; 404 for an agent the key may not chat with or of another organization.",
  request: { params: z.object({ model: ModelField.openapi({ param: { name: "model", in: "path" } }) }) },
  responses: { 200: { description: "The model", content: { "application/json": { schema: ModelSchema } } } },
});

const modelOf = (agent: AgentsTable) => ({
  id: agent.id,
  object: "model" as const,
  created: unixSeconds(agent.created_at),
  owned_by: agent.org_id,
  name: agent.name,
  description: agent.description,
});

const PAGE = 200;

export function models(app: OpenAPIHono<AppEnv>) {
  app.openapi(list, async (c) => {
    const access = c.var.access;
    requirePermission(access, "chat");
    const data: ReturnType<typeof modelOf>[] = [];
    for (let offset = 0; ; offset += PAGE) {
      const { rows, total } = await listAgents(c.var.services.db.kysely, access.orgId, { agentIds: access.agentIds, limit: PAGE, offset });
      data.push(...rows.map(modelOf));
      if (offset + PAGE >= total || rows.length === 0) break;
    }
    return c.json({ object: "list" as const, data }, 200);
  });

  app.openapi(one, async (c) => {
    const { agent } = await resolveModel(c, c.req.valid("param").model);
    return c.json(modelOf(agent), 200);
  });
}
