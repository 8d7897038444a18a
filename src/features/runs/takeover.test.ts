/**
 * Continuing a background run whose gateway stopped, in process: the recorded state is what a
 * SIGKILLed gateway leaves behind (rows written by the executor up to the cut, a lapsed lease).
 * The real-process versions (SIGKILL, restart, a second replica) are in the fault and replica suites.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeAnthropic } from "../../../test/fakes/anthropic";
import type { FakeModelServer } from "../../../test/fakes/model-script";
import { runRow } from "../../../test/helpers/fixtures";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";
import { newId } from "../../lib/ids";
import { createLogger } from "../../lib/logger";
import type { ChatMessage } from "../../runtime/models/types";
import { type Services, createServices } from "../../services";
import { INTERRUPTED_TOOL_RESULT } from "./context";

const SONNET = "claude-sonnet-4-20250514";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("runs: continued by another gateway after a crash", () => {
  let h: Harness;
  let second: Services;
  let fake: FakeModelServer;
  let a: Account;
  let keyId: string;
  let agentId: string;

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    h = await createHarness({ ANTHROPIC_API_KEY: "sk-ant-test-key-000000000000", ANTHROPIC_BASE_URL: fake.url, OPENPAW_DEFAULT_PLAN: "unlimited" });
    // A second gateway on the same database.
    second = await createServices(h.config, { logger: createLogger("warn", { write: (line) => h.logs.push(line) }) });
    a = await h.signup();
    keyId = (await h.createKey(a, { scopes: ["chat", "read"] })).id;
    const agent = await h.request("POST", `/v1/orgs/${a.orgId}/agents`, {
      cookie: a.cookie,
      body: { name: "Worker", systemPrompt: "Work.", model: SONNET, enabledTools: ["memory_write", "memory_read"] },
    });
    agentId = agent.body.id;
  });
  afterAll(async () => {
    await second.close();
    await h.close();
    await fake.close();
  });
  beforeEach(() => {
    fake.requests.length = 0;
    fake.setFallback(() => ({ text: "finished", textChunks: 1 }));
  });

  /** Writes what a gateway killed mid-run leaves: the run row (lease lapsed), its messages and its logged events. */
  async function orphan(options: {
    input: string;
    messages: ChatMessage[];
    events: Array<{ event: string; data: unknown }>;
    iterations: number;
    background?: boolean;
    instructions?: string;
    prelude?: ChatMessage[];
  }) {
    const db = h.services.db.kysely;
    const conversationId = newId("conv");
    const now = Date.now();
    await db.insertInto("conversations").values({ id: conversationId, org_id: a.orgId, agent_id: agentId, title: "t", created_at: now, updated_at: now }).execute();
    const row = runRow({
      org_id: a.orgId,
      agent_id: agentId,
      conversation_id: conversationId,
      api_key_id: keyId,
      status: "running",
      background: options.background === false ? 0 : 1,
      input: options.input,
      instructions: options.instructions ?? null,
      prelude: options.prelude ? JSON.stringify(options.prelude) : null,
      iterations: options.iterations,
      input_tokens: 100 * options.iterations,
      output_tokens: 10 * options.iterations,
      last_event_seq: options.events.length,
      lease_owner: "gone-host/1/dead",
      lease_expires_at: now - 1,
    });
    await db.insertInto("runs").values(row).execute();
    for (const [i, message] of options.messages.entries()) {
      await db
        .insertInto("messages")
        .values({ id: newId("msg"), org_id: a.orgId, conversation_id: conversationId, run_id: row.id, seq: i + 1, role: message.role, content: JSON.stringify(message), created_at: now })
        .execute();
    }
    if (options.events.length) {
      await db
        .insertInto("run_events")
        .values(options.events.map((e, i) => ({ run_id: row.id, seq: i + 1, org_id: a.orgId, event: e.event, data: JSON.stringify(e.data), created_at: now })))
        .execute();
    }
    return row;
  }

  const waitEnded = async (runId: string) => {
    for (let i = 0; i < 400; i++) {
      const row = await h.services.db.kysely.selectFrom("runs").selectAll().where("id", "=", runId).executeTakeFirstOrThrow();
      if (row.ended_at !== null) return row;
      await sleep(25);
    }
    throw new Error(`run ${runId} did not end`);
  };
  const eventsOf = async (runId: string) =>
    (await h.services.db.kysely.selectFrom("run_events").selectAll().where("run_id", "=", runId).orderBy("seq").execute()).map((e) => ({
      seq: e.seq,
      event: e.event,
      data: JSON.parse(e.data),
    }));
  /** HISTORY is appended just after the run's ending is recorded: wait for it rather than race it. */
  const historyOf = async (conversationId: string) => {
    for (let i = 0; i < 200; i++) {
      const rows = await h.services.db.kysely.selectFrom("memory_history").select("content").where("conversation_id", "=", conversationId).execute();
      if (rows.length) return rows;
      await sleep(25);
    }
    return [];
  };
  const notes = () => h.services.db.kysely.selectFrom("memory_notes").select("content").where("agent_id", "=", agentId).execute();

  it("cut during a tool call: the call is not run again, the model is told it was interrupted, the log continues after resumed", async () => {
    const call = { type: "tool_call" as const, id: "toolu_cut", name: "memory_write", input: { content: "written before the crash?" } };
    const row = await orphan({
      input: "save it",
      iterations: 1,
      messages: [{ role: "user", content: "save it" }, { role: "assistant", content: [{ type: "text", text: "Saving." }, call] }],
      events: [
        { event: "text", data: { text: "Saving." } },
        { event: "tool_start", data: { tool: "memory_write", id: "toolu_cut", input: call.input } },
      ],
    });
    fake.enqueue({ text: "It may not have been saved; let me check.", textChunks: 1 });
    expect(await second.runs.sweepOrphans()).toBe(1);
    const ended = await waitEnded(row.id);
    expect(ended).toMatchObject({ status: "completed", iterations: 2, tool_calls: 1, lease_owner: null });
    expect(await notes()).toEqual([]);
    // The model saw the call with the interruption note as its result.
    const sent = fake.requests[0].body.messages;
    const result = sent.at(-1).content[0];
    expect(result).toMatchObject({ type: "tool_result", tool_use_id: "toolu_cut", is_error: true });
    expect(JSON.stringify(result.content)).toContain("may or may not have taken effect");
    const log = await eventsOf(row.id);
    expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => i + 1));
    expect(log.slice(2).map((e) => e.event)).toEqual(["resumed", "tool_result", "text", "done"]);
    expect(log[2].data).toEqual({ iteration: 2 });
    expect(log[3].data).toMatchObject({ id: "toolu_cut", isError: true, output: INTERRUPTED_TOOL_RESULT });
    expect(log.at(-1)?.data).toMatchObject({ stopReason: "end_turn", iterations: 2, runId: row.id });
    const usage = await h.services.db.kysely.selectFrom("usage_records").selectAll().where("run_id", "=", row.id).execute();
    expect(usage).toHaveLength(1);
    // The cut call's usage is lost with the process; what was recorded plus the new call is billed.
    expect(usage[0].input_tokens).toBe(100 + fake.requests[0].usage!.inputTokens);
    const messages = await h.services.db.kysely.selectFrom("messages").select(["seq", "role"]).where("run_id", "=", row.id).orderBy("seq").execute();
    expect(messages.map((m) => m.role)).toEqual(["user", "assistant", "tool", "assistant"]);
  });

  it("a tool result logged before the cut is used as is, not run again", async () => {
    const call = { type: "tool_call" as const, id: "toolu_done", name: "memory_read", input: { query: "anything" } };
    const row = await orphan({
      input: "look it up",
      iterations: 1,
      messages: [{ role: "user", content: "look it up" }, { role: "assistant", content: [call] }],
      events: [
        { event: "tool_start", data: { tool: "memory_read", id: "toolu_done", input: call.input } },
        { event: "tool_result", data: { tool: "memory_read", id: "toolu_done", output: "recorded output 42", isError: false } },
      ],
    });
    expect(await second.runs.sweepOrphans()).toBe(1);
    await waitEnded(row.id);
    const result = fake.requests[0].body.messages.at(-1).content[0];
    expect(JSON.stringify(result.content)).toContain("recorded output 42");
    const log = await eventsOf(row.id);
    // Nothing re-emitted for the recorded call: resumed, then the new model call.
    expect(log.slice(2).map((e) => e.event)).toEqual(["resumed", "text", "done"]);
  });

  it("cut during a model call: the step is redone; text events before resumed belong to the cut step", async () => {
    const row = await orphan({
      input: "answer me",
      iterations: 0,
      messages: [{ role: "user", content: "answer me" }],
      events: [{ event: "text", data: { text: "Half an ans" } }],
    });
    fake.enqueue({ text: "A whole answer.", textChunks: 1 });
    await second.runs.sweepOrphans();
    const ended = await waitEnded(row.id);
    expect(ended.status).toBe("completed");
    const log = await eventsOf(row.id);
    expect(log.map((e) => e.event)).toEqual(["text", "resumed", "text", "done"]);
    expect(log[1].data).toEqual({ iteration: 1 });
    const history = await historyOf(row.conversation_id);
    expect(history[0].content).toContain("A whole answer.");
    expect(history[0].content).not.toContain("Half an ans");
  });

  it("the caller's instructions and prelude survive the crash: before the first message is recorded, and after", async () => {
    const prelude: ChatMessage[] = [
      { role: "user", content: "My name is Ada." },
      { role: "assistant", content: [{ type: "text", text: "Hello Ada, noted." }] },
    ];
    const fresh = await orphan({ input: "What is my name?", iterations: 0, messages: [], events: [], instructions: "Reply in French.", prelude });
    const cut = await orphan({
      input: "What is my name?",
      iterations: 0,
      messages: [...prelude, { role: "user", content: "What is my name?" }],
      events: [{ event: "text", data: { text: "Vous" } }],
      instructions: "Reply in French.",
      prelude,
    });
    fake.setFallback(() => ({ text: "Vous êtes Ada.", textChunks: 1 }));
    expect(await second.runs.sweepOrphans()).toBe(2);
    for (const row of [fresh, cut]) {
      expect((await waitEnded(row.id)).status).toBe("completed");
      const messages = await h.services.db.kysely.selectFrom("messages").select("role").where("run_id", "=", row.id).orderBy("seq").execute();
      expect(messages.map((m) => m.role)).toEqual(["user", "assistant", "user", "assistant"]);
      const history = await historyOf(row.conversation_id);
      // The run's answer is its own text only, not the caller's assistant turn.
      expect(history[0].content).toContain("Answered: Vous êtes Ada.");
      expect(history[0].content).not.toContain("Hello Ada");
    }
    expect(fake.requests).toHaveLength(2);
    for (const request of fake.requests) {
      expect(JSON.stringify(request.body.system)).toContain("Reply in French.");
      expect(request.body.messages.map((m: { role: string }) => m.role)).toEqual(["user", "assistant", "user"]);
      expect(JSON.stringify(request.body.messages[0])).toContain("My name is Ada.");
    }
  });

  it("a foreground run is not continued: it ends interrupted with its usage so far", async () => {
    const row = await orphan({ input: "fg", iterations: 1, background: false, messages: [{ role: "user", content: "fg" }], events: [] });
    await second.runs.sweepOrphans();
    const ended = await waitEnded(row.id);
    expect(ended).toMatchObject({ status: "interrupted", stop_reason: "error" });
    expect(fake.requests).toHaveLength(0);
    const log = await eventsOf(row.id);
    expect(log.map((e) => e.event)).toEqual(["error", "done"]);
  });

  it("two gateways racing for the same orphaned runs, 20 times: each run is executed exactly once", async () => {
    fake.setFallback((body) => ({ text: `answer to ${JSON.stringify(body.messages.at(-1).content).slice(0, 40)}`, textChunks: 2, delayMs: 5 }));
    const rows = [];
    for (let i = 0; i < 20; i++) {
      rows.push(await orphan({ input: `race ${i}`, iterations: 0, messages: [{ role: "user", content: `race ${i}` }], events: [] }));
    }
    await Promise.all([h.services.runs.sweepOrphans(), second.runs.sweepOrphans(), h.services.runs.sweepOrphans(), second.runs.sweepOrphans()]);
    for (const row of rows) await waitEnded(row.id);
    for (let i = 0; i < 20; i++) {
      const calls = fake.requests.filter((r) => JSON.stringify(r.body.messages).includes(`race ${i}"`));
      expect(calls, `race ${i}`).toHaveLength(1);
    }
    const usage = await h.services.db.kysely.selectFrom("usage_records").select("run_id").where("run_id", "in", rows.map((r) => r.id)).execute();
    expect(usage).toHaveLength(20);
    const owners = await h.services.db.kysely.selectFrom("run_events").select(["run_id", "event"]).where("run_id", "in", rows.map((r) => r.id)).where("event", "=", "resumed").execute();
    expect(owners).toHaveLength(20);
  });
});
