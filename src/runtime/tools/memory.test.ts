import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertAgentRow } from "../../../test/helpers/fixtures";
import { type Harness, createHarness } from "../../../test/helpers/harness";
import { createMemoryStore } from "../../features/memory/store";
import { createMemoryTools } from "./memory";
import type { ToolContext, ToolDefinition, ToolOutput } from "./types";

describe("memory_read and memory_write", () => {
  let h: Harness;
  let orgId: string;
  let tools: ReturnType<typeof createMemoryTools>;

  const insertAgent = () => insertAgentRow(h, orgId, "Tool test");

  async function call<I>(tool: ToolDefinition<I>, agentId: string, input: unknown): Promise<ToolOutput> {
    const ctx: ToolContext = { orgId, agentId, runId: "run_t", conversationId: "conv_t", signal: new AbortController().signal };
    const out = await tool.execute(tool.input.parse(input), ctx);
    return typeof out === "string" ? { content: out } : out;
  }

  beforeAll(async () => {
    h = await createHarness();
    orgId = (await h.signup()).orgId;
    // Small caps so that the refusals are reachable.
    tools = createMemoryTools((ctx) => createMemoryStore(h.services.db.kysely, ctx.orgId, ctx.agentId, { maxNotes: 2, maxNoteChars: 40 }));
  });
  afterAll(() => h.close());

  it("are named, free-tier tools with input schemas", () => {
    expect([tools.memoryRead.name, tools.memoryRead.tier, tools.memoryWrite.name, tools.memoryWrite.tier]).toEqual([
      "memory_read",
      "free",
      "memory_write",
      "free",
    ]);
    expect(tools.memoryWrite.input.safeParse({ content: "  " }).success).toBe(false);
    expect(tools.memoryRead.input.safeParse({}).success).toBe(false);
  });

  it("memory_write saves a note and confirms with the count; memory_read finds it", async () => {
    const agentId = await insertAgent();
    expect(await call(tools.memoryWrite, agentId, { content: "User's dog is named Biscuit." })).toEqual({
      content: "Saved note (1 of 2).",
    });
    expect((await call(tools.memoryRead, agentId, { query: "what is the DOG called" })).content).toMatch(
      /^\[\d{4}-\d{2}-\d{2} note\] User's dog is named Biscuit\.$/,
    );
    expect((await call(tools.memoryRead, agentId, { query: "" })).content).toContain("Biscuit");
    expect(await call(tools.memoryRead, agentId, { query: "giraffe" })).toEqual({ content: "No matching notes or history." });
  });

  it("memory_write returns an error result when the note is too long or memory is full", async () => {
    const agentId = await insertAgent();
    const long = await call(tools.memoryWrite, agentId, { content: "x".repeat(41) });
    expect(long).toEqual({ isError: true, content: expect.stringContaining("limit is 40") });
    await call(tools.memoryWrite, agentId, { content: "one" });
    await call(tools.memoryWrite, agentId, { content: "two" });
    const full = await call(tools.memoryWrite, agentId, { content: "three" });
    expect(full).toEqual({ isError: true, content: expect.stringContaining("Memory is full (2 of 2 notes)") });
  });

  it("each run reads its own agent's memory only", async () => {
    const first = await insertAgent();
    const second = await insertAgent();
    await call(tools.memoryWrite, first, { content: "Owl facts belong to the first agent." });
    expect((await call(tools.memoryRead, second, { query: "owl" })).content).toBe("No matching notes or history.");
    expect((await call(tools.memoryRead, first, { query: "owl" })).content).toContain("Owl facts");
  });
});
