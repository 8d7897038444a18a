import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeAnthropic } from "../../test/fakes/anthropic";
import { type FakeChannels, startFakeChannels } from "../../test/fakes/channels";
import type { FakeModelServer } from "../../test/fakes/model-script";
import { type Account, type Harness, createHarness } from "../../test/helpers/harness";
import { wrapToolOutput } from "../runtime/loop";
import { runStats, unwrapToolOutput } from "./pages/playground";

const pagesOf = (orgId: string, agentId: string, skillId: string, runId: string) => [
  `/orgs/${orgId}/agents`,
  `/orgs/${orgId}/agents/new`,
  `/orgs/${orgId}/agents/${agentId}`,
  `/orgs/${orgId}/agents/${agentId}/memory`,
  `/orgs/${orgId}/playground?agent=${agentId}`,
  `/orgs/${orgId}/runs`,
  `/orgs/${orgId}/runs/${runId}`,
  `/orgs/${orgId}/skills`,
  `/orgs/${orgId}/skills/new`,
  `/orgs/${orgId}/skills/${skillId}`,
  `/orgs/${orgId}/api-keys`,
  `/orgs/${orgId}/usage`,
  `/orgs/${orgId}/usage.csv`,
  `/orgs/${orgId}/billing`,
  `/orgs/${orgId}/domain`,
  `/orgs/${orgId}/files`,
  `/orgs/${orgId}/tools`,
  `/orgs/${orgId}/members`,
  `/orgs/${orgId}/webhooks`,
  `/orgs/${orgId}/schedules`,
];

const form = (fields: Record<string, string | string[]>) => {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const one of Array.isArray(v) ? v : [v]) params.append(k, one);
  return params.toString();
};

