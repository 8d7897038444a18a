/**
 * Prompt caching that hits: over a 10-turn conversation with tools, every request reads from the
 * cache exactly what the request before it wrote, so the cached prefix grows by one step each
 * call and only the newest part of the conversation is paid at full price.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RecordedCall, SCENARIO_TURNS, type ScenarioRun, asBeforeLayout, replay, runPromptCacheScenario } from "../../test/helpers/prompt-cache-scenario";

let run: ScenarioRun;
let calls: RecordedCall[];

beforeAll(async () => {
  run = await runPromptCacheScenario();
  calls = run.calls;
}, 60_000);
afterAll(() => run?.close());

const prompt = (u: RecordedCall["usage"]) => u.inputTokens + u.cacheReadTokens + u.cacheWriteTokens;
const marked = (body: unknown) => (JSON.stringify(body).match(/"cache_control"/g) ?? []).length;

describe("prompt caching over a 10-turn conversation with tools", () => {
  it("makes two calls a turn, each with at most four breakpoints", () => {
    expect(calls).toHaveLength(2 * SCENARIO_TURNS);
    for (const call of calls) expect(marked(call.body)).toBeLessThanOrEqual(4);
  });

  it("keeps the system prompt identical across turns although the memory matched to each message changes", () => {
    const systems = new Set(calls.map((c) => JSON.stringify(c.body.system)));
    expect(systems.size).toBe(1);
    const contexts = calls.flatMap((c) => c.body.messages.flatMap((m: any) => (m.role === "user" ? m.content : [])).filter((b: any) => b.text?.startsWith("<memory_history>")));
    expect(new Set(contexts.map((b: any) => b.text)).size).toBeGreaterThan(1);
  });

  it("reads exactly what the previous request wrote: the cached prefix grows with the conversation", () => {
    expect(calls[0].usage.cacheReadTokens).toBe(0);
    expect(calls[0].usage.cacheWriteTokens).toBeGreaterThan(1024);
    for (let i = 1; i < calls.length; i++) {
      const previous = calls[i - 1].usage;
      const current = calls[i].usage;
      expect(current.cacheReadTokens, `call ${i + 1} (turn ${calls[i].turn})`).toBe(previous.cacheReadTokens + previous.cacheWriteTokens);
      // Nothing of the conversation is paid at full price twice: what is not read is written for the next call.
      expect(current.inputTokens, `call ${i + 1}`).toBe(0);
      expect(current.cacheWriteTokens).toBe(prompt(current) - current.cacheReadTokens);
    }
    expect(calls.at(-1)?.usage.cacheReadTokens).toBeGreaterThan(calls[1].usage.cacheReadTokens);
  });

  it("the layout before issue 20 missed on every turn: matches in the system prompt, no conversation breakpoint", () => {
    const before = replay(
      calls.map((c) => asBeforeLayout(c.body)),
      calls.map((c) => c.usage.outputTokens),
    );
    const after = calls.map((c) => c.usage);
    const read = (list: RecordedCall["usage"][]) => list.reduce((n, u) => n + u.cacheReadTokens, 0);
    const fullPrice = (list: RecordedCall["usage"][]) => list.reduce((n, u) => n + u.inputTokens, 0);
    expect(read(after)).toBeGreaterThan(read(before));
    expect(fullPrice(after)).toBeLessThan(fullPrice(before) / 4);
  });
});
