import { z } from "@hono/zod-openapi";
import { OrgIdParam, PathId, jsonWithin } from "../../http/openapi";
import { TOOL_NAMES, isToolName } from "../../runtime/tools/names";

/** Limits of an agent's `metadata`: the user's own small JSON object, not a document store. */
export const METADATA_MAX_KEYS = 50;
export const METADATA_MAX_BYTES = 16 * 1024;
/** Levels of nesting, the object itself included. */
export const METADATA_MAX_DEPTH = 20;

const Name = z.string().trim().min(1).max(100);
const Description = z.string().max(1000).nullable();
const SystemPrompt = z.string().max(100_000);
const Model = z.string().min(1).max(200).openapi({ description: "A model id of GET /v1/models", example: "claude-sonnet-4-20250514" });
const Temperature = z.number().min(0).max(1);
const MaxIterations = z.number().int().min(1).max(100);
const ToolName = z.string().refine(isToolName, {
  error: (issue) => `Unknown tool "${String(issue.input)}". Known tools: ${TOOL_NAMES.join(", ")}.`,
});
const EnabledTools = z.array(ToolName).max(TOOL_NAMES.length * 4);
/**
 * Tools whose calls wait for a person's decision (DESIGN.md §6): names of the agent's tools, or
 * "*" for every tool. Checked against the agent's `enabledTools` by the routes (the body alone
 * does not know them on PATCH).
 */
const ApprovalRequired = z
  .array(z.string().min(1).max(100))
  .max(TOOL_NAMES.length * 4)
  .openapi({ description: 'Tool names of the agent (or "*" for all) whose calls wait for an approval; default []' });
const Metadata = z
  .record(z.string().min(1).max(100), z.unknown())
  .superRefine((value, ctx) => {
    if (Object.keys(value).length > METADATA_MAX_KEYS) ctx.addIssue({ code: "custom", message: `At most ${METADATA_MAX_KEYS} keys.` });
    else jsonWithin({ maxDepth: METADATA_MAX_DEPTH, maxBytes: METADATA_MAX_BYTES })(value, ctx);
  })
  .openapi({
    description: `Your own JSON object (at most ${METADATA_MAX_KEYS} keys, ${METADATA_MAX_BYTES / 1024} KB, nested at most ${METADATA_MAX_DEPTH} levels)`,
  });

export const CreateAgentBody = z
  .strictObject({
    name: Name,
    description: Description.optional(),
    systemPrompt: SystemPrompt.default(""),
    model: Model,
    temperature: Temperature.optional().openapi({ description: "0-1; default: the model's default, else 0.7" }),
    maxIterations: MaxIterations.default(25),
    enabledTools: EnabledTools.default([]).openapi({ description: "Tool names; duplicates are removed" }),
    metadata: Metadata.default({}),
    approvalRequired: ApprovalRequired.default([]),
  })
  .openapi("CreateAgentRequest");

/** Every field optional; sent fields change, `null` is refused except for `description` (clears it). */
export const UpdateAgentBody = z
  .strictObject({
    name: Name.optional(),
    description: Description.optional(),
    systemPrompt: SystemPrompt.optional(),
    model: Model.optional(),
    temperature: Temperature.optional(),
    maxIterations: MaxIterations.optional(),
    enabledTools: EnabledTools.optional(),
    metadata: Metadata.optional().openapi({ description: "Replaces the whole object" }),
    approvalRequired: ApprovalRequired.optional(),
  })
  .openapi("UpdateAgentRequest");

export const SkillSummarySchema = z
  .object({ id: z.string(), name: z.string(), description: z.string(), builtIn: z.boolean() })
  .openapi("SkillSummary");

export const AgentSchema = z
  .object({
    id: z.string().openapi({ example: "ag_4f9Kq2..." }),
    name: z.string(),
    description: z.string().nullable(),
    systemPrompt: z.string(),
    model: z.string(),
    temperature: z.number(),
    maxIterations: z.number().int(),
    enabledTools: z.array(z.string()),
    unavailableTools: z
      .array(z.object({ name: z.string(), reason: z.string() }))
      .openapi({ description: "Enabled tools this org's plan or this deployment does not offer; never used at run time" }),
    metadata: z.record(z.string(), z.unknown()),
    approvalRequired: z.array(z.string()),
    skills: z.array(SkillSummarySchema),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Agent");

export const AgentIdParam = PathId("agentId", "ag_4f9Kq2");

export const AgentParams = z.object({ orgId: OrgIdParam, agentId: AgentIdParam });
