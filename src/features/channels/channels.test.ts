import { createHmac, randomBytes } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeAnthropic } from "../../../test/fakes/anthropic";
import { type FakeChannels, startFakeChannels } from "../../../test/fakes/channels";
import type { FakeModelServer } from "../../../test/fakes/model-script";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";

const SONNET = "claude-sonnet-4-20250514";
const BOT_TOKEN = "123456:AAbbCCddEEffGGhhIIjjKKllMMnn";
const WEBHOOK_SECRET = "whsec_test_0123456789abcdef";

describe("channels: /v1/orgs/:orgId/channels and the message tool", () => {
  let h: Harness;
  let fake: FakeModelServer;
  let sinks: FakeChannels;
  let a: Account;
  let b: Account;
  const ids: Record<string, string> = {};
  const base = (account: Account) => `/v1/orgs/${account.orgId}/channels`;

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    sinks = await startFakeChannels();
    h = await createHarness({
      ANTHROPIC_API_KEY: "sk-ant-test-key-000000000000",
      ANTHROPIC_BASE_URL: fake.url,
      OPENPAW_SECRET_KEY: randomBytes(32).toString("base64"),
      OPENPAW_FETCH_ALLOWLIST: `127.0.0.1:${sinks.port}`,
    });
    a = await h.signup({ orgName: "A" });
    b = await h.signup({ orgName: "B" });
    const bodies = [
      { name: "team-slack", type: "slack", config: { url: `${sinks.url}/slack/T000/B000/slacksecretXYZW` } },
      { name: "team-discord", type: "discord", config: { url: `${sinks.url}/discord/123/discordsecretQRST` } },
      { name: "ops-telegram", type: "telegram", config: { botToken: BOT_TOKEN, chatId: -1001234, apiBase: sinks.url } },
      { name: "hook", type: "webhook", config: { url: `${sinks.url}/webhook/in`, secret: WEBHOOK_SECRET } },
    ];
    for (const body of bodies) {
      const res = await h.request("POST", base(a), { cookie: a.cookie, body });
      expect(res.status, res.text).toBe(201);
      ids[body.name] = res.body.id;
    }
  });
  afterAll(async () => {
    await h.close();
    await fake.close();
    await sinks.close();
  });
  beforeEach(() => {
    sinks.requests.length = 0;
    fake.requests.length = 0;
  });

  it("lists channels with every secret masked", async () => {
    const list = await h.request("GET", base(a), { cookie: a.cookie });
    expect(list.status).toBe(200);
    expect(list.body.data.map((c: { name: string }) => c.name)).toEqual(["team-slack", "team-discord", "ops-telegram", "hook"]);
    expect(ids["team-slack"]).toMatch(/^ch_/);
    const byName = Object.fromEntries(list.body.data.map((c: any) => [c.name, c]));
    expect(byName["team-slack"].config).toEqual({ url: `${sinks.url}/••••XYZW` });
    expect(byName["ops-telegram"].config).toEqual({ botToken: "••••MMnn", chatId: "-1001234", apiBase: sinks.url });
    expect(byName.hook.config.secret).toBe("••••cdef");
    for (const secret of ["slacksecret", "discordsecret", BOT_TOKEN, WEBHOOK_SECRET]) expect(list.text).not.toContain(secret);
  });

  it("generates a webhook signing secret when none is given and shows it only once", async () => {
    const res = await h.request("POST", base(a), { cookie: a.cookie, body: { name: "gen", type: "webhook", config: { url: `${sinks.url}/webhook/gen` } } });
    expect(res.status).toBe(201);
    expect(res.body.config.secret).toMatch(/^whsec_[0-9A-Za-z]{32}$/);
    const list = await h.request("GET", base(a), { cookie: a.cookie });
    expect(list.text).not.toContain(res.body.config.secret);
    expect((await h.request("DELETE", `${base(a)}/${res.body.id}`, { cookie: a.cookie })).status).toBe(204);
  });

  it("refuses private-address URLs, bad configs and duplicate names, naming the field", async () => {
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ name: "evil", type: "webhook", config: { url: "http://192.168.1.10/hook" } }, 400, "config.url"],
      [{ name: "evil", type: "slack", config: { url: "http://[::1]:8080/x" } }, 400, "config.url"],
      [{ name: "evil", type: "telegram", config: { botToken: BOT_TOKEN, chatId: "1", apiBase: "http://10.0.0.1" } }, 400, "config.apiBase"],
      [{ name: "evil", type: "telegram", config: { botToken: "nope", chatId: "1" } }, 400, "config.botToken"],
      [{ name: "evil", type: "slack", config: { url: `${sinks.url}/slack/x`, extra: 1 } }, 400, "config.extra"],
      [{ name: "team-slack", type: "slack", config: { url: `${sinks.url}/slack/y` } }, 409, "name"],
    ];
    for (const [body, status, param] of cases) {
      const res = await h.request("POST", base(a), { cookie: a.cookie, body });
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body.error.param).toBe(param);
    }
    expect(sinks.requests).toHaveLength(0);
  });

  it("hides channels across orgs (404) and needs write permission to change them", async () => {
    for (const [method, suffix] of [
      ["DELETE", ""],
      ["POST", "/test"],
    ] as const) {
      expect((await h.request(method, `${base(a)}/${ids.hook}${suffix}`, { cookie: b.cookie })).status).toBe(404);
      const own = await h.request(method, `${base(b)}/${ids.hook}${suffix}`, { cookie: b.cookie });
      expect(own.status).toBe(404);
      expect(own.body.error.param).toBe("channelId");
    }
    expect((await h.request("GET", base(b), { cookie: b.cookie })).body.data).toEqual([]);
    const reader = await h.createKey(a, { scopes: ["read"] });
    expect((await h.request("GET", base(a), { key: reader.key })).status).toBe(200);
    expect((await h.request("POST", `${base(a)}/${ids.hook}/test`, { key: reader.key })).status).toBe(403);
    expect(sinks.requests).toHaveLength(0);
  });

  it("test endpoint posts each platform's format; the webhook is signed like Stripe's", async () => {
    for (const name of ["team-slack", "team-discord", "ops-telegram", "hook"]) {
      const res = await h.request("POST", `${base(a)}/${ids[name]}/test`, { cookie: a.cookie });
      expect(res.status).toBe(200);
      expect(res.body, name).toMatchObject({ ok: true, attempts: 1, error: null });
    }
    const [slack, discord, telegram, hook] = sinks.requests;
    expect(slack.path).toBe("/slack/T000/B000/slacksecretXYZW");
    expect(slack.body).toEqual({ text: expect.stringContaining('channel "team-slack" is connected') });
    expect(discord.body).toMatchObject({ content: expect.stringContaining("team-discord"), allowed_mentions: { parse: [] } });
    expect(telegram.path).toBe(`/bot${BOT_TOKEN}/sendMessage`);
    expect(telegram.body).toEqual({ chat_id: "-1001234", text: expect.stringContaining("ops-telegram") });
    expect(hook.body).toMatchObject({ type: "message", channel: "hook", orgId: a.orgId, text: expect.stringContaining("hook") });
    const signature = String(hook.headers["x-openpaw-signature"]);
    const match = signature.match(/^t=(\d+),v1=([0-9a-f]{64})$/);
    expect(match).not.toBeNull();
    const [, t, v1] = match as RegExpMatchArray;
    expect(Math.abs(Number(t) - Date.now() / 1000)).toBeLessThan(60);
    expect(v1).toBe(createHmac("sha256", WEBHOOK_SECRET).update(`${t}.${hook.raw}`).digest("hex"));
    expect(createHmac("sha256", "another secret").update(`${t}.${hook.raw}`).digest("hex")).not.toBe(v1);
  });

  it("retries a 500 then succeeds; gives up on a 4xx at once and says why", async () => {
    sinks.failNext(500);
    const retried = await h.request("POST", `${base(a)}/${ids["team-slack"]}/test`, { cookie: a.cookie });
    expect(retried.body).toMatchObject({ ok: true, attempts: 2 });
    expect(sinks.requests).toHaveLength(2);

    sinks.failNext(403);
    const refused = await h.request("POST", `${base(a)}/${ids["team-slack"]}/test`, { cookie: a.cookie });
    expect(refused.body.ok).toBe(false);
    expect(refused.body.error.message).toContain("slack answered HTTP 403");
    expect(refused.body.error.message).not.toContain("slacksecret");
    expect(sinks.requests).toHaveLength(3);
  });

  it("the message tool (free plan) posts to the named channel from a run", async () => {
    const agent = await h.request("POST", `/v1/orgs/${a.orgId}/agents`, {
      cookie: a.cookie,
      body: { name: "Notifier", systemPrompt: "Notify.", model: SONNET, temperature: 0, maxIterations: 4, enabledTools: ["message"] },
    });
    fake.enqueue(
      {
        toolCalls: [
          { id: "m1", name: "message", input: { channel: "ops-telegram", text: "Deploy finished ✅" } },
          { id: "m2", name: "message", input: { channel: "nope", text: "lost" } },
        ],
      },
      { text: "Sent." },
    );
    const res = await h.request("POST", `/v1/agent/${agent.body.id}/chat`, { cookie: a.cookie, body: { message: "tell ops", stream: false } });
    expect(res.status).toBe(200);
    expect(fake.requests[0].body.tools.map((t: { name: string }) => t.name)).toEqual(["message"]);
    const results = Object.fromEntries(res.body.events.filter((e: any) => e.event === "tool_result").map((e: any) => [e.data.id, e.data]));
    expect(results.m1).toMatchObject({ tool: "message", isError: false, output: 'Posted to channel "ops-telegram" (telegram).' });
    expect(results.m2).toMatchObject({ isError: true, output: 'No channel named "nope" in this organization.' });
    expect(sinks.requests).toHaveLength(1);
    expect(sinks.requests[0].body).toEqual({ chat_id: "-1001234", text: "Deploy finished ✅" });
    expect(res.body.stopReason).toBe("end_turn");
  });

  it("never writes a channel secret to the logs", () => {
    const logs = h.logs.join("\n");
    for (const secret of ["slacksecret", "discordsecret", BOT_TOKEN, WEBHOOK_SECRET]) expect(logs).not.toContain(secret);
  });
});

