import { describe, expect, it } from "vitest";
import { buildSystemPrompt } from "./prompt";

describe("buildSystemPrompt", () => {
  it("returns the agent's prompt unchanged when no skill is attached", () => {
    expect(buildSystemPrompt("You are a research assistant.\n", [])).toBe("You are a research assistant.\n");
    expect(buildSystemPrompt("", [])).toBe("");
  });

  it("appends each skill in its own delimited section, in the given order, with companion files inside", () => {
    const prompt = buildSystemPrompt("You are helpful.", [
      { name: "web-research", description: "Research the web", content: "Search first.\n" },
      {
        name: "customer-support",
        description: 'Answer "customers"',
        content: "Be kind.",
        files: [{ name: "FAQ.md", content: "Q: A?\nA: B." }],
      },
    ]);
    expect(prompt.startsWith("You are helpful.\n\n")).toBe(true);
    const research = prompt.indexOf('<skill name="web-research" description="Research the web">\nSearch first.\n</skill>');
    const support = prompt.indexOf('<skill name="customer-support" description="Answer &quot;customers&quot;">\nBe kind.');
    expect(research).toBeGreaterThan(0);
    expect(support).toBeGreaterThan(research);
    expect(prompt).toContain('<file name="FAQ.md">\nQ: A?\nA: B.\n</file>\n</skill>');
    expect(prompt.match(/<skill /g)).toHaveLength(2);
    expect(prompt.match(/<\/skill>/g)).toHaveLength(2);
  });

  it("is deterministic", () => {
    const skills = [{ name: "a", description: "d", content: "c" }];
    expect(buildSystemPrompt("p", skills)).toBe(buildSystemPrompt("p", skills));
  });
});
