import { describe, expect, it } from "vitest";
import { composeSystemPrompt, fitHistory, historyEntry } from "./context";
import type { ChatMessage } from "./models/types";

describe("run context", () => {
  it("puts notes and matching history in delimited sections after the agent prompt", () => {
    const prompt = composeSystemPrompt(
      "You are helpful.",
      [{ id: "n1", content: "User prefers metric units", createdAt: Date.UTC(2026, 0, 2) }],
      [{ id: "h1", conversationId: "conv_1", content: "Asked: weather | Answered: sunny", createdAt: Date.UTC(2026, 0, 1) }],
      { memoryTools: true },
    );
    expect(prompt.startsWith("You are helpful.")).toBe(true);
    expect(prompt).toContain("<memory_notes>\nYour saved notes (oldest first):\n- [2026-01-02 00:00] User prefers metric units\n</memory_notes>");
    expect(prompt).toContain("- [2026-01-01 00:00] Asked: weather | Answered: sunny");
    expect(prompt).toContain("memory_write");
    expect(prompt).toContain("<tool_output>");
    expect(composeSystemPrompt("P", [], [], { memoryTools: false })).not.toContain("memory_notes");
  });

  it("adds the caller's instructions after the agent's prompt and memory, before the tool-output rule", () => {
    const prompt = composeSystemPrompt("Agent prompt.", [{ id: "n1", content: "a note", createdAt: 0 }], [], {
      memoryTools: false,
      instructions: "  Answer in French.  ",
    });
    const at = (text: string) => prompt.indexOf(text);
    expect(at("Agent prompt.")).toBe(0);
    expect(at("</memory_notes>")).toBeLessThan(at("Answer in French."));
    expect(at("Answer in French.")).toBeLessThan(at("<tool_output>"));
    expect(composeSystemPrompt("P", [], [], { memoryTools: false, instructions: " " })).toBe(composeSystemPrompt("P", [], [], { memoryTools: false }));
  });

  it("trims history oldest turn first and never separates a tool call from its result", () => {
    const turn = (n: number): ChatMessage[] => [
      { role: "user", content: `question ${n} ${"x".repeat(400)}` },
      { role: "assistant", content: [{ type: "tool_call", id: `c${n}`, name: "web_search", input: { query: "q" } }] },
      { role: "tool", results: [{ toolCallId: `c${n}`, name: "web_search", content: "r".repeat(400), isError: false }] },
      { role: "assistant", content: [{ type: "text", text: `answer ${n}` }] },
    ];
    const history = [...turn(1), ...turn(2), ...turn(3)];
    const all = fitHistory(history, 100_000);
    expect(all).toHaveLength(12);
    const some = fitHistory(history, 500);
    expect(some.length % 4).toBe(0);
    expect(some.length).toBeLessThan(12);
    expect(some[0]).toMatchObject({ role: "user" });
    expect((some[0] as { content: string }).content).toContain("question 3");
    expect(fitHistory(history, 10)).toEqual([]);
  });

  it("summarises a turn without a model call", () => {
    expect(historyEntry("What is  the\ncapital?", "Paris.")).toBe("Asked: What is the capital? | Answered: Paris.");
    expect(historyEntry("q", "a".repeat(1000)).length).toBeLessThan(530);
  });
});
