/**
 * "What can this call still use": a model call reserves its input and only as much output as the
 * plan leaves (its max_tokens capped to that), a run whose first call cannot fit is a 402 before
 * any stream starts, and every refusal says what is left and what the call needed.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeAnthropic } from "../../../test/fakes/anthropic";
import type { FakeModelServer } from "../../../test/fakes/model-script";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";
import { chatOverHttp } from "../../../test/helpers/sse";
import type { RunningServer } from "../../server";
import { BUILT_IN_PLANS } from "./plans";
import { MIN_OUTPUT_TOKENS } from "./quota";

const LIMIT = 200_000;

function plansFile(): string {
  const path = join(mkdtempSync(join(tmpdir(), "openpaw-plans-")), "plans.json");
  writeFileSync(path, JSON.stringify(BUILT_IN_PLANS.filter((p) => p.id === "free").map((p) => ({ ...p, tokenLimit: LIMIT }))));
  return path;
}

describe("quota per model call", () => {
  let fake: FakeModelServer;
  let h: Harness;
  let server: RunningServer;
  let a: Account;
  let agent: string;

  const useUp = async (account: Account, tokens: number) => {
    const { quota } = h.services;
    const used = (await quota.periodUsage(account.orgId)).tokensUsed;
    expect(await quota.reserve(account.orgId, tokens - used)).toBe(true);
    await quota.settle(account.orgId, tokens - used, tokens - used);
  };

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    h = await createHarness({ ANTHROPIC_API_KEY: "sk-ant-test-key-0000000000", ANTHROPIC_BASE_URL: fake.url, OPENPAW_PLANS_FILE: plansFile() });
    server = await h.listen();
    a = await h.signup();
    const created = await h.request("POST", `/v1/orgs/${a.orgId}/agents`, { cookie: a.cookie, body: { name: "Q", model: "claude-sonnet-4-20250514" } });
    agent = created.body.id;
  });
  afterAll(async () => {
    await h?.close();
    await fake?.close();
  });

  it("with 6,000 tokens left a chat runs, asking the model for no more output than is left (not the usual 8,192)", async () => {
    await useUp(a, LIMIT - 6_000);
    fake.enqueue({ text: "Still works.", usage: { inputTokens: 50, outputTokens: 5 } });
    const res = await chatOverHttp(server.url, agent, { message: "hello" }, { cookie: a.cookie });
    expect(res.status).toBe(200);
    expect(res.events.map((e) => e.event)).toEqual(["text", "text", "text", "text", "text", "text", "text", "text", "text", "text", "done"]);
    const maxTokens = fake.requests.at(-1)?.body.max_tokens;
    expect(maxTokens).toBeLessThan(6_000);
    expect(maxTokens).toBeGreaterThan(5_000);
    // Only what the call used is counted; the reservation is gone.
    expect(await h.services.quota.periodUsage(a.orgId)).toMatchObject({ tokensUsed: LIMIT - 6_000 + 55, tokensReserved: 0 });
  });

  it("with less than one minimal call left, the chat is a 402 before the stream, saying what is left", async () => {
    await useUp(a, LIMIT - 600);
    const calls = fake.requests.length;
    const conversations = await h.request("GET", `/v1/orgs/${a.orgId}/agents/${agent}/conversations`, { cookie: a.cookie });
    const res = await chatOverHttp(server.url, agent, { message: "hello" }, { cookie: a.cookie });
    expect(res.status).toBe(402);
    const body = JSON.parse(res.text);
    expect(body.error.type).toBe("quota_exceeded_error");
    expect(body.error.message).toMatch(/leaves 600 tokens/);
    expect(body.error.message).toContain(`at least ${MIN_OUTPUT_TOKENS.toLocaleString("en-US")}`);
    expect(body.error.message).not.toMatch(/during this run/);
    // Nothing happened: no model call, no new conversation.
    expect(fake.requests.length).toBe(calls);
    const after = await h.request("GET", `/v1/orgs/${a.orgId}/agents/${agent}/conversations`, { cookie: a.cookie });
    expect(after.body.total).toBe(conversations.body.total);
  });

  it("a run that uses up the plan mid-way stops with an error that says so", async () => {
    const b = await h.signup();
    const created = await h.request("POST", `/v1/orgs/${b.orgId}/agents`, {
      cookie: b.cookie,
      body: { name: "Tools", model: "claude-sonnet-4-20250514", enabledTools: ["memory_write"] },
    });
    await useUp(b, LIMIT - 4_000);
    // The first call uses what is left, so the second cannot start.
    fake.enqueue({ toolCalls: [{ name: "memory_write", input: { content: "x" } }], usage: { inputTokens: 2_500, outputTokens: 500 } });
    const res = await chatOverHttp(server.url, created.body.id, { message: "write it" }, { cookie: b.cookie });
    expect(res.status).toBe(200);
    const error = res.events.find((e) => e.event === "error")?.data.error;
    expect(error.type).toBe("quota_exceeded_error");
    expect(error.message).toMatch(/^The run stopped after 1 model call: The Free plan's limit of 200,000 tokens for this period leaves 1,000 tokens/);
    expect(res.events.at(-1)).toMatchObject({ event: "done", data: { stopReason: "error", iterations: 1, toolCalls: 1 } });
  });

  it("reserveCall caps the output by what is left and refuses below the minimum", async () => {
    const c = await h.signup();
    const { quota } = h.services;
    await useUp(c, LIMIT - 10_000);
    expect(await quota.reserveCall(c.orgId, 3_000, 8_192)).toEqual({ ok: true, reserved: 10_000, maxTokens: 7_000 });
    const refused = await quota.reserveCall(c.orgId, 100, 8_192);
    expect(refused.ok).toBe(false);
    // The calls in progress hold the rest, and the message says so.
    expect(refused.ok === false && refused.message).toMatch(/leaves 0 tokens \(10,000 more are held by calls in progress\)/);
    await quota.settle(c.orgId, 10_000, 0);
    expect(await quota.reserveCall(c.orgId, 100, 2_000)).toEqual({ ok: true, reserved: 2_100, maxTokens: 2_000 });
  });

  it("an unlimited plan never caps the call", async () => {
    const u = await createHarness({ OPENPAW_DEFAULT_PLAN: "unlimited" });
    try {
      const d = await u.signup();
      expect(await u.services.quota.reserveCall(d.orgId, 1_000_000, 8_192)).toEqual({ ok: true, reserved: 1_008_192, maxTokens: 8_192 });
      await expect(u.services.quota.assertCallFits(d.orgId, 10_000_000)).resolves.toBeUndefined();
    } finally {
      await u.close();
    }
  });
});