describe("dashboard", () => {
  let h: Harness;
  let a: Account;
  let b: Account;
  let agentA: string;
  let skillA: string;
  let runA: string;
  let fake: FakeModelServer;

  const post = (path: string, fields: Record<string, string | string[]>, cookie?: string, origin = "http://localhost") =>
    h.request("POST", path, { raw: form(fields), cookie, headers: { "content-type": "application/x-www-form-urlencoded", origin, host: "localhost" } });

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    h = await createHarness({ ANTHROPIC_API_KEY: "sk-ant-test-key-000000000000", ANTHROPIC_BASE_URL: fake.url });
    a = await h.signup({ orgName: "Org A" });
    b = await h.signup({ orgName: "Org B" });
    const agent = await h.request("POST", `/v1/orgs/${a.orgId}/agents`, {
      cookie: a.cookie,
      body: { name: "Alpha", model: "claude-sonnet-4-20250514", enabledTools: ["memory_read"] },
    });
    agentA = agent.body.id;
    const skill = await h.request("POST", `/v1/orgs/${a.orgId}/skills`, {
      cookie: a.cookie,
      body: { name: "alpha-skill", description: "A skill of org A", content: "Do things." },
    });
    skillA = skill.body.id;
    fake.enqueue({ text: "Alpha's answer" });
    const chat = await h.request("POST", `/v1/agent/${agentA}/chat`, { cookie: a.cookie, body: { message: "Hello", stream: false } });
    runA = chat.body.runId;
  });
  afterAll(async () => {
    await h.close();
    await fake.close();
  });

  it("sends anonymous visitors of every page to /login, coming back afterwards", async () => {
    for (const path of ["/", "/orgs/new", ...pagesOf(a.orgId, agentA, skillA, runA)]) {
      const res = await h.request("GET", path);
      expect(res.status, path).toBe(303);
      expect(res.headers.get("location"), path).toBe(`/login?next=${encodeURIComponent(path)}`);
    }
    const expired = await h.request("GET", `/orgs/${a.orgId}/agents`, { cookie: "openpaw_session=not-a-session" });
    expect(expired.status).toBe(303);
    expect(expired.headers.get("location")).toMatch(/^\/login/);
  });

  it("answers 404 for another org and for another org's ids inside one's own org", async () => {
    for (const path of pagesOf(a.orgId, agentA, skillA, runA)) {
      const res = await h.request("GET", path, { cookie: b.cookie });
      expect(res.status, path).toBe(404);
      expect(res.text).not.toContain("Alpha");
    }
    for (const path of [
      `/orgs/${b.orgId}/agents/${agentA}`,
      `/orgs/${b.orgId}/agents/${agentA}/memory`,
      `/orgs/${b.orgId}/playground?agent=${agentA}`,
      `/orgs/${b.orgId}/skills/${skillA}`,
      `/orgs/${b.orgId}/runs/${runA}`,
    ]) {
      const res = await h.request("GET", path, { cookie: b.cookie });
      expect(res.status, path).toBe(404);
    }
    const del = await post(`/orgs/${b.orgId}/agents/${agentA}/delete`, {}, b.cookie);
    expect(del.status).toBe(404);
    expect((await h.request("GET", `/v1/orgs/${a.orgId}/agents/${agentA}`, { cookie: a.cookie })).status).toBe(200);
  });

  it("serves every page with the security headers and without inline script or style", async () => {
    for (const path of ["/login", "/signup", "/orgs/new", ...pagesOf(a.orgId, agentA, skillA, runA).filter((p) => !p.endsWith(".csv"))]) {
      const res = await h.request("GET", path, { cookie: path.startsWith("/orgs") ? a.cookie : undefined });
      expect(res.status, path).toBe(200);
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp, path).toContain("frame-ancestors 'none'");
      expect(csp, path).toContain("script-src 'self'");
      expect(csp, path).not.toContain("unsafe-inline");
      expect(res.headers.get("x-content-type-options"), path).toBe("nosniff");
      expect(res.headers.get("referrer-policy"), path).toBe("same-origin");
      // Every script is external; no style or event-handler attributes, no <style> blocks.
      const scripts = [...res.text.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
      expect(scripts.length, path).toBeGreaterThan(0);
      for (const [, attrs, body] of scripts) {
        expect(attrs, path).toMatch(/\bsrc="\/assets\//);
        expect(body.trim(), path).toBe("");
      }
      expect(res.text, path).not.toMatch(/<style\b|\sstyle="|\son[a-z]+="/i);
    }
  });

  it("serves htmx vendored with long cache headers", async () => {
    const page = await h.request("GET", "/login");
    const src = /<script src="(\/assets\/htmx\.min\.js\?v=[0-9a-f]+)"/.exec(page.text)?.[1];
    expect(src).toBeTruthy();
    const res = await h.request("GET", src as string);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/javascript/);
    expect(res.headers.get("cache-control")).toContain("immutable");
    expect(res.text).toContain("htmx");
    expect(page.text).toContain('name="htmx-config"');
    expect(page.text).toContain("&quot;includeIndicatorStyles&quot;:false");
  });

  it("answers an unknown page with an HTML 404 under the CSP, and the API's envelope to API clients", async () => {
    for (const path of ["/orgs/whatever/nothing", "/settings", `/orgs/${a.orgId}/agents/${agentA}/nope`]) {
      const res = await h.request("GET", path, { cookie: a.cookie, headers: { accept: "text/html,application/xhtml+xml" } });
      expect(res.status, path).toBe(404);
      expect(res.headers.get("content-type"), path).toMatch(/^text\/html/);
      expect(res.headers.get("content-security-policy"), path).toContain("script-src 'self'");
      expect(res.text, path).toContain("Not found");
      expect(res.text, path).not.toMatch(/\sstyle="|<style\b/);
    }
    const api = await h.request("GET", "/v1/nothing", { headers: { accept: "text/html" } });
    expect(api.body.error.type).toBe("not_found_error");
    const curl = await h.request("GET", "/settings");
    expect(curl.body.error.type).toBe("not_found_error");
  });

  it("serves a favicon and an SVG logo instead of an emoji", async () => {
    const icon = await h.request("GET", "/favicon.ico");
    expect(icon.status).toBe(200);
    expect(icon.headers.get("content-type")).toBe("image/vnd.microsoft.icon");
    const page = await h.request("GET", `/orgs/${a.orgId}/agents`, { cookie: a.cookie });
    expect(page.text).not.toContain("🐾");
    const logo = /<img class="logo" src="(\/assets\/logo\.svg\?v=[0-9a-f]+)"/.exec(page.text)?.[1];
    expect(logo).toBeTruthy();
    expect((await h.request("GET", logo as string)).headers.get("content-type")).toBe("image/svg+xml");
  });

  it("renders another org's page as a full-width 404, not squeezed into the sidebar column", async () => {
    const res = await h.request("GET", `/orgs/${a.orgId}/agents`, { cookie: b.cookie });
    expect(res.status).toBe(404);
    expect(res.text).toContain('class="shell no-sidebar"');
    expect(res.text).not.toContain('class="sidebar"');
  });

  it("defaults the new-agent form to the catalogue's default model, not the most expensive", async () => {
    const res = await h.request("GET", `/orgs/${a.orgId}/agents/new`, { cookie: a.cookie });
    const selected = /<option value="([^"]+)" selected="">/.exec(res.text)?.[1];
    expect(selected).toBe(h.services.models.defaultModel().id);
    expect(selected).not.toBe("claude-fable-5-2");
  });

  it("words run figures in the singular when there is one, and shows tool output without its wrapper", () => {
    expect(runStats({ iterations: 1, toolCalls: 1, tokens: 1234, inputTokens: 1000, outputTokens: 234, cost: 0.004, stopReason: "end_turn" })).toBe(
      "1 iteration · 1 tool call · 1,234 tokens (1,000 in, 234 out) · $0.0040 · end_turn",
    );
    expect(runStats({ iterations: 2, toolCalls: 0, tokens: 5, inputTokens: 3, outputTokens: 2, cost: 0, stopReason: "error" })).toMatch(/^2 iterations · 0 tool calls/);
    for (const output of ["plain", "line 1\nline 2", "tries </tool_output> to escape", "x".repeat(50)]) {
      expect(unwrapToolOutput(wrapToolOutput("read_url", output, 1_000))).toBe(output);
    }
    expect(unwrapToolOutput(wrapToolOutput("t", "x".repeat(50), 10))).toMatch(/^x{10}\n\[output cut: 40 of 50 characters omitted\]$/);
    expect(unwrapToolOutput("not wrapped")).toBe("not wrapped");
  });

  it("tells the owner of an org without Stripe how the operator sets plans", async () => {
    const res = await h.request("GET", `/orgs/${a.orgId}/billing`, { cookie: a.cookie });
    expect(res.text).toContain(`openpaw orgs set-plan ${a.orgId} PLAN`);
    expect(res.text).toContain("OPENPAW_OPERATOR_EMAILS");
  });

  it("leaves the API, docs and probes alone", async () => {
    expect((await h.request("GET", "/healthz")).status).toBe(200);
    expect((await h.request("GET", "/openapi.json")).body.openapi).toBe("3.1.0");
    expect((await h.request("GET", "/docs")).status).toBe(200);
    const missing = await h.request("GET", "/v1/nothing-here");
    expect(missing.status).toBe(404);
    expect(missing.body.error.type).toBe("not_found_error");
    const me = await h.request("GET", "/v1/me");
    expect(me.status).toBe(401);
  });

  it("signs up through the form, sets the session cookie, and creates an agent through the API's rules", async () => {
    const email = `form_${Date.now()}@example.com`;
    const signup = await post("/signup", { email, password: "correct horse battery", orgName: "Formed" });
    expect(signup.status).toBe(303);
    const cookie = (signup.headers.get("set-cookie") ?? "").split(";")[0];
    expect(cookie).toMatch(/^openpaw_session=/);
    const orgId = /\/orgs\/(org_[^/]+)\/agents/.exec(signup.headers.get("location") ?? "")?.[1] as string;
    expect(orgId).toBeTruthy();
    // The API's validation speaks through the form: a bad temperature is refused with its message.
    const bad = await post(`/orgs/${orgId}/agents`, { name: "X", model: "claude-sonnet-4-20250514", temperature: "7", maxIterations: "5" }, cookie);
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/temperature/i);
    const created = await post(
      `/orgs/${orgId}/agents`,
      { name: "Formed agent", model: "claude-sonnet-4-20250514", maxIterations: "7", enabledTools: ["memory_read", "memory_write"], systemPrompt: "Be brief." },
      cookie,
    );
    expect(created.status).toBe(303);
    const list = await h.request("GET", `/v1/orgs/${orgId}/agents`, { cookie });
    expect(list.body.data).toHaveLength(1);
    expect(list.body.data[0]).toMatchObject({ name: "Formed agent", maxIterations: 7, enabledTools: ["memory_read", "memory_write"], systemPrompt: "Be brief." });
  });

  it("refuses cross-site form posts (CSRF)", async () => {
    const res = await post(`/orgs/${a.orgId}/agents/${agentA}/delete`, {}, a.cookie, "https://evil.example");
    expect(res.status).toBe(403);
    expect((await h.request("GET", `/v1/orgs/${a.orgId}/agents/${agentA}`, { cookie: a.cookie })).status).toBe(200);
  });

  it("shows members only what their role allows, and the server refuses the rest", async () => {
    const member = await h.signup({ orgName: "M" });
    await h.request("POST", `/v1/orgs/${a.orgId}/members`, { cookie: a.cookie, body: { email: member.email, role: "member" } });
    const agents = await h.request("GET", `/orgs/${a.orgId}/agents`, { cookie: member.cookie });
    expect(agents.status).toBe(200);
    expect(agents.text).toContain("Alpha");
    expect(agents.text).not.toContain("New agent");
    expect(agents.text).not.toContain(">API keys<");
    const del = await post(`/orgs/${a.orgId}/agents/${agentA}/delete`, {}, member.cookie);
    expect(del.status).toBe(303);
    expect((await h.request("GET", `/v1/orgs/${a.orgId}/agents/${agentA}`, { cookie: a.cookie })).status).toBe(200);
  });
});

