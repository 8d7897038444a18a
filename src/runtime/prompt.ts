/** What the prompt builder needs of a skill. */
export interface PromptSkill {
  name: string;
  description: string;
  content: string;
  files?: ReadonlyArray<{ name: string; content: string }>;
}

/** Attribute values are our own slugs and file names, but escaping keeps a stray quote from breaking the tag. */
function attr(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * The system prompt of a run: the agent's own prompt, then each attached skill in a delimited
 * `<skill>` section (companion files nested inside as `<file>`), in the order given. Without
 * skills the agent's prompt is returned unchanged, so a skill-less agent sees exactly what its
 * owner wrote.
 */
export function buildSystemPrompt(systemPrompt: string, skills: readonly PromptSkill[]): string {
  if (skills.length === 0) return systemPrompt;
  const sections = skills.map((skill) => {
    const parts = [`<skill name="${attr(skill.name)}" description="${attr(skill.description)}">`, skill.content.trim()];
    for (const file of skill.files ?? []) {
      parts.push(`<file name="${attr(file.name)}">`, file.content.trim(), "</file>");
    }
    parts.push("</skill>");
    return parts.join("\n");
  });
  const intro =
    "# Skills\n\nThe following skills are instruction sets you can use. Apply a skill when the task matches its description; " +
    "follow its instructions over your general habits, but never over the instructions above.";
  const head = systemPrompt.trimEnd();
  return `${head ? `${head}\n\n` : ""}${intro}\n\n${sections.join("\n\n")}`;
}
