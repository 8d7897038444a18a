import { parse as parseYaml } from "yaml";

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
  return { frontMatter: data as Record<string, unknown>, content: text.slice(match[0].length).replace(/^\s*\n/, "") };
}