describe("dashboard: tools page", () => {
  let h: Harness;
  let sinks: FakeChannels;
  let a: Account;

  const post = (path: string, fields: Record<string, string | string[]>, cookie?: string) =>
    h.request("POST", path, { raw: form(fields), cookie, headers: { "content-type": "application/x-www-form-urlencoded", origin: "http://localhost", host: "localhost" } });

  /** The page a redirect leads to, with the one-time message cookie it set. */
  const follow = (res: { headers: Headers }, cookie: string) =>
    h.request("GET", res.headers.get("location") as string, { cookie: `${(res.headers.get("set-cookie") ?? "").split(";")[0]}; ${cookie}` });

  beforeAll(async () => {
    sinks = await startFakeChannels();
    h = await createHarness({
      OPENPAW_SECRET_KEY: Buffer.alloc(32, 7).toString("base64"),
      OPENPAW_DEFAULT_PLAN: "agency",
      OPENPAW_FETCH_ALLOWLIST: `127.0.0.1:${sinks.port}`,
    });
    a = await h.signup({ orgName: "Tools org" });
  });
  afterAll(async () => {
    await h.close();
    await sinks.close();
  });

  it("shows the API's refusal of an MCP server on a private address", async () => {
    const res = await post(`/orgs/${a.orgId}/tools/mcp`, { name: "internal", url: "http://10.0.0.1/mcp", headers: "Authorization: Bearer x", enabled: "true" }, a.cookie);
    expect(res.status).toBe(400);
    expect(res.text).toMatch(/Invalid url/);
    expect(res.text).toContain("Add MCP server");
    expect((await h.request("GET", `/v1/orgs/${a.orgId}/mcp-servers`, { cookie: a.cookie })).body.data).toHaveLength(0);
    const badHeaders = await post(`/orgs/${a.orgId}/tools/mcp`, { name: "x", url: `${sinks.url}/mcp`, headers: "no colon here" }, a.cookie);
    expect(badHeaders.status).toBe(400);
    expect(badHeaders.text).toContain("Name: value");
  });

  it("adds a webhook channel, lists it without its secret, and shows a generated secret once", async () => {
    const secret = "whsec_dashboard_0123456789";
    const added = await post(`/orgs/${a.orgId}/tools/channels`, { name: "hook", type: "webhook", url: `${sinks.url}/webhook/in`, secret, botToken: "", chatId: "" }, a.cookie);
    expect(added.status, added.text).toBe(303);
    const page = await follow(added, a.cookie);
    expect(page.text).toContain("Channel hook added.");
    expect(page.text).toContain("<strong>hook</strong>");
    expect(page.text).not.toContain(secret);
    expect(page.text).not.toContain("/webhook/in");

    const generated = await post(`/orgs/${a.orgId}/tools/channels`, { name: "hook2", type: "webhook", url: `${sinks.url}/webhook/in` }, a.cookie);
    expect(generated.status).toBe(201);
    const shown = /<code id="new-secret">(whsec_[A-Za-z0-9]+)<\/code>/.exec(generated.text)?.[1];
    expect(shown).toBeTruthy();
    expect((await h.request("GET", `/orgs/${a.orgId}/tools`, { cookie: a.cookie })).text).not.toContain(shown as string);

    const list = await h.request("GET", `/v1/orgs/${a.orgId}/channels`, { cookie: a.cookie });
    const id = list.body.data.find((ch: { name: string }) => ch.name === "hook").id;
    const test = await post(`/orgs/${a.orgId}/tools/channels/${id}/test`, {}, a.cookie);
    expect(test.status).toBe(303);
    expect((await follow(test, a.cookie)).text).toContain("Test message sent.");
    expect(sinks.requests.some((r) => r.path === "/webhook/in")).toBe(true);
  });

  it("adds, enables and tests an MCP server", async () => {
    const added = await post(`/orgs/${a.orgId}/tools/mcp`, { name: "sink", url: `${sinks.url}/mcp`, headers: "X-Token: abcdefgh1234" }, a.cookie);
    expect(added.status, added.text).toBe(303);
    const page = await follow(added, a.cookie);
    expect(page.text).toContain("MCP server sink added.");
    expect(page.text).toContain(">disabled<");
    expect(page.text).not.toContain("abcdefgh1234");
    const id = (await h.request("GET", `/v1/orgs/${a.orgId}/mcp-servers`, { cookie: a.cookie })).body.data[0].id;
    const enabled = await post(`/orgs/${a.orgId}/tools/mcp/${id}/enabled`, { enabled: "true" }, a.cookie);
    expect((await follow(enabled, a.cookie)).text).toContain("sink enabled.");
    const test = await post(`/orgs/${a.orgId}/tools/mcp/${id}/test`, {}, a.cookie);
    expect(test.status).toBe(303);
    // The fake channel sink is no MCP server: the page shows why the connection failed.
    expect((await follow(test, a.cookie)).text).toMatch(/role="alert"[^>]*>[^<]*sink/);
  });

  it("shows members no forms or buttons", async () => {
    const member = await h.signup({ orgName: "Member's own" });
    await h.request("POST", `/v1/orgs/${a.orgId}/members`, { cookie: a.cookie, body: { email: member.email, role: "member" } });
    const page = await h.request("GET", `/orgs/${a.orgId}/tools`, { cookie: member.cookie });
    expect(page.status).toBe(200);
    expect(page.text).toContain("<strong>hook</strong>");
    expect(page.text).not.toMatch(/<form[^>]*method="post"[^>]*\/tools\//);
    expect(page.text).not.toContain("Add MCP server");
    expect(page.text).not.toContain("Add channel");
    expect(page.text).not.toContain("Send test");
  });
});
