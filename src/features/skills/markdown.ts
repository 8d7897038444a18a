import { parse as parseYaml } from "yaml";
import { checkJsonBounds } from "../../lib/json-bounds";

/** Front matter is a few keys (name, description, ...): bounded so parsing it costs little. */
export const FRONT_MATTER_MAX_BYTES = 16 * 1024;
export const FRONT_MATTER_MAX_DEPTH = 20;

/** A SKILL.md that cannot be read; `field` names what is wrong (`frontMatter`, `name`, ...). */
export class SkillMarkdownError extends Error {
  override name = "SkillMarkdownError";
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

/** A SKILL.md split into its YAML front matter and its markdown body. */
export interface SkillMarkdown {
  frontMatter: Record<string, unknown>;
  content: string;
}

const FRONT_MATTER = /^\uFEFF?---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/;

/**
 * Splits a SKILL.md (the format of Anthropic's Agent Skills: YAML front matter with `name` and
 * `description` between `---` lines, then markdown instructions). Other front-matter keys are
 * returned too; callers decide which they use.
 */
export function parseSkillMarkdown(text: string): SkillMarkdown {
  const match = FRONT_MATTER.exec(text);
  if (!match) {
    throw new SkillMarkdownError(
      'A SKILL.md must start with YAML front matter between "---" lines, naming at least name and description.',
      "frontMatter",
    );
  }
  if (new TextEncoder().encode(match[1]).length > FRONT_MATTER_MAX_BYTES) {
    throw new SkillMarkdownError(`The front matter must be at most ${FRONT_MATTER_MAX_BYTES / 1024} KB.`, "frontMatter");
  }
  let data: unknown;
  try {
    data = parseYaml(match[1]);
  } catch (error) {
    const reason = (error as Error).message.split("\n")[0];
    throw new SkillMarkdownError(`The front matter is not valid YAML: ${reason}`, "frontMatter");
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new SkillMarkdownError("The front matter must be a YAML mapping (key: value lines).", "frontMatter");
  }
  // The YAML parser itself gives up on deep nesting with a parse error; what it returns may still
  // be deep (or cyclic, through aliases), and callers serialise it.
  const bounds = checkJsonBounds(data, { maxDepth: FRONT_MATTER_MAX_DEPTH, maxBytes: FRONT_MATTER_MAX_BYTES * 4 });
  if (!bounds.ok) throw new SkillMarkdownError(`The front matter is too complex: ${bounds.message}`, "frontMatter");
  return { frontMatter: data as Record<string, unknown>, content: text.slice(match[0].length).replace(/^\s*\n/, "") };
}
