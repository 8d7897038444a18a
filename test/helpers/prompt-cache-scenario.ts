/**
 * A 10-turn conversation with tools, run through a real gateway against the fake Anthropic API
 * with its prompt-cache simulation: each turn the model searches its memory (memory_read), then
 * answers; HISTORY grows after every turn, so the memory matched to each message changes. Shared
 * by the prompt-cache test (what the requests look like) and bench/prompt-cache.ts (what they cost).
 */
import { type FakeAnthropic, PromptCacheSimulation, startFakeAnthropic } from "../fakes/anthropic";
import { type Harness, createHarness } from "./harness";

export interface RecordedCall {
  turn: number;
  body: any;
  usage: { inputTokens: number; outputTokens: number; cacheReadTokens: number; cacheWriteTokens: number };
}

export const SCENARIO_MODEL = "claude-sonnet-5-5";
export const SCENARIO_TURNS = 10;
/** Anthropic's minimum cacheable prefix for Sonnet models. */
export const SONNET_MIN_CACHE_TOKENS = 1024;

/** An agent prompt of the size real ones have (about 1,700 tokens by the 4-characters rule). */
const POLICY = [
  "You are the support agent of Teapot & Co., a small shop selling kettles, teapots and loose-leaf tea.",
  "Answer in the customer's language, in at most five sentences, and always name the order number you are talking about.",
  "Refunds: within 30 days of delivery, for unused items in their box; damaged items are refunded or replaced at the customer's choice without asking for the item back when it costs less than 40 EUR.",
  "Shipping: orders placed before 14:00 CET leave the same working day; Europe takes 2-5 working days, the rest of the world 5-12.",
  "Never promise a delivery date the carrier has not given, never share another customer's data, and escalate to a human when the customer mentions legal action, injury or a chargeback.",
  "Before answering about an order, search your memory for earlier conversations about it, and save anything the next agent should know.",
];
const SYSTEM_PROMPT = Array.from({ length: 6 }, (_, i) => `## Part ${i + 1}\n${POLICY.join("\n")}`).join("\n\n");

const QUESTIONS = [
  "Order 1042: where is my teal kettle?",
  "Order 1042 again: the carrier says delivered but there is nothing here.",
  "Can you refund order 1042 instead?",
  "Order 2210: the teapot lid arrived cracked.",
  "For order 2210 I would rather have a replacement.",
  "Order 1042: found it at the neighbour's, cancel the refund please.",
  "Do you ship order 3301 to Canada, and how long does it take?",
  "Order 3301: can I add a second tin of sencha?",
  "Order 2210: the replacement arrived, thanks. Is the cracked one to be sent back?",
  "Summarise what is open on my orders 1042, 2210 and 3301.",
];

export interface ScenarioRun {
  calls: RecordedCall[];
  fake: FakeAnthropic;
  harness: Harness;
  close(): Promise<void>;
}

/** Runs the conversation; `calls` are the upstream requests in order with the usage the fake billed. */
export async function runPromptCacheScenario(): Promise<ScenarioRun> {
  const fake = await startFakeAnthropic({ promptCache: { minTokens: SONNET_MIN_CACHE_TOKENS } });
  const harness = await createHarness({
    ANTHROPIC_API_KEY: "sk-ant-test-key-0000000000",
    ANTHROPIC_BASE_URL: fake.url,
    OPENPAW_DEFAULT_PLAN: "unlimited",
  });
  const account = await harness.signup();
  const agent = await harness.request("POST", `/v1/orgs/${account.orgId}/agents`, {
    cookie: account.cookie,
    body: { name: "Support", model: SCENARIO_MODEL, systemPrompt: SYSTEM_PROMPT, enabledTools: ["memory_read", "memory_write"] },
  });
  if (agent.status !== 201) throw new Error(`agent: ${agent.status} ${agent.text}`);
  for (const note of ["Customer prefers email over phone.", "Customer lives in Ghent, Belgium.", "VIP since 2024: free shipping."]) {
    await harness.request("POST", `/v1/orgs/${account.orgId}/agents/${agent.body.id}/memory/notes`, { cookie: account.cookie, body: { content: note } });
  }
  // Each turn: a memory search on the order number, then the answer.
  fake.setFallback((body) => {
    const last = body.messages.at(-1);
    const answered = Array.isArray(last?.content) && last.content.some((b: { type: string }) => b.type === "tool_result");
    if (answered) return { text: "Here is where things stand on that order, and what I will do next.", textChunks: 4, usage: { outputTokens: 40 } };
    const question = [...last.content].reverse().find((b: { type: string }) => b.type === "text")?.text ?? "";
    const order = /\d{4}/.exec(question)?.[0] ?? "orders";
    return { toolCalls: [{ name: "memory_read", input: { query: `order ${order}` } }], usage: { outputTokens: 25 } };
  });
  let conversationId: string | undefined;
  for (const [i, message] of QUESTIONS.slice(0, SCENARIO_TURNS).entries()) {
    const before = fake.requests.length;
    const res = await harness.request("POST", `/v1/agent/${agent.body.id}/chat`, {
      cookie: account.cookie,
      body: { message, stream: false, ...(conversationId ? { conversationId } : {}) },
    });
    if (res.status !== 200) throw new Error(`turn ${i + 1}: ${res.status} ${res.text}`);
    conversationId = res.body.conversationId;
    for (const record of fake.requests.slice(before)) (record as { turn?: number }).turn = i + 1;
  }
  const calls = fake.requests.map((r) => ({ turn: (r as { turn?: number }).turn ?? 0, body: r.body, usage: r.usage as RecordedCall["usage"] }));
  return {
    calls,
    fake,
    harness,
    async close() {
      await harness.close();
      await fake.close();
    },
  };
}

/**
 * The same requests as the gateway built them before prompt ordering (issue 20): one system block
 * holding the notes and the memory matched to the current message, a breakpoint on it and one on
 * the last tool, none in the conversation, and no memory in earlier user turns.
 */
export function asBeforeLayout(body: any): any {
  const messages = structuredClone(body.messages) as Array<{ role: string; content: any[] }>;
  const isMemory = (b: { type: string; text?: string }) => b.type === "text" && b.text?.startsWith("<memory_history>");
  let matches = "";
  const lastUserText = messages.findLastIndex((m) => m.role === "user" && m.content.some((b) => b.type === "text" && !isMemory(b)));
  messages.forEach((message, index) => {
    if (message.role !== "user") return;
    if (index === lastUserText) matches = message.content.find(isMemory)?.text ?? "";
    message.content = message.content.filter((b) => !isMemory(b)).map(({ cache_control, ...b }) => b);
  });
  for (const message of messages) message.content = message.content.map(({ cache_control, ...b }) => b);
  const systemText = [...body.system.map((b: { text: string }) => b.text), matches].filter(Boolean).join("\n\n");
  const tools = body.tools.map((t: object, i: number) => (i === body.tools.length - 1 ? { ...t, cache_control: { type: "ephemeral" } } : t));
  return { ...body, system: [{ type: "text", text: systemText, cache_control: { type: "ephemeral" } }], tools, messages };
}

/** Replays request bodies through a fresh cache simulation: the usage each would have been billed. */
export function replay(bodies: any[], outputs: number[]): RecordedCall["usage"][] {
  const cache = new PromptCacheSimulation({ minTokens: SONNET_MIN_CACHE_TOKENS });
  return bodies.map((body, i) => ({ ...cache.usage(body), outputTokens: outputs[i] }));
}
