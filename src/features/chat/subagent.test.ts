import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeAnthropic } from "../../../test/fakes/anthropic";
import type { FakeModelServer, FakeTurn } from "../../../test/fakes/model-script";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";

const SONNET = "claude-sonnet-4-20250514";

/** The first user message of a request: which run (parent or which child) is calling the model. */
function firstUserText(body: any): string {
  const content = body?.messages?.[0]?.content;
  if (typeof content === "string") return content;
  return (Array.isArray(content) ? content : []).map((block: any) => (block.type === "text" ? block.text : "")).join("");
}

describe("subagent tool: child runs of the same org", () => {
  let h: Harness;
  let fake: FakeModelServer;
  let a: Account;
  let b: Account;
  let lead: string;
  let worker: string;
  let foreign: string;

  const createAgent = async (account: Account, name: string, enabledTools: string[]) => {
    const res = await h.request("POST", `/v1/orgs/${account.orgId}/agents`, {
      cookie: account.cookie,
      body: { name, systemPrompt: `You are ${name}.`, model: SONNET, temperature: 0, maxIterations: 4, enabledTools },
    });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  const chat = (message: string) => h.request("POST", `/v1/agent/${lead}/chat`, { cookie: a.cookie, body: { message, stream: false } });

  /** Parent: first call asks for `calls`, second answers; children answer by their task, after `delayMs`. */
  const script = (calls: Array<{ task: string; agentId?: string }>, delayMs = 0) =>
    fake.setFallback((body): FakeTurn => {
      const first = firstUserText(body);
      if (first.startsWith("task:")) return { text: `result of ${first}`, delayMs, usage: { inputTokens: 100, outputTokens: 10 } };
      const last = body.messages.at(-1);
      if (Array.isArray(last.content) && last.content.some((c: any) => c.type === "tool_result")) return { text: "All done.", usage: { inputTokens: 50, outputTokens: 5 } };
      return { toolCalls: calls.map((input, i) => ({ id: `sub_${i}`, name: "subagent", input })), usage: { inputTokens: 40, outputTokens: 4 } };
    });

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    h = await createHarness({ ANTHROPIC_API_KEY: "sk-ant-test-key-000000000000", ANTHROPIC_BASE_URL: fake.url, OPENPAW_DEFAULT_PLAN: "agency" });
    a = await h.signup({ orgName: "A" });
    b = await h.signup({ orgName: "B" });
    lead = await createAgent(a, "Lead", ["subagent", "memory_read"]);
    worker = await createAgent(a, "Worker", ["subagent", "memory_write"]);
    foreign = await createAgent(b, "Foreign", []);
  });
  afterAll(async () => {
    await h.close();
    await fake.close();
  });
  beforeEach(() => {
    fake.requests.length = 0;
  });

  it("runs children in parallel, returns their text, links their usage records and rolls their usage into done", async () => {
    const quotaBefore = await tokensUsed();
    script([{ task: "task: alpha" }, { task: "task: beta", agentId: worker }], 50);
    const res = await chat("delegate both");
    expect(res.status).toBe(200);
    expect(res.body.text).toBe("All done.");
    const results = Object.fromEntries(res.body.events.filter((e: any) => e.event === "tool_result").map((e: any) => [e.data.id, e.data]));
    expect(results.sub_0).toMatchObject({ tool: "subagent", isError: false, output: "result of task: alpha" });
    expect(results.sub_1).toMatchObject({ tool: "subagent", isError: false, output: "result of task: beta" });

    // Children are offered no subagent tool (depth 1); the default child is the calling agent itself.
    const childRequests = fake.requests.filter((r) => firstUserText(r.body).startsWith("task:"));
    expect(childRequests).toHaveLength(2);
    for (const request of childRequests) expect((request.body.tools ?? []).map((t: { name: string }) => t.name)).not.toContain("subagent");
    const alpha = childRequests.find((r) => firstUserText(r.body) === "task: alpha");
    expect(JSON.stringify(alpha?.body.system)).toContain("You are Lead.");

    const rows = await h.services.db.kysely.selectFrom("usage_records").selectAll().where("org_id", "=", a.orgId).where("created_at", ">=", 0).execute();
    const parent = rows.find((r) => r.run_id === res.body.runId);
    const children = rows.filter((r) => r.parent_run_id === res.body.runId);
    expect(parent?.parent_run_id).toBeNull();
    expect(children.map((c) => c.agent_id).sort()).toEqual([lead, worker].sort());
    expect(children.every((c) => c.tokens === 110 && c.status === "completed")).toBe(true);
    expect(children.every((c) => c.conversation_id !== res.body.conversationId)).toBe(true);
    // The parent's own record excludes the children (no double billing); done includes them.
    expect(parent?.tokens).toBe(44 + 55);
    expect(res.body.tokens).toBe(44 + 55 + 2 * 110);
    expect(res.body.cost).toBeCloseTo(parent!.cost + children[0].cost + children[1].cost, 10);
    expect(await tokensUsed()).toBe(quotaBefore + 44 + 55 + 2 * 110);

    // Both children were running at the same time.
    const runs = await h.services.db.kysely.selectFrom("runs").selectAll().where("parent_run_id", "=", res.body.runId).execute();
    expect(runs).toHaveLength(2);
    const [r1, r2] = runs;
    expect((r1.started_at as number) < (r2.ended_at as number) && (r2.started_at as number) < (r1.ended_at as number)).toBe(true);
  });

  it("caps children running at once per run", async () => {
    script(Array.from({ length: 5 }, (_, i) => ({ task: `task: n${i}` })));
    const res = await chat("fan out");
    const results = res.body.events.filter((e: any) => e.event === "tool_result").map((e: any) => e.data);
    const refusedCap = results.filter((r: any) => r.output.startsWith("At most 4 subagents"));
    expect(refusedCap).toHaveLength(1);
    expect(refusedCap[0].isError).toBe(true);
    expect(results.filter((r: any) => !r.isError)).toHaveLength(4);
    const children = await h.services.db.kysely.selectFrom("usage_records").select("agent_id").where("parent_run_id", "=", res.body.runId).execute();
    expect(children).toHaveLength(4);
  });

  it("refuses another org's agent or an unknown one as an error result", async () => {
    script([{ task: "task: x", agentId: foreign }, { task: "task: y", agentId: "ag_missing" }]);
    const res = await chat("use theirs");
    const results = res.body.events.filter((e: any) => e.event === "tool_result").map((e: any) => e.data);
    // The two calls run in parallel: their results arrive in either order.
    expect(results.map((r: any) => [r.isError, r.output])).toEqual(
      expect.arrayContaining([
        [true, `No agent "${foreign}" in this organization.`],
        [true, 'No agent "ag_missing" in this organization.'],
      ]),
    );
    expect(results).toHaveLength(2);
    expect(fake.requests.filter((r) => firstUserText(r.body).startsWith("task:"))).toHaveLength(0);
    expect(res.body.stopReason).toBe("end_turn");
  });

  async function tokensUsed(): Promise<number> {
    const rows = await h.services.db.kysely.selectFrom("org_quota").select("tokens_used").where("org_id", "=", a.orgId).execute();
    return rows.reduce((sum, r) => sum + Number(r.tokens_used), 0);
  }
});
