import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeAnthropic } from "../../../test/fakes/anthropic";
import type { FakeModelServer } from "../../../test/fakes/model-script";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";
import { readFrames, sseFrames } from "../../../test/helpers/sse";
import type { RunningServer } from "../../server";

const SONNET = "claude-sonnet-4-20250514";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(fn: () => Promise<T>, ok: (value: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (ok(value) || Date.now() > deadline) return value;
    await sleep(25);
  }
}

describe("runs: the event log, background runs, following, cancel", () => {
  let h: Harness;
  let fake: FakeModelServer;
  let server: RunningServer;
  let a: Account;
  let b: Account;
  let adminA: string;
  let chatA: string;
  let agentA: string;

  const post = (path: string, body: unknown, key = chatA, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}`, ...headers },
      body: JSON.stringify(body),
    });
  const events = (runId: string, options: { key?: string; after?: string; lastEventId?: string; signal?: AbortSignal } = {}) =>
    fetch(`${server.url}/v1/orgs/${a.orgId}/runs/${runId}/events${options.after !== undefined ? `?after=${options.after}` : ""}`, {
      headers: {
        authorization: `Bearer ${options.key ?? adminA}`,
        ...(options.lastEventId !== undefined ? { "last-event-id": options.lastEventId } : {}),
      },
      signal: options.signal,
    });
  const getRun = (runId: string, key = adminA) => h.request("GET", `/v1/orgs/${a.orgId}/runs/${runId}`, { key });
  const usageCount = async (runId: string) =>
    (await h.services.db.kysely.selectFrom("usage_records").select("id").where("run_id", "=", runId).execute()).length;

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    h = await createHarness({
      ANTHROPIC_API_KEY: "sk-ant-test-key-000000000000",
      ANTHROPIC_BASE_URL: fake.url,
      OPENPAW_SSE_PING_MS: "100",
      OPENPAW_CONCURRENT_RUNS_PER_KEY: "2",
      OPENPAW_MAX_QUEUED_RUNS_PER_ORG: "3",
    });
    server = await h.listen();
    a = await h.signup({ orgName: "A" });
    b = await h.signup({ orgName: "B" });
    adminA = (await h.createKey(a, { scopes: ["admin"] })).key;
    chatA = (await h.createKey(a, { scopes: ["chat"] })).key;
    const agent = await h.request("POST", `/v1/orgs/${a.orgId}/agents`, {
      cookie: a.cookie,
      body: { name: "Runner", systemPrompt: "You run.", model: SONNET, maxIterations: 10, enabledTools: ["memory_read", "memory_write"] },
    });
    agentA = agent.body.id;
  });
  afterAll(async () => {
    await h.close();
    await fake.close();
  });
  beforeEach(() => {
    fake.requests.length = 0;
    fake.setFallback(() => ({ text: "ok" }));
  });

  it("numbers every event of the chat stream with an id, and the log replays it byte for byte from any seq", async () => {
    fake.enqueue(
      {
        text: "Let me note both.",
        textChunks: 3,
        toolCalls: [
          { id: "toolu_a", name: "memory_write", input: { content: "first fact" } },
          { id: "toolu_b", name: "memory_write", input: { content: "second fact" } },
        ],
      },
      { toolCalls: [{ id: "toolu_c", name: "memory_read", input: { query: "fact" } }] },
      { text: "Both are saved, and I found them again.", textChunks: 5 },
    );
    const res = await post(`/v1/agent/${agentA}/chat`, { message: "Remember two facts" });
    const runId = res.headers.get("x-run-id") as string;
    const live = await readFrames(res);
    expect(live.map((f) => f.id)).toEqual(live.map((_, i) => String(i + 1)));
    expect(live.at(-1)?.event).toBe("done");
    expect(new Set(live.map((f) => f.event))).toEqual(new Set(["text", "tool_start", "tool_result", "done"]));

    const run = await getRun(runId);
    expect(run.body).toMatchObject({ id: runId, status: "completed", stopReason: "end_turn", lastEventId: live.length, background: false });
    for (let after = 0; after <= live.length; after++) {
      const replay = await readFrames(await events(runId, after % 2 ? { after: String(after) } : { lastEventId: String(after) }));
      expect(replay.map((f) => f.raw)).toEqual(live.slice(after).map((f) => f.raw));
    }
  });

  it("a follower that disconnects after every event and reconnects with Last-Event-ID sees the uninterrupted stream", async () => {
    fake.enqueue(
      { text: "one two three four five six seven eight", textChunks: 8, delayMs: 40, toolCalls: [{ id: "toolu_x", name: "memory_write", input: { content: "x" } }] },
      { text: "nine ten eleven twelve", textChunks: 4, delayMs: 40 },
    );
    const started = await post(`/v1/agent/${agentA}/chat`, { message: "count slowly", background: true });
    expect(started.status).toBe(202);
    const runId = ((await started.json()) as { id: string }).id;
    const seen: string[] = [];
    let lastId = "0";
    for (let i = 0; i < 200; i++) {
      const controller = new AbortController();
      const res = await events(runId, { lastEventId: lastId, signal: controller.signal });
      expect(res.status).toBe(200);
      let got = false;
      for await (const frame of sseFrames(res, 1)) {
        seen.push(frame.raw);
        lastId = frame.id as string;
        got = true;
      }
      controller.abort();
      if (!got || seen.at(-1)?.startsWith("event: done")) break;
    }
    const whole = await readFrames(await events(runId));
    expect(whole.at(-1)?.event).toBe("done");
    expect(seen).toEqual(whole.map((f) => f.raw));
    expect(whole.length).toBeGreaterThan(12);
  });

  it("background: 202 with the run object and Location; runs without any client; usage recorded once", async () => {
    fake.enqueue({ text: "done in the background", textChunks: 4, delayMs: 30 });
    const res = await post(`/v1/agent/${agentA}/chat`, { message: "work alone", background: true });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { id: string; status: string; background: boolean; conversationId: string };
    expect(body).toMatchObject({ background: true, pendingApprovals: [], stopReason: null, endedAt: null });
    expect(["queued", "running"]).toContain(body.status);
    expect(res.headers.get("location")).toBe(`${h.config.publicUrl}/v1/orgs/${a.orgId}/runs/${body.id}`);
    expect(res.headers.get("x-run-id")).toBe(body.id);
    const ended = await until(() => getRun(body.id), (r) => r.body.status === "completed");
    expect(ended.body).toMatchObject({ status: "completed", iterations: 1, stopReason: "end_turn", error: null });
    expect(ended.body.startedAt).not.toBeNull();
    expect(ended.body.endedAt).not.toBeNull();
    expect(await usageCount(body.id)).toBe(1);
    const convo = await h.request("GET", `/v1/orgs/${a.orgId}/agents/${agentA}/conversations/${body.conversationId}`, { key: adminA });
    expect(convo.body.messages.map((m: { role: string }) => m.role)).toEqual(["user", "assistant"]);
  });

  it("background with stream:true streams the run, and leaving the stream does not cancel it", async () => {
    fake.enqueue({ text: "a b c d e f", textChunks: 6, delayMs: 60 });
    const controller = new AbortController();
    const res = await fetch(`${server.url}/v1/agent/${agentA}/chat`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${chatA}` },
      body: JSON.stringify({ message: "stream but keep going", background: true, stream: true }),
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    const runId = res.headers.get("x-run-id") as string;
    for await (const frame of sseFrames(res, 1)) expect(frame.id).toBe("1");
    controller.abort();
    const ended = await until(() => getRun(runId), (r) => r.body.status !== "running" && r.body.status !== "queued");
    expect(ended.body.status).toBe("completed");
  });

  it("cancel stops a running background run and its model call; once ended, cancel is 409", async () => {
    fake.enqueue({ text: "this takes a long long time to say", textChunks: 20, delayMs: 200, usage: { inputTokens: 33 } });
    const aborted = fake.abortedRequests;
    const res = await post(`/v1/agent/${agentA}/chat`, { message: "long job", background: true });
    const { id } = (await res.json()) as { id: string };
    await until(() => getRun(id), (r) => r.body.lastEventId >= 1);
    const cancelled = await h.request("POST", `/v1/orgs/${a.orgId}/runs/${id}/cancel`, { key: chatA });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ id, status: "cancelled", stopReason: "cancelled" });
    expect(await until(async () => fake.abortedRequests, (n) => n > aborted, 2_000)).toBeGreaterThan(aborted);
    expect(await usageCount(id)).toBe(1);
    const frames = await readFrames(await events(id));
    expect(frames.at(-1)).toMatchObject({ event: "done", data: { stopReason: "cancelled", runId: id } });
    const again = await h.request("POST", `/v1/orgs/${a.orgId}/runs/${id}/cancel`, { key: adminA });
    expect(again.status).toBe(409);
    expect(again.body.error.type).toBe("conflict_error");
  });

  it("over the concurrency limit a background run waits queued, starts when a slot frees, and a queued run can be cancelled", async () => {
    fake.setFallback(() => ({ text: "slow slow", textChunks: 4, delayMs: 150 }));
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(((await (await post(`/v1/agent/${agentA}/chat`, { message: `job ${i}`, background: true })).json()) as { id: string }).id);
    const statuses = await Promise.all(ids.map(async (id) => (await getRun(id)).body.status));
    expect(statuses.slice(0, 2)).toEqual(["running", "running"]);
    expect(statuses.slice(2)).toEqual(["queued", "queued"]);
    const listed = await h.request("GET", `/v1/orgs/${a.orgId}/runs?status=queued`, { key: adminA });
    expect(listed.body.data.map((r: { id: string }) => r.id).sort()).toEqual(ids.slice(2).sort());
    const cancelled = await h.request("POST", `/v1/orgs/${a.orgId}/runs/${ids[3]}/cancel`, { key: chatA });
    expect(cancelled.body).toMatchObject({ status: "cancelled", startedAt: null, iterations: 0 });
    expect(await usageCount(ids[3])).toBe(1);
    const third = await until(() => getRun(ids[2]), (r) => r.body.status === "completed");
    expect(third.body.status).toBe("completed");
    // Bounded queue: the org may have at most OPENPAW_MAX_QUEUED_RUNS_PER_ORG (3) waiting.
    fake.setFallback(() => ({ text: "slow", textChunks: 2, delayMs: 150 }));
    // One after another: the bound is checked before the insert, so submissions racing on
    // PostgreSQL can each see room and overshoot it by the number in flight (README "Runs").
    const burst: Response[] = [];
    for (let i = 0; i < 7; i++) burst.push(await post(`/v1/agent/${agentA}/chat`, { message: `burst ${i}`, background: true }));
    const codes = burst.map((r) => r.status);
    expect(codes.filter((s) => s === 202).length).toBeGreaterThanOrEqual(5);
    const refused = burst.find((r) => r.status === 429);
    expect(refused).toBeDefined();
    expect(((await (refused as Response).json()) as { error: { type: string } }).error.type).toBe("rate_limit_error");
    for (const r of burst.filter((r) => r.status === 202)) {
      const { id } = (await r.json()) as { id: string };
      await until(() => getRun(id), (run) => run.body.status === "completed", 20_000);
    }
  }, 40_000);

  it("refuses bad cursors, unknown and other orgs' runs, and says when a log has expired", async () => {
    fake.enqueue({ text: "short" });
    const res = await post(`/v1/agent/${agentA}/chat`, { message: "short one" });
    const runId = res.headers.get("x-run-id") as string;
    const frames = await readFrames(res);
    for (const [options, param] of [
      [{ lastEventId: "abc" }, "Last-Event-ID"],
      [{ lastEventId: "-1" }, "Last-Event-ID"],
      [{ lastEventId: "1.5" }, "Last-Event-ID"],
      [{ after: "x" }, "after"],
      [{ after: String(frames.length + 1) }, "after"],
      [{ lastEventId: "999999" }, "Last-Event-ID"],
    ] as const) {
      const r = await events(runId, options);
      expect(r.status).toBe(400);
      expect(((await r.json()) as { error: { param: string } }).error.param).toBe(param);
    }
    expect((await events(runId, { after: "2", lastEventId: "abc" })).status).toBe(200);
    expect((await getRun("run_doesnotexist")).status).toBe(404);
    const keyB = (await h.createKey(b, { scopes: ["admin"] })).key;
    for (const path of [`/v1/orgs/${a.orgId}/runs/${runId}`, `/v1/orgs/${b.orgId}/runs/${runId}`, `/v1/orgs/${b.orgId}/runs/${runId}/events`]) {
      const r = await h.request("GET", path, { key: keyB });
      expect(r.status).toBe(404);
      expect(r.text).not.toContain(agentA);
    }
    expect((await h.request("POST", `/v1/orgs/${b.orgId}/runs/${runId}/cancel`, { key: keyB })).status).toBe(404);
    expect((await h.request("GET", `/v1/orgs/${b.orgId}/runs`, { key: keyB })).body.data).toEqual([]);

    await h.services.db.kysely.updateTable("runs").set({ ended_at: 1 }).where("id", "=", runId).execute();
    expect(await h.services.runs.pruneEvents()).toBeGreaterThanOrEqual(1);
    const expired = await events(runId);
    expect(expired.status).toBe(410);
    expect(((await expired.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error");
    expect((await getRun(runId)).body).toMatchObject({ id: runId, status: "completed" });
    expect(await h.services.db.kysely.selectFrom("run_events").select("seq").where("run_id", "=", runId).execute()).toEqual([]);
  });

  it("who sees a run: readers of its agent and the key that started it; a chat key only its own, a restricted key only its agents'", async () => {
    fake.setFallback(() => ({ text: "ok" }));
    const other = await h.request("POST", `/v1/orgs/${a.orgId}/agents`, {
      cookie: a.cookie,
      body: { name: "Other", systemPrompt: "x", model: SONNET, enabledTools: [] },
    });
    const chatOther = (await h.createKey(a, { scopes: ["chat"] })).key;
    const restricted = (await h.createKey(a, { scopes: ["read", "chat"], agentIds: [other.body.id] })).key;
    const readKey = (await h.createKey(a, { scopes: ["read"] })).key;
    const mine = (await post(`/v1/agent/${agentA}/chat`, { message: "mine" }, chatA)).headers.get("x-run-id") as string;
    const theirs = (await post(`/v1/agent/${agentA}/chat`, { message: "theirs" }, chatOther)).headers.get("x-run-id") as string;
    await until(() => getRun(theirs), (r) => r.body.status === "completed");
    await until(() => getRun(mine), (r) => r.body.status === "completed");

    expect((await getRun(mine, chatA)).status).toBe(200);
    expect((await getRun(theirs, chatA)).status).toBe(404);
    expect((await readFrames(await events(mine, { key: chatA }))).at(-1)?.event).toBe("done");
    expect((await events(theirs, { key: chatA })).status).toBe(404);
    const listChat = await h.request("GET", `/v1/orgs/${a.orgId}/runs?limit=200`, { key: chatA });
    expect(listChat.body.data.every((r: { id: string }) => r.id !== theirs)).toBe(true);
    expect(listChat.body.data.some((r: { id: string }) => r.id === mine)).toBe(true);

    expect((await getRun(mine, restricted)).status).toBe(404);
    expect((await h.request("GET", `/v1/orgs/${a.orgId}/runs?agentId=${agentA}`, { key: restricted })).body.data).toEqual([]);
    expect((await getRun(mine, readKey)).status).toBe(200);
    expect((await h.request("GET", `/v1/orgs/${a.orgId}/runs?agentId=${agentA}&limit=200`, { key: readKey })).body.total).toBeGreaterThanOrEqual(2);

    fake.enqueue({ text: "slow slow slow", textChunks: 10, delayMs: 200 });
    const slow = ((await (await post(`/v1/agent/${agentA}/chat`, { message: "slow", background: true }, chatOther)).json()) as { id: string }).id;
    const byReader = await h.request("POST", `/v1/orgs/${a.orgId}/runs/${slow}/cancel`, { key: readKey });
    expect(byReader.status).toBe(403);
    expect((await h.request("POST", `/v1/orgs/${a.orgId}/runs/${slow}/cancel`, { key: chatA })).status).toBe(404);
    expect((await h.request("POST", `/v1/orgs/${a.orgId}/runs/${slow}/cancel`, { cookie: a.cookie, headers: { origin: h.config.publicUrl } })).body.status).toBe("cancelled");
    for (const status of ["bogus", "RUNNING"]) {
      const bad = await h.request("GET", `/v1/orgs/${a.orgId}/runs?status=${status}`, { key: adminA });
      expect(bad.status).toBe(400);
      expect(bad.body.error.param).toBe("status");
    }
  });
});
