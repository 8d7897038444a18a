import { type IncomingMessage, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeAnthropic } from "../../../test/fakes/anthropic";
import type { FakeModelServer } from "../../../test/fakes/model-script";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";

const SONNET = "claude-sonnet-4-20250514";

interface DecodedSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  kind: number;
  attributes: Record<string, string | number | boolean>;
}

/** A local OTLP/HTTP receiver: decodes each JSON export request into spans. */
async function startReceiver() {
  const spans: DecodedSpan[] = [];
  const requests: Array<{ path: string; contentType: string }> = [];
  const read = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => resolve(body));
    });
  const server = createServer(async (req, res) => {
    const body = await read(req);
    requests.push({ path: req.url ?? "", contentType: req.headers["content-type"] ?? "" });
    const decoded = JSON.parse(body) as { resourceSpans: Array<{ resource: unknown; scopeSpans: Array<{ spans: any[] }> }> };
    for (const rs of decoded.resourceSpans)
      for (const ss of rs.scopeSpans)
        for (const s of ss.spans) {
          const attributes: DecodedSpan["attributes"] = {};
          for (const a of s.attributes ?? []) {
            const v = a.value;
            attributes[a.key] = v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.boolValue ?? v.doubleValue));
          }
          spans.push({ name: s.name, traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId || undefined, kind: s.kind, attributes });
        }
    res.writeHead(200, { "content-type": "application/json" });
    res.end("{}");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, requests, close: () => server.close() };
}

describe("OpenTelemetry traces (OTEL_EXPORTER_OTLP_ENDPOINT) to a local OTLP/HTTP receiver", () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let fake: FakeModelServer;
  let h: Harness;
  let a: Account;

  beforeAll(async () => {
    receiver = await startReceiver();
    fake = await startFakeAnthropic();
    h = await createHarness({ ANTHROPIC_API_KEY: "sk-ant-test-key-000000000000", ANTHROPIC_BASE_URL: fake.url, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
    a = await h.signup({ orgName: "Traced" });
  });
  afterAll(async () => {
    await h.close();
    await fake.close();
    receiver.close();
  });

  it("exports a span per request, run, model call and tool call with GenAI attributes, ids, and no prompt contents", async () => {
    const key = (await h.createKey(a, { scopes: ["chat", "read"] })).key;
    const agent = await h.request("POST", `/v1/orgs/${a.orgId}/agents`, {
      cookie: a.cookie,
      body: { name: "T", systemPrompt: "SYSTEM-PROMPT-SECRET", model: SONNET, enabledTools: ["memory_write"] },
    });
    fake.enqueue(
      { toolCalls: [{ id: "toolu_9", name: "memory_write", input: { content: "TOOL-INPUT-SECRET" } }], usage: { inputTokens: 300, outputTokens: 20 } },
      { text: "ANSWER-SECRET", usage: { inputTokens: 400, outputTokens: 7 } },
    );
    const chat = await h.request("POST", `/v1/agent/${agent.body.id}/chat`, { key, body: { message: "USER-MESSAGE-SECRET", stream: false } });
    expect(chat.status).toBe(200);
    const runId = chat.headers.get("x-run-id") as string;
    const requestId = chat.headers.get("x-request-id") as string;
    await h.services.telemetry.tracing?.flush();

    expect(receiver.requests.every((r) => r.path === "/v1/traces" && r.contentType.startsWith("application/json"))).toBe(true);
    const request = receiver.spans.find((s) => s.attributes["openpaw.request_id"] === requestId) as DecodedSpan;
    expect(request).toBeDefined();
    expect(request.name).toBe("POST /v1/agent/:agentId/chat");
    expect(request.kind).toBe(2); // SERVER
    expect(request.attributes).toMatchObject({ "http.route": "/v1/agent/:agentId/chat", "http.response.status_code": 200, "openpaw.run_id": runId, "openpaw.org_id": a.orgId });

    const run = receiver.spans.find((s) => s.attributes["gen_ai.operation.name"] === "invoke_agent" && s.attributes["openpaw.run_id"] === runId) as DecodedSpan;
    expect(run.attributes).toMatchObject({ "gen_ai.agent.id": agent.body.id, "gen_ai.request.model": SONNET, "gen_ai.provider.name": "anthropic", "openpaw.run_status": "completed" });
    const calls = receiver.spans.filter((s) => s.parentSpanId === run.spanId && s.attributes["gen_ai.operation.name"] === "chat");
    expect(calls).toHaveLength(2);
    expect(calls.map((s) => s.attributes["gen_ai.usage.input_tokens"]).sort()).toEqual([300, 400]);
    expect(calls.map((s) => s.attributes["gen_ai.usage.output_tokens"]).sort((x, y) => Number(x) - Number(y))).toEqual([7, 20]);
    for (const c of calls) expect(c.attributes).toMatchObject({ "gen_ai.request.model": SONNET, "gen_ai.system": "anthropic", "gen_ai.provider.name": "anthropic", "openpaw.run_id": runId });
    const tool = receiver.spans.find((s) => s.parentSpanId === run.spanId && s.attributes["gen_ai.operation.name"] === "execute_tool") as DecodedSpan;
    expect(tool.attributes).toMatchObject({ "gen_ai.tool.name": "memory_write", "gen_ai.tool.call.id": "toolu_9" });
    for (const s of [...calls, tool]) expect(s.traceId).toBe(run.traceId);

    const everything = JSON.stringify(receiver.spans);
    for (const secret of ["SYSTEM-PROMPT-SECRET", "TOOL-INPUT-SECRET", "ANSWER-SECRET", "USER-MESSAGE-SECRET", key]) expect(everything).not.toContain(secret);

    // The request's log line names its trace.
    const line = h.logs.map((l) => JSON.parse(l)).find((l) => l.msg === "request" && l.requestId === requestId);
    expect(line.traceId).toBe(request.traceId);
  });

  it("is off without the endpoint: no tracer, no traceId in logs", async () => {
    const off = await createHarness();
    try {
      expect(off.services.telemetry.tracing).toBeNull();
      await off.request("GET", "/healthz");
      expect(off.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === "request" && l.traceId)).toHaveLength(0);
    } finally {
      await off.close();
    }
  });
});
