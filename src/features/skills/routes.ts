import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { ZodError } from "zod";
import { isUniqueViolation } from "../../db";
import type { SkillsTable } from "../../db/schema";
import type { AppEnv, } from "../../http/context";
import { errors } from "../../http/errors";
import { createRouter, iso, jsonResponse, OrgIdParam } from "../../http/openapi";
import { validationError } from "../../http/errors";
import { newId } from "../../lib/ids";
import { requireVisibleAgent } from "../agents/routes";
import { AgentSchema } from "../agents/schemas";
import { agentViews } from "../agents/serialize";
import { BUILTIN_SKILLS_DATE, type BuiltinSkill, builtinSkills, findBuiltinSkill, isBuiltinSkillId } from "./builtin";
import { SkillMarkdownError, parseSkillMarkdown } from "./markdown";
import { attachSkill, deleteSkill, detachSkill, findCustomSkill, insertSkill, listCustomSkills, updateSkill } from "./repository";
import { AgentSkillParams, CreateSkillBody, SkillMarkdownBody, SkillParams, SkillSchema, UpdateSkillBody } from "./schemas";
import { orgRoute } from "../../http/routes";

const tags = ["Skills"];
const JSON_TYPE = /^application\/([\w.-]+\+)?json$/i;

/** A body that is JSON or a SKILL.md; validation of both branches happens in `readSkillBody`. */
const skillBody = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema }, "text/markdown": { schema: SkillMarkdownBody } },
  required: false,
  description,
});

const createSkillRoute = orgRoute({
  method: "post",
  path: "/v1/orgs/{orgId}/skills",
  operationId: "skills.create",
  tags,
  summary: "Create a custom skill (JSON, or a SKILL.md as text/markdown)",
  request: { params: z.object({ orgId: OrgIdParam }), body: skillBody(CreateSkillBody, "The skill") },
  responses: { 201: jsonResponse(SkillSchema, "The new skill") },
  errors: { 409: "The org already has a skill of this name, or the name is a built-in skill's" },
  permission: "write",
});

const listSkillsRoute = orgRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/skills",
  operationId: "skills.list",
  tags,
  summary: "List skills: the built-in ones, then the org's custom ones",
  request: { params: z.object({ orgId: OrgIdParam }) },
  responses: { 200: jsonResponse(z.object({ data: z.array(SkillSchema) }), "Skills") },
  permission: "read",
});

const getSkillRoute = orgRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/skills/{skillId}",
  operationId: "skills.get",
  tags,
  summary: "Get a skill",
  request: { params: SkillParams },
  responses: { 200: jsonResponse(SkillSchema, "The skill") },
  permission: "read",
});

const updateSkillRoute = orgRoute({
  method: "patch",
  path: "/v1/orgs/{orgId}/skills/{skillId}",
  operationId: "skills.update",
  tags,
  summary: "Update a custom skill (JSON partial update, or a SKILL.md replacing name, description and content)",
  description: "Built-in skills are read-only (403).",
  request: { params: SkillParams, body: skillBody(UpdateSkillBody, "The fields to change") },
  responses: { 200: jsonResponse(SkillSchema, "The skill") },
  errors: { 409: "The new name is another skill's of the org, or a built-in skill's" },
  permission: "write",
});

const deleteSkillRoute = orgRoute({
  method: "delete",
  path: "/v1/orgs/{orgId}/skills/{skillId}",
  operationId: "skills.delete",
  tags,
  summary: "Delete a custom skill (it is detached from every agent)",
  description: "Built-in skills are read-only (403).",
  request: { params: SkillParams },
  responses: { 204: { description: "Deleted" } },
  permission: "write",
});

const attachRoute = orgRoute({
  method: "put",
  path: "/v1/orgs/{orgId}/agents/{agentId}/skills/{skillId}",
  operationId: "agentSkills.attach",
  tags,
  summary: "Attach a skill to an agent (idempotent)",
  request: { params: AgentSkillParams },
  responses: { 200: jsonResponse(AgentSchema, "The agent, with its skills") },
  permission: "write",
});

const detachRoute = orgRoute({
  method: "delete",
  path: "/v1/orgs/{orgId}/agents/{agentId}/skills/{skillId}",
  operationId: "agentSkills.detach",
  tags,
  summary: "Detach a skill from an agent (404 when it is not attached)",
  request: { params: AgentSkillParams },
  responses: { 204: { description: "Detached" } },
  permission: "write",
});

function serializeBuiltin(skill: BuiltinSkill) {
  const at = iso(BUILTIN_SKILLS_DATE);
  return { ...skill, builtIn: true, createdAt: at, updatedAt: at };
}

