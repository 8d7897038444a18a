import { describe, expect, it } from "vitest";
import { composeContext, conversationBreakpoints, fitHistory, historyEntry, promptText } from "./context";
import type { ChatMessage } from "./models/types";

describe("run context", () => {
  it("orders the prompt from stable to volatile: prompt and instructions, then notes; matches ride on the message", () => {
    const ctx = composeContext(
      "You are helpful.",
      [{ id: "n1", content: "User prefers metric units", createdAt: Date.UTC(2026, 0, 2) }],
      [{ id: "h1", conversationId: "conv_1", content: "Asked: weather | Answered: sunny", createdAt: Date.UTC(2026, 0, 1) }],
      { memoryTools: true },
    );
    expect(ctx.system).toHaveLength(2);
    expect(ctx.system.every((b) => b.cache)).toBe(true);
    expect(ctx.system[0].text.startsWith("You are helpful.")).toBe(true);
    expect(ctx.system[0].text).toContain("memory_write");
    expect(ctx.system[0].text).toContain("<tool_output>");
    expect(ctx.system[1].text).toBe("<memory_notes>\nYour saved notes (oldest first):\n- [2026-01-02 00:00] User prefers metric units\n</memory_notes>");
    // The matches change with every message: none of them is in the system prompt.
    expect(promptText(ctx.system)).not.toContain("sunny");
    expect(ctx.userContext).toContain("- [2026-01-01 00:00] Asked: weather | Answered: sunny");
    const bare = composeContext("P", [], [], { memoryTools: false });
    expect(bare.system).toHaveLength(1);
    expect(bare.userContext).toBeUndefined();
    expect(promptText(bare.system)).not.toContain("memory_notes");
  });

  it("the same agent gives the same system prompt whatever the message", () => {
    const notes = [{ id: "n1", content: "likes teal", createdAt: 1 }];
    const a = composeContext("P", notes, [{ id: "h", conversationId: "c", content: "Asked: a", createdAt: 1 }], { memoryTools: true });
    const b = composeContext("P", notes, [], { memoryTools: true });
    expect(a.system).toEqual(b.system);
  });

  it("puts the conversation's breakpoints at its end and where the previous call ended", () => {
    const u = (content: string): ChatMessage => ({ role: "user", content });
    const a = (text: string): ChatMessage => ({ role: "assistant", content: [{ type: "text", text }] });
    const call: ChatMessage = { role: "assistant", content: [{ type: "tool_call", id: "c1", name: "t", input: {} }] };
    const result: ChatMessage = { role: "tool", results: [{ toolCallId: "c1", name: "t", content: "r", isError: false }] };
    expect(conversationBreakpoints([])).toEqual([]);
    expect(conversationBreakpoints([u("q")])).toEqual([0]);
    // The first call of a second turn: the previous run's last request ended at the first question.
    expect(conversationBreakpoints([u("q1"), a("a1"), u("q2")])).toEqual([0, 2]);
    // The second call of a run: the first call's request ended at the question.
    expect(conversationBreakpoints([u("q1"), a("a1"), u("q2"), call, result])).toEqual([2, 4]);
    expect(conversationBreakpoints([u("q1"), call, result, a("a1"), u("q2")])).toEqual([2, 4]);
  });

  it("adds the caller's instructions after the agent's prompt, before the tool-output rule, in the stable block", () => {
    const { system } = composeContext("Agent prompt.", [{ id: "n1", content: "a note", createdAt: 0 }], [], {
      memoryTools: false,
      instructions: "  Answer in French.  ",
    });
    const stable = system[0].text;
    const at = (text: string) => stable.indexOf(text);
    expect(at("Agent prompt.")).toBe(0);
    expect(at("Agent prompt.")).toBeLessThan(at("Answer in French."));
    expect(at("Answer in French.")).toBeLessThan(at("<tool_output>"));
    expect(system[1].text).toContain("a note");
    expect(composeContext("P", [], [], { memoryTools: false, instructions: " " })).toEqual(composeContext("P", [], [], { memoryTools: false }));
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
