import { z } from "@hono/zod-openapi";
import { OrgIdParam, PathId } from "../../http/openapi";
import { AgentIdParam } from "../agents/schemas";

export const SKILL_CONTENT_MAX_BYTES = 100 * 1024;
export const SKILL_MAX_FILES = 20;

const bytes = (s: string) => new TextEncoder().encode(s).length;

export const SkillName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, "must be a slug: 1-64 lowercase letters, digits and dashes, not starting with a dash")
  .openapi({ example: "web-research" });
const Description = z.string().trim().min(1).max(1024);
const Content = z
  .string()
  .trim()
  .min(1)
  .refine((s) => bytes(s) <= SKILL_CONTENT_MAX_BYTES, `must be at most ${SKILL_CONTENT_MAX_BYTES / 1024} KB`);
const SkillFile = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, "must be a file name such as FAQ.md (letters, digits, . _ -)"),
  content: z.string().refine((s) => bytes(s) <= SKILL_CONTENT_MAX_BYTES, `must be at most ${SKILL_CONTENT_MAX_BYTES / 1024} KB`),
});
const Files = z
  .array(SkillFile)
  .max(SKILL_MAX_FILES)
  .superRefine((files, ctx) => {
    const seen = new Set<string>();
    files.forEach((file, index) => {
      if (seen.has(file.name)) ctx.addIssue({ code: "custom", message: `Duplicate file name "${file.name}".`, path: [index, "name"] });
      seen.add(file.name);
    });
  })
  .openapi({ description: `Companion documents (e.g. FAQ.md), at most ${SKILL_MAX_FILES}` });

export const CreateSkillBody = z
  .strictObject({ name: SkillName, description: Description, content: Content, files: Files.default([]) })
  .openapi("CreateSkillRequest");

export const UpdateSkillBody = z
  .strictObject({
    name: SkillName.optional(),
    description: Description.optional(),
    content: Content.optional(),
    files: Files.optional().openapi({ description: "Replaces all companion files" }),
  })
  .openapi("UpdateSkillRequest");

export const SkillSchema = z
  .object({
    id: z.string().openapi({ example: "skl_builtin_web_research" }),
    name: z.string(),
    description: z.string(),
    content: z.string(),
    files: z.array(z.object({ name: z.string(), content: z.string() })),
    builtIn: z.boolean(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Skill");

export const SkillMarkdownBody = z.string().openapi({
  description: "A SKILL.md: YAML front matter with name and description, then the instructions",
  example: "---\nname: release-notes\ndescription: Write release notes from a list of merged changes\n---\n\n# Release notes\n...",
});

const SkillIdParam = PathId("skillId", "skl_builtin_web_research");

export const SkillParams = z.object({ orgId: OrgIdParam, skillId: SkillIdParam });
export const AgentSkillParams = z.object({ orgId: OrgIdParam, agentId: AgentIdParam, skillId: SkillIdParam });
