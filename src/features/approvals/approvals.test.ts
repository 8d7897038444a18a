/**
 * Tool approvals end to end with the fake Anthropic model: a run waits (requires_action, no
 * model connection, nothing of the call run), a person decides through the route, the run
 * continues; on another gateway too, after a timeout, and not after a cancel.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeAnthropic } from "../../../test/fakes/anthropic";
import type { FakeModelServer } from "../../../test/fakes/model-script";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";
import { sseFrames } from "../../../test/helpers/sse";
import { createApp } from "../../app";
import { createLogger } from "../../lib/logger";
import type { RunningServer } from "../../server";
import { type Services, createServices } from "../../services";

const SONNET = "claude-sonnet-4-20250514";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("tool approvals", () => {
  let h: Harness;
  let second: Services;
  let fake: FakeModelServer;
  let server: RunningServer;
  let a: Account;
  let b: Account;
  let adminA: string;
  let writeA: string;
  let chatA: string;
  let readA: string;
  let adminB: string;
  let agentId: string;

  const api = (method: string, path: string, key: string, body?: unknown) => h.request(method, path, { key, body });
  const decide = (runId: string, body: unknown, key = adminA) => api("POST", `/v1/orgs/${a.orgId}/runs/${runId}/approvals`, key, body);
  const getRun = (runId: string) => api("GET", `/v1/orgs/${a.orgId}/runs/${runId}`, adminA);
  const notes = async () => (await h.services.db.kysely.selectFrom("memory_notes").select("content").where("agent_id", "=", agentId).execute()).map((n) => n.content);
  const logOf = async (runId: string) =>
    (await h.services.db.kysely.selectFrom("run_events").selectAll().where("run_id", "=", runId).orderBy("seq").execute()).map((e) => ({
      seq: Number(e.seq),
      event: e.event,
      data: JSON.parse(e.data),
    }));
  async function waitStatus(runId: string, ok: (status: string) => boolean) {
    for (let i = 0; i < 400; i++) {
      const run = await getRun(runId);
      if (ok(run.body.status)) return run.body;
      await sleep(25);
    }
    throw new Error(`run ${runId} never reached the expected status`);
  }
  /** Starts a background run with the chat key and waits until it waits for approvals. */
  async function startWaiting(message: string) {
    const started = await api("POST", `/v1/agent/${agentId}/chat`, chatA, { message, background: true });
    expect(started.status).toBe(202);
    return waitStatus(started.body.id, (s) => s === "requires_action");
  }

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    h = await createHarness({ ANTHROPIC_API_KEY: "sk-ant-test-key-000000000000", ANTHROPIC_BASE_URL: fake.url, OPENPAW_SSE_PING_MS: "100" });
    server = await h.listen();
    second = await createServices(h.config, { logger: createLogger("warn", { write: (line) => h.logs.push(line) }) });
    a = await h.signup({ orgName: "A" });
    b = await h.signup({ orgName: "B" });
    adminA = (await h.createKey(a, { scopes: ["admin"] })).key;
    writeA = (await h.createKey(a, { scopes: ["write"] })).key;
    chatA = (await h.createKey(a, { scopes: ["chat"] })).key;
    readA = (await h.createKey(a, { scopes: ["read"] })).key;
    adminB = (await h.createKey(b, { scopes: ["admin"] })).key;
    const agent = await api("POST", `/v1/orgs/${a.orgId}/agents`, adminA, {
      name: "Careful",
      systemPrompt: "Ask first.",
      model: SONNET,
      enabledTools: ["memory_read", "memory_write"],
      approvalRequired: ["memory_write"],
    });
    expect(agent.status).toBe(201);
    expect(agent.body.approvalRequired).toEqual(["memory_write"]);
    agentId = agent.body.id;
  });
  afterAll(async () => {
    await second.close();
    await h.close();
    await fake.close();
  });
  beforeEach(() => {
    fake.requests.length = 0;
    fake.setFallback(() => ({ text: "done", textChunks: 1 }));
  });

  it("approvalRequired is checked against the agent's tools on create and PATCH", async () => {
    const base = { name: "X", model: SONNET, enabledTools: ["memory_read"] };
    const unknown = await api("POST", `/v1/orgs/${a.orgId}/agents`, adminA, { ...base, approvalRequired: ["memory_read", "exec"] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.param).toBe("approvalRequired[1]");
    expect(unknown.body.error.message).toContain("exec");
    const star = await api("POST", `/v1/orgs/${a.orgId}/agents`, adminA, { ...base, approvalRequired: ["*"] });
    expect(star.status).toBe(201);
    expect(star.body.approvalRequired).toEqual(["*"]);
    const plain = await api("POST", `/v1/orgs/${a.orgId}/agents`, adminA, base);
    expect(plain.body.approvalRequired).toEqual([]);
    const path = `/v1/orgs/${a.orgId}/agents/${agentId}`;
    // Disabling a tool that needs an approval, while the list still names it, is refused and changes nothing.
    const disable = await api("PATCH", path, adminA, { enabledTools: ["memory_read"] });
    expect(disable.status).toBe(400);
    expect(disable.body.error.param).toBe("approvalRequired[0]");
    const bad = await api("PATCH", path, adminA, { approvalRequired: ["nope"] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe("approvalRequired[0]");
    const after = await api("GET", path, adminA);
    expect(after.body).toMatchObject({ enabledTools: ["memory_read", "memory_write"], approvalRequired: ["memory_write"] });
  });

  it("approve: nothing runs before the decision, the run waits without a model call, then the call runs and the run completes", async () => {
    fake.enqueue({ text: "I will save it.", textChunks: 1, toolCalls: [{ id: "toolu_w1", name: "memory_write", input: { content: "approved fact" } }] });
    fake.enqueue({ text: "Saved.", textChunks: 1 });
    const waiting = await startWaiting("save approved fact");
    expect(waiting.pendingApprovals).toEqual([{ toolCallId: "toolu_w1", tool: "memory_write", input: { content: "approved fact" } }]);
    expect(waiting.background).toBe(true);
    await sleep(100);
    expect(fake.requests).toHaveLength(1);
    expect(await notes()).not.toContain("approved fact");
    const log = await logOf(waiting.id);
    expect(log.map((e) => e.event)).toEqual(["text", "approval_required"]);
    expect(log[1].data).toEqual({ id: "toolu_w1", tool: "memory_write", input: { content: "approved fact" } });
    // The waiting run is on the waiting list.
    const list = await api("GET", `/v1/orgs/${a.orgId}/runs?status=requires_action`, adminA);
    expect(list.body.data.some((r: { id: string }) => r.id === waiting.id)).toBe(true);

    const decided = await decide(waiting.id, { toolCallId: "toolu_w1", approve: true });
    expect(decided.status).toBe(200);
    expect(decided.body.id).toBe(waiting.id);
    const ended = await waitStatus(waiting.id, (s) => s === "completed");
    expect(ended).toMatchObject({ toolCalls: 1, iterations: 2, pendingApprovals: [] });
    expect(await notes()).toContain("approved fact");
    const full = await logOf(waiting.id);
    expect(full.map((e) => e.seq)).toEqual(full.map((_, i) => i + 1));
    expect(full.map((e) => e.event)).toEqual(["text", "approval_required", "resumed", "tool_start", "tool_result", "text", "done"]);
    const usage = await h.services.db.kysely.selectFrom("usage_records").selectAll().where("run_id", "=", waiting.id).execute();
    expect(usage).toHaveLength(1);
    expect(usage[0].input_tokens).toBe(fake.requests[0].usage!.inputTokens + fake.requests[1].usage!.inputTokens);
    // A decided call cannot be decided again.
    expect((await decide(waiting.id, { toolCallId: "toolu_w1", approve: false })).status).toBe(409);
  });

  it("deny: the call never runs and the model gets an error result with the reason", async () => {
    fake.enqueue({ toolCalls: [{ id: "toolu_d1", name: "memory_write", input: { content: "denied fact" } }] });
    fake.enqueue({ text: "Understood, not saved.", textChunks: 1 });
    const waiting = await startWaiting("save denied fact");
    const res = await decide(waiting.id, { toolCallId: "toolu_d1", approve: false, reason: "not this one" }, writeA);
    expect(res.status).toBe(200);
    await waitStatus(waiting.id, (s) => s === "completed");
    expect(await notes()).not.toContain("denied fact");
    const result = fake.requests[1].body.messages.at(-1).content[0];
    expect(result).toMatchObject({ type: "tool_result", tool_use_id: "toolu_d1", is_error: true });
    expect(JSON.stringify(result.content)).toContain("not this one");
    const log = await logOf(waiting.id);
    expect(log.some((e) => e.event === "tool_start")).toBe(false);
    expect(log.find((e) => e.event === "tool_result")?.data).toMatchObject({ id: "toolu_d1", isError: true });
  });

  it("parallel calls of one turn: the others run at once, the turn continues once all approvals are decided", async () => {
    fake.enqueue({
      toolCalls: [
        { id: "toolu_p1", name: "memory_write", input: { content: "parallel one" } },
        { id: "toolu_r1", name: "memory_read", input: { query: "anything" } },
        { id: "toolu_p2", name: "memory_write", input: { content: "parallel two" } },
      ],
    });
    fake.enqueue({ text: "All done.", textChunks: 1 });
    const waiting = await startWaiting("three at once");
    expect(waiting.pendingApprovals.map((p: { toolCallId: string }) => p.toolCallId).sort()).toEqual(["toolu_p1", "toolu_p2"]);
    const before = await logOf(waiting.id);
    expect(before.filter((e) => e.event === "tool_result").map((e) => e.data.id)).toEqual(["toolu_r1"]);
    expect((await decide(waiting.id, { toolCallId: "toolu_p1", approve: true })).body).toMatchObject({ status: "requires_action", pendingApprovals: [{ toolCallId: "toolu_p2" }] });
    await sleep(100);
    expect(fake.requests).toHaveLength(1);
    await decide(waiting.id, { toolCallId: "toolu_p2", approve: false, reason: "only one" });
    const ended = await waitStatus(waiting.id, (s) => s === "completed");
    expect(ended.toolCalls).toBe(3);
    const notesNow = await notes();
    expect(notesNow).toContain("parallel one");
    expect(notesNow).not.toContain("parallel two");
    const log = await logOf(waiting.id);
    // The read ran once, before the wait: its result is not emitted again.
    expect(log.filter((e) => e.event === "tool_result" && e.data.id === "toolu_r1")).toHaveLength(1);
    const results = fake.requests[1].body.messages.at(-1).content;
    expect(results.map((r: { tool_use_id: string }) => r.tool_use_id)).toEqual(["toolu_p1", "toolu_r1", "toolu_p2"]);
  });

  it("who decides: a chat key (even the one that started the run) gets 403, a read key 403, another org 404; bad input is a 4xx that changes nothing", async () => {
    fake.enqueue({ toolCalls: [{ id: "toolu_x1", name: "memory_write", input: { content: "guarded" } }] });
    const waiting = await startWaiting("guarded write");
    const own = await decide(waiting.id, { toolCallId: "toolu_x1", approve: true }, chatA);
    expect(own.status).toBe(403);
    expect((await decide(waiting.id, { toolCallId: "toolu_x1", approve: true }, readA)).status).toBe(403);
    const other = await h.request("POST", `/v1/orgs/${b.orgId}/runs/${waiting.id}/approvals`, { key: adminB, body: { toolCallId: "toolu_x1", approve: true } });
    expect(other.status).toBe(404);
    const cross = await h.request("POST", `/v1/orgs/${a.orgId}/runs/${waiting.id}/approvals`, { key: adminB, body: { toolCallId: "toolu_x1", approve: true } });
    expect([401, 403, 404]).toContain(cross.status);
    const unknownCall = await decide(waiting.id, { toolCallId: "toolu_nope", approve: true });
    expect(unknownCall.status).toBe(404);
    expect(unknownCall.body.error.param).toBe("toolCallId");
    const long = await decide(waiting.id, { toolCallId: "toolu_x1", approve: false, reason: "x".repeat(2001) });
    expect(long.status).toBe(400);
    expect(JSON.stringify(long.body.error)).toContain("reason");
    expect((await decide(waiting.id, { toolCallId: "toolu_x1", approve: "yes" })).status).toBe(400);
    expect((await decide(waiting.id, { toolCallId: "toolu_x1", approve: true, extra: 1 })).status).toBe(400);
    expect((await getRun(waiting.id)).body).toMatchObject({ status: "requires_action", pendingApprovals: [{ toolCallId: "toolu_x1" }] });
    // Owner session may decide; the model never can (only this route decides).
    const bySession = await h.request("POST", `/v1/orgs/${a.orgId}/runs/${waiting.id}/approvals`, { cookie: a.cookie, body: { toolCallId: "toolu_x1", approve: false } });
    expect(bySession.status).toBe(200);
    await waitStatus(waiting.id, (s) => s === "completed");
  });

  it("two concurrent decisions of one call: exactly one wins, the other gets 409", async () => {
    fake.enqueue({ toolCalls: [{ id: "toolu_c1", name: "memory_write", input: { content: "raced" } }] });
    const waiting = await startWaiting("race it");
    const answers = await Promise.all([
      decide(waiting.id, { toolCallId: "toolu_c1", approve: true }),
      decide(waiting.id, { toolCallId: "toolu_c1", approve: false }, writeA),
      decide(waiting.id, { toolCallId: "toolu_c1", approve: true }, writeA),
    ]);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 409, 409]);
    await waitStatus(waiting.id, (s) => s === "completed");
    const rows = await h.services.db.kysely.selectFrom("run_approvals").selectAll().where("run_id", "=", waiting.id).execute();
    expect(rows).toHaveLength(1);
    expect(rows[0].decided_at).not.toBeNull();
  });

  it("a gateway that was not there when the run started to wait continues it after the approval", async () => {
    fake.enqueue({ toolCalls: [{ id: "toolu_g1", name: "memory_write", input: { content: "from the other gateway" } }] });
    fake.enqueue({ text: "Continued elsewhere.", textChunks: 1 });
    const waiting = await startWaiting("continue elsewhere");
    // A fresh gateway on the same database (a restart, or another replica) takes the decision and runs the rest.
    const restarted = await createServices(h.config, { logger: createLogger("warn", { write: (line) => h.logs.push(line) }) });
    try {
      const app = createApp(restarted);
      const res = await app.request(`/v1/orgs/${a.orgId}/runs/${waiting.id}/approvals`, {
        method: "POST",
        headers: { authorization: `Bearer ${adminA}`, "content-type": "application/json" },
        body: JSON.stringify({ toolCallId: "toolu_g1", approve: true }),
      });
      expect(res.status).toBe(200);
      const ended = await waitStatus(waiting.id, (s) => s === "completed");
      expect(ended.iterations).toBe(2);
      expect(await notes()).toContain("from the other gateway");
      const log = await logOf(waiting.id);
      expect(log.at(-1)?.event).toBe("done");
    } finally {
      await restarted.close();
    }
  });

  it("a call nobody decides within the timeout is denied with that reason", async () => {
    fake.enqueue({ toolCalls: [{ id: "toolu_t1", name: "memory_write", input: { content: "timed out" } }] });
    fake.enqueue({ text: "No answer, so I did not.", textChunks: 1 });
    const waiting = await startWaiting("wait forever");
    expect(await h.services.approvals.sweepExpired(Date.now())).toBe(0);
    expect(await second.approvals.sweepExpired(Date.now() + h.config.runs.approvalTimeoutMs + 1000)).toBe(1);
    await waitStatus(waiting.id, (s) => s === "completed");
    expect(await notes()).not.toContain("timed out");
    const result = fake.requests[1].body.messages.at(-1).content[0];
    expect(JSON.stringify(result.content)).toContain("No decision was made within 24 hours");
    const row = await h.services.db.kysely.selectFrom("run_approvals").selectAll().where("run_id", "=", waiting.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ approved: 0, decided_by: "timeout" });
  });

  it("cancel ends a waiting run; its calls can no longer be decided", async () => {
    fake.enqueue({ toolCalls: [{ id: "toolu_k1", name: "memory_write", input: { content: "cancelled" } }] });
    const waiting = await startWaiting("then cancel");
    const cancelled = await api("POST", `/v1/orgs/${a.orgId}/runs/${waiting.id}/cancel`, chatA);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: "cancelled", pendingApprovals: [] });
    const late = await decide(waiting.id, { toolCallId: "toolu_k1", approve: true });
    expect(late.status).toBe(409);
    await sleep(100);
    expect(fake.requests).toHaveLength(1);
    expect(await notes()).not.toContain("cancelled");
    const usage = await h.services.db.kysely.selectFrom("usage_records").select("id").where("run_id", "=", waiting.id).execute();
    expect(usage).toHaveLength(1);
    expect((await logOf(waiting.id)).at(-1)?.event).toBe("done");
  });

  it("a foreground chat stream shows approval_required, stays open while waiting, and carries the rest once approved", async () => {
    fake.enqueue({ text: "Asking.", textChunks: 1, toolCalls: [{ id: "toolu_f1", name: "memory_write", input: { content: "streamed" } }] });
    fake.enqueue({ text: "Saved after approval.", textChunks: 1 });
    const res = await fetch(`${server.url}/v1/agent/${agentId}/chat`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${chatA}` },
      body: JSON.stringify({ message: "stream it" }),
    });
    const runId = res.headers.get("x-run-id") as string;
    const frames: Array<{ id?: string; event?: string }> = [];
    let approved = false;
    for await (const frame of sseFrames(res)) {
      frames.push(frame);
      if (frame.event === "approval_required" && !approved) {
        approved = true;
        const run = await waitStatus(runId, (s) => s === "requires_action");
        expect(run.background).toBe(true);
        expect((await decide(runId, { toolCallId: "toolu_f1", approve: true })).status).toBe(200);
      }
      if (frame.event === "done") break;
    }
    const named = frames.filter((f) => f.event);
    expect(named.map((f) => f.event)).toEqual(["text", "approval_required", "resumed", "tool_start", "tool_result", "text", "done"]);
    expect(named.map((f) => f.id)).toEqual(named.map((_, i) => String(i + 1)));
    expect(await notes()).toContain("streamed");
  });
});
