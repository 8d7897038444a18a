import { networkInterfaces } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeAnthropic } from "../../../test/fakes/anthropic";
import type { FakeModelServer } from "../../../test/fakes/model-script";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";
import type { RunningServer } from "../../server";

const SONNET = "claude-sonnet-4-20250514";

/** The value of one sample line of Prometheus text, or null when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | null {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return null;
}

describe("GET /metrics (OPENPAW_METRICS=true) and the request and run log lines", () => {
  let h: Harness;
  let fake: FakeModelServer;
  let server: RunningServer;
  let a: Account;
  let key: string;
  let agentId: string;

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    h = await createHarness({ ANTHROPIC_API_KEY: "sk-ant-test-key-000000000000", ANTHROPIC_BASE_URL: fake.url, OPENPAW_METRICS: "true" });
    server = await h.listen();
    a = await h.signup({ orgName: "Metrics" });
    key = (await h.createKey(a, { scopes: ["chat", "read", "write"] })).key;
    const agent = await h.request("POST", `/v1/orgs/${a.orgId}/agents`, {
      cookie: a.cookie,
      body: { name: "M", systemPrompt: "Be brief.", model: SONNET, enabledTools: ["memory_write"] },
    });
    agentId = agent.body.id;
  });
  afterAll(async () => {
    await h.close();
    await fake.close();
  });

  it("counts requests by route template and status, model calls with tokens, tool calls, runs; gauges and event-loop delay", async () => {
    fake.enqueue(
      { toolCalls: [{ id: "toolu_1", name: "memory_write", input: { content: "Teal." } }], usage: { inputTokens: 500, outputTokens: 40 } },
      { text: "Noted.", usage: { inputTokens: 600, outputTokens: 5 } },
    );
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${server.url}/v1/orgs/${a.orgId}/agents`, { headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(200);
    }
    expect((await fetch(`${server.url}/v1/orgs/org_nope/agents`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(404);
    const chat = await fetch(`${server.url}/v1/agent/${agentId}/chat`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ message: "Remember teal", stream: false }),
    });
    expect(chat.status).toBe(200);
    const runId = chat.headers.get("x-run-id") as string;

    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(sample(text, "openpaw_http_requests_total", { method: "GET", route: "/v1/orgs/:orgId/agents", status: "200" })).toBe(2);
    expect(sample(text, "openpaw_http_requests_total", { method: "GET", route: "/v1/orgs/:orgId/agents", status: "404" })).toBe(1);
    expect(sample(text, "openpaw_http_request_duration_seconds_count", { method: "GET", route: "/v1/orgs/:orgId/agents" })).toBe(3);
    expect(sample(text, "openpaw_http_requests_total", { method: "POST", route: "/v1/agent/:agentId/chat", status: "200" })).toBe(1);
    // Labels are templates: no org, agent or run id anywhere.
    for (const id of [a.orgId, agentId, runId, "org_nope"]) expect(text).not.toContain(id);
    expect(sample(text, "openpaw_model_calls_total", { provider: "anthropic", model: SONNET, outcome: "ok" })).toBe(2);
    expect(sample(text, "openpaw_model_tokens_total", { provider: "anthropic", model: SONNET, kind: "input" })).toBe(1100);
    expect(sample(text, "openpaw_model_tokens_total", { provider: "anthropic", model: SONNET, kind: "output" })).toBe(45);
    expect(sample(text, "openpaw_model_call_duration_seconds_count", { provider: "anthropic", model: SONNET })).toBe(2);
    expect(sample(text, "openpaw_tool_calls_total", { tool: "memory_write", outcome: "ok" })).toBe(1);
    expect(sample(text, "openpaw_tool_call_duration_seconds_count", { tool: "memory_write" })).toBe(1);
    expect(sample(text, "openpaw_runs_total", { status: "completed" })).toBe(1);
    expect(sample(text, "openpaw_background_queue_depth")).toBe(0);
    expect(sample(text, "openpaw_webhook_deliveries_pending")).toBe(0);
    expect(sample(text, "openpaw_runs_open", { status: "queued" })).toBe(0);
    expect(sample(text, "nodejs_eventloop_lag_p99_seconds")).not.toBeNull();

    // One JSON line per request and per run end, joinable by run id.
    const lines = h.logs.map((l) => JSON.parse(l));
    const request = lines.find((l) => l.msg === "request" && l.runId === runId);
    expect(request).toMatchObject({ level: "info", route: "/v1/agent/:agentId/chat", status: 200, orgId: a.orgId, method: "POST" });
    expect(request.requestId).toMatch(/^req_/);
    const ended = lines.find((l) => l.msg === "run ended" && l.runId === runId);
    expect(ended).toMatchObject({ level: "info", orgId: a.orgId, agentId, status: "completed", toolCalls: 1, iterations: 2, tokens: 1145 });
    expect(JSON.stringify(lines)).not.toContain(key);
  });

  it("is not there when off (the default)", async () => {
    const off = await createHarness();
    try {
      const s = await off.listen();
      const res = await fetch(`${s.url}/metrics`);
      expect(res.status).toBe(404);
      expect(off.services.telemetry.metrics).toBeNull();
    } finally {
      await off.close();
    }
  });

  // A client on another address (this machine's own non-loopback address stands in for one).
  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === "IPv4" && !i.internal)?.address;
  it.skipIf(!external)("is refused to clients that are not on this machine (404, as if absent)", async () => {
    const { startServer } = await import("../../server");
    const outside = await startServer(h.services, { port: 0, host: external as string });
    const res = await fetch(`http://${external}:${outside.port}/metrics`);
    expect(res.status).toBe(404);
    expect(await res.text()).not.toContain("openpaw_http_requests_total");
    // Last in this file: stopping a server closes the (shared) services, as h.close() would.
    await outside.stop();
  });
});
