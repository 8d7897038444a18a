import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeAnthropic } from "../../../test/fakes/anthropic";
import type { FakeModelServer } from "../../../test/fakes/model-script";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";
import type { StatementTimings } from "../../lib/statement-timings";

const SONNET = "claude-sonnet-4-20250514";

/**
 * The executor's progress update (runs.saveRunProgress): the counters and `updated_at`, nothing
 * else. The ending's update of the same columns goes on with the status and more. Placeholders are
 * `?` on SQLite and `$n` on PostgreSQL.
 */
const PROGRESS_UPDATE = /^update "runs" set "input_tokens" = (\?|\$1),.*"tool_calls" = (\?|\$\d+), "updated_at" = (\?|\$\d+) where /;

describe("runs: the last model call is recorded with the run's ending", () => {
  let h: Harness;
  let fake: FakeModelServer;
  let a: Account;
  let agentId: string;
  let timings: StatementTimings;
  let failEnding = false;

  const chat = (message: string) => h.request("POST", `/v1/agent/${agentId}/chat`, { cookie: a.cookie, body: { message, stream: false } });
  const progressUpdates = () =>
    timings
      .snapshot(true)
      .top.filter((t) => PROGRESS_UPDATE.test(t.sql))
      .reduce((sum, t) => sum + t.count, 0);
  const runRow = (runId: string) => h.services.db.kysely.selectFrom("runs").selectAll().where("id", "=", runId).executeTakeFirstOrThrow();
  const messagesOf = (runId: string) =>
    h.services.db.kysely.selectFrom("messages").select(["role", "content"]).where("run_id", "=", runId).orderBy("seq").execute();
  const usageRecords = (runId: string) => h.services.db.kysely.selectFrom("usage_records").selectAll().where("run_id", "=", runId).execute();
  const quota = () => h.services.db.kysely.selectFrom("org_quota").selectAll().where("org_id", "=", a.orgId).executeTakeFirstOrThrow();

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    h = await createHarness({
      ANTHROPIC_API_KEY: "sk-ant-test-key-000000000000",
      ANTHROPIC_BASE_URL: fake.url,
      OPENPAW_DIAGNOSTICS: "true",
      OPENPAW_DIAGNOSTICS_SQL: "true",
    });
    timings = h.services.db.statementTimings as StatementTimings;
    // An ended hook that fails on demand makes the ending's transaction fail.
    h.services.runs.executor.onRunEnded(async () => {
      if (failEnding) throw new Error("the ending failed on purpose");
    });
    a = await h.signup({ orgName: "A" });
    const agent = await h.request("POST", `/v1/orgs/${a.orgId}/agents`, {
      cookie: a.cookie,
      body: { name: "Stepper", systemPrompt: "Be brief.", model: SONNET, enabledTools: ["memory_write"] },
    });
    agentId = agent.body.id;
  });
  afterAll(async () => {
    await h.close();
    await fake.close();
  });
  beforeEach(() => {
    failEnding = false;
  });

  it("a run of one model call saves no progress of its own: its ending carries the call's totals, answer and settlement", async () => {
    const usedBefore = (await quota().catch(() => ({ tokens_used: 0 }))).tokens_used;
    timings.snapshot(true);
    fake.enqueue({ text: "Hello there.", usage: { inputTokens: 40, outputTokens: 7 } });
    const res = await chat("hi");
    expect(res.status).toBe(200);
    const runId = res.body.runId as string;
    expect(progressUpdates()).toBe(0);

    expect(await runRow(runId)).toMatchObject({ status: "completed", input_tokens: 40, output_tokens: 7, iterations: 1 });
    const messages = await messagesOf(runId);
    expect(messages.map((m) => m.role)).toEqual(["user", "assistant"]);
    expect(JSON.parse(messages[1].content).content).toEqual([{ type: "text", text: "Hello there." }]);
    const usage = await usageRecords(runId);
    expect(usage).toHaveLength(1);
    expect(usage[0]).toMatchObject({ input_tokens: 40, output_tokens: 7 });
    expect(await quota()).toMatchObject({ tokens_used: usedBefore + 47, tokens_reserved: 0 });
  });

  it("a run with a tool round saves its progress once, after the call that asked for the tool", async () => {
    timings.snapshot(true);
    fake.enqueue(
      { text: "Noting it.", toolCalls: [{ id: "toolu_1", name: "memory_write", input: { content: "a fact" } }], usage: { inputTokens: 30, outputTokens: 5 } },
      { text: "Noted.", usage: { inputTokens: 50, outputTokens: 3 } },
    );
    const res = await chat("note a fact");
    expect(res.status).toBe(200);
    const runId = res.body.runId as string;
    expect(progressUpdates()).toBe(1);
    expect(await runRow(runId)).toMatchObject({ status: "completed", input_tokens: 80, output_tokens: 8, iterations: 2, tool_calls: 1 });
    expect((await messagesOf(runId)).map((m) => m.role)).toEqual(["user", "assistant", "tool", "assistant"]);
    expect(await usageRecords(runId)).toHaveLength(1);
  });

  it("when the ending cannot be recorded, the last call still is (its answer, counters and settlement), so the sweep bills it", async () => {
    const usedBefore = (await quota()).tokens_used;
    failEnding = true;
    fake.enqueue({ text: "An answer whose ending fails.", usage: { inputTokens: 20, outputTokens: 4 } });
    const res = await chat("hello again");
    expect(res.status).toBe(200);
    const runId = res.body.runId as string;

    // Not ended (the sweep records it from these counters once its lease lapses), nothing billed twice.
    expect(await runRow(runId)).toMatchObject({ status: "running", input_tokens: 20, output_tokens: 4, iterations: 1 });
    expect(await usageRecords(runId)).toHaveLength(0);
    expect((await messagesOf(runId)).map((m) => m.role)).toEqual(["user", "assistant"]);
    expect(await quota()).toMatchObject({ tokens_used: usedBefore + 24, tokens_reserved: 0 });
    expect(h.logs.some((line) => line.includes("recording the end of a run failed"))).toBe(true);
  });
});