describe("channels without OPENPAW_SECRET_KEY", () => {
  it("refuses to store a channel and says how to generate a key", async () => {
    const h = await createHarness();
    try {
      const a = await h.signup();
      const res = await h.request("POST", `/v1/orgs/${a.orgId}/channels`, {
        cookie: a.cookie,
        body: { name: "s", type: "slack", config: { url: "https://hooks.slack.com/services/T/B/x" } },
      });
      expect(res.status).toBe(400);
      expect(res.body.error.param).toBe("config");
      expect(res.body.error.message).toContain("openssl rand -base64 32");
    } finally {
      await h.close();
    }
  });
});

describe("channels and MCP servers in the OpenAPI document", () => {
  it("documents their routes and request schemas", async () => {
    const h = await createHarness();
    try {
      const res = await h.request("GET", "/openapi.json");
      expect(res.status).toBe(200);
      const paths = Object.keys(res.body.paths);
      for (const path of ["/v1/orgs/{orgId}/channels", "/v1/orgs/{orgId}/channels/{channelId}/test", "/v1/orgs/{orgId}/mcp-servers/{serverId}/test"]) {
        expect(paths).toContain(path);
      }
      expect(JSON.stringify(res.body.components.schemas.CreateChannelRequest)).toContain("telegram");
    } finally {
      await h.close();
    }
  });
});