function serializeCustom(row: SkillsTable) {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    content: row.content,
    files: JSON.parse(row.files) as Array<{ name: string; content: string }>,
    builtIn: false,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

/**
 * The request body as a validated object: JSON as declared, or a SKILL.md (`text/markdown`)
 * whose front matter gives `name` and `description` and whose body is the `content`.
 */
async function readSkillBody<T extends z.ZodType>(c: Context<AppEnv>, schema: T, json: () => z.output<T>): Promise<z.output<T>> {
  const mediaType = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (mediaType === "text/markdown") {
    let parsed: ReturnType<typeof parseSkillMarkdown>;
    try {
      parsed = parseSkillMarkdown(await c.req.text());
    } catch (error) {
      if (error instanceof SkillMarkdownError) throw errors.invalid(error.message, error.field);
      throw error;
    }
    const { name, description } = parsed.frontMatter;
    const result = schema.safeParse({ name, description, content: parsed.content });
    if (!result.success) throw validationError(result.error as unknown as ZodError, "json");
    return result.data;
  }
  if (!JSON_TYPE.test(mediaType)) throw errors.invalid("Send the skill as application/json, or a SKILL.md as text/markdown.");
  return json();
}

function refuseBuiltin(skillId: string): void {
  if (isBuiltinSkillId(skillId)) {
    if (findBuiltinSkill(skillId)) throw errors.forbidden("Built-in skills are read-only; create a custom skill to change one.");
    throw errors.notFound("Skill", "skillId");
  }
}

function refuseBuiltinName(name: string): void {
  if (builtinSkills().some((s) => s.name === name)) throw errors.conflict(`"${name}" is the name of a built-in skill.`, "name", "already_exists");
}

const duplicateName = (name: string) => errors.conflict(`This org already has a skill named "${name}".`, "name", "already_exists");

/** Skills: built-in (from the repo, read-only) and custom (per org), and their attachment to agents. */
export function skillRoutes() {
  const app = createRouter();

  app.openapi(createSkillRoute, async (c) => {
    const { access, services } = c.var;
    const body = await readSkillBody(c, CreateSkillBody, () => c.req.valid("json") as z.output<typeof CreateSkillBody>);
    refuseBuiltinName(body.name);
    const now = Date.now();
    const row: SkillsTable = {
      id: newId("skl"),
      org_id: access.orgId,
      name: body.name,
      description: body.description,
      content: body.content,
      files: JSON.stringify(body.files),
      created_at: now,
      updated_at: now,
    };
    try {
      await insertSkill(services.db.kysely, row);
    } catch (error) {
      if (isUniqueViolation(error)) throw duplicateName(body.name);
      throw error;
    }
    return c.json(serializeCustom(row), 201);
  });

  app.openapi(listSkillsRoute, async (c) => {
    const { access, services } = c.var;
    const custom = await listCustomSkills(services.db.kysely, access.orgId);
    return c.json({ data: [...builtinSkills().map(serializeBuiltin), ...custom.map(serializeCustom)] }, 200);
  });

  app.openapi(getSkillRoute, async (c) => {
    const { access, services } = c.var;
    const { skillId } = c.req.valid("param");
    const builtin = findBuiltinSkill(skillId);
    if (builtin) return c.json(serializeBuiltin(builtin), 200);
    const row = await findCustomSkill(services.db.kysely, access.orgId, skillId);
    if (!row) throw errors.notFound("Skill", "skillId");
    return c.json(serializeCustom(row), 200);
  });

  app.openapi(updateSkillRoute, async (c) => {
    const { access, services } = c.var;
    const { skillId } = c.req.valid("param");
    refuseBuiltin(skillId);
    const db = services.db.kysely;
    const existing = await findCustomSkill(db, access.orgId, skillId);
    if (!existing) throw errors.notFound("Skill", "skillId");
    const body = await readSkillBody(c, UpdateSkillBody, () => c.req.valid("json") as z.output<typeof UpdateSkillBody>);
    const changes: Partial<Pick<SkillsTable, "name" | "description" | "content" | "files">> = {};
    if (body.name !== undefined && body.name !== existing.name) {
      refuseBuiltinName(body.name);
      changes.name = body.name;
    }
    if (body.description !== undefined) changes.description = body.description;
    if (body.content !== undefined) changes.content = body.content;
    if (body.files !== undefined) changes.files = JSON.stringify(body.files);
    if (Object.keys(changes).length === 0) return c.json(serializeCustom(existing), 200);
    let updated: SkillsTable | undefined;
    try {
      updated = await updateSkill(db, access.orgId, skillId, changes, Math.max(Date.now(), existing.updated_at + 1));
    } catch (error) {
      if (isUniqueViolation(error)) throw duplicateName(changes.name ?? existing.name);
      throw error;
    }
    if (!updated) throw errors.notFound("Skill", "skillId");
    return c.json(serializeCustom(updated), 200);
  });

  app.openapi(deleteSkillRoute, async (c) => {
    const { access, services } = c.var;
    const { skillId } = c.req.valid("param");
    refuseBuiltin(skillId);
    if (!(await deleteSkill(services.db.kysely, access.orgId, skillId))) throw errors.notFound("Skill", "skillId");
    return c.body(null, 204);
  });

  app.openapi(attachRoute, async (c) => {
    const { access, services } = c.var;
    const { agentId, skillId } = c.req.valid("param");
    const db = services.db.kysely;
    const agent = await requireVisibleAgent(c, access, agentId);
    if (!findBuiltinSkill(skillId) && !(await findCustomSkill(db, access.orgId, skillId))) throw errors.notFound("Skill", "skillId");
    await attachSkill(db, access.orgId, agent.id, skillId, Date.now());
    const [view] = await agentViews(services, access.orgId, [agent]);
    return c.json(view, 200);
  });

  app.openapi(detachRoute, async (c) => {
    const { access, services } = c.var;
    const { agentId, skillId } = c.req.valid("param");
    const agent = await requireVisibleAgent(c, access, agentId);
    if (!(await detachSkill(services.db.kysely, access.orgId, agent.id, skillId))) {
      throw errors.notFound("Skill attachment", "skillId");
    }
    return c.body(null, 204);
  });

  return app;
}
