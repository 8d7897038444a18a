import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseSkillMarkdown } from "./markdown";
import { projectFile } from "../../lib/project-files";

/** A skill shipped with OpenPaw, read from `skills/builtin/<name>.md`. Read-only for every org. */
export interface BuiltinSkill {
  id: string;
  name: string;
  description: string;
  content: string;
  files: Array<{ name: string; content: string }>;
}

/** Where the built-in SKILL.md files live in the checkout. */
export const BUILTIN_SKILLS_DIR = projectFile("skills/builtin");

/**
 * Built-ins are versioned with the code rather than stored, so they carry one fixed timestamp
 * (the date of the skill set) for `createdAt`/`updatedAt` instead of a checkout-dependent mtime.
 */
export const BUILTIN_SKILLS_DATE = Date.UTC(2026, 10, 1);

const SLUG = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** The stable id of a built-in skill: `skl_builtin_` + its name with dashes as underscores (`skl_builtin_web_research`). */
export function builtinSkillId(name: string): string {
  return `skl_builtin_${name.replace(/-/g, "_")}`;
}

/** True for ids in the built-in namespace (whether or not such a skill exists). */
export function isBuiltinSkillId(id: string): boolean {
  return id.startsWith("skl_builtin_");
}

/** Reads every `*.md` of a directory as a built-in skill, sorted by name; a malformed file is a startup error. */
export function loadBuiltinSkills(dir: string = BUILTIN_SKILLS_DIR): BuiltinSkill[] {
  const skills = readdirSync(dir)
    .filter((f) => f.endsWith(".md"))
    .map((file) => {
      const { frontMatter, content } = parseSkillMarkdown(readFileSync(join(dir, file), "utf8"));
      const { name, description } = frontMatter;
      if (typeof name !== "string" || !SLUG.test(name)) throw new Error(`Built-in skill ${file}: name must be a slug`);
      if (typeof description !== "string" || !description.trim()) throw new Error(`Built-in skill ${file}: description is required`);
      return { id: builtinSkillId(name), name, description: description.trim(), content, files: [] };
    });
  return skills.sort((a, b) => a.name.localeCompare(b.name));
}

let cached: BuiltinSkill[] | null = null;

/** The built-in skills of this checkout (read once: they only change with the code). */
export function builtinSkills(): BuiltinSkill[] {
  cached ??= loadBuiltinSkills();
  return cached;
}

/** A built-in skill by id. */
export function findBuiltinSkill(id: string): BuiltinSkill | undefined {
  return builtinSkills().find((s) => s.id === id);
}
