/**
 * Tenant isolation of the compatible surfaces, generated from /openapi.json like the main matrix:
 * every operation under /openai/v1, called by org B's principals with org A's ids (A's agent as
 * `model`, A's response as `response_id` or `previous_response_id`), answers 404 in OpenAI's error
 * shape (a session cookie is no credential there: 401); nothing of A is changed or shown. The MCP
 * server at /mcp offers B's keys none of A's agents and runs none of them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OrgWorld, type Operation, type SecurityEnv, buildWorld, findLeaks, loadOperations, sampleOf, snapshotOrg, startSecurityEnv } from "./support";

let env: SecurityEnv;
let a: OrgWorld;
let b: OrgWorld;
let ops: Operation[];
let before: Record<string, string[]>;
let responseA: string;

type Auth = { cookie?: string; key?: string };

const keys = (): Array<[string, Auth]> => [
  ["B admin key", { key: b.adminKey.key }],
  ["B chat key", { key: b.chatKey.key }],
  ["B agent-restricted key", { key: b.restrictedKey.key }],
];

beforeAll(async () => {
  env = await startSecurityEnv({ OPENPAW_DEFAULT_PLAN: "unlimited" });
  env.model.setFallback(() => ({ text: "fine" }));
  a = await buildWorld(env, "Alpha");
  b = await buildWorld(env, "Beta");
  const created = await env.call("POST", "/openai/v1/responses", { key: a.chatKey.key, body: { model: a.agentId, input: "hello from A" } });
  expect(created.status).toBe(200);
  responseA = created.body.id;
  ops = (await loadOperations(env)).filter((op) => op.path.startsWith("/openai/v1/"));
  before = await snapshotOrg(env, a.orgId);
}, 60_000);

afterAll(async () => {
  await env?.close();
});

/** OpenAI's error shape, exactly. */
const isOpenAiError = (body: any) =>
  !!body?.error &&
  Object.keys(body).length === 1 &&
  typeof body.error.message === "string" &&
  typeof body.error.type === "string" &&
  "param" in body.error &&
  "code" in body.error;

/** The URL and body of an operation aimed at A's objects. */
function requestOf(op: Operation, ids: { model: string; response: string }): { url: string; body: unknown } {
  const url = op.path.replace("{response_id}", ids.response).replace("{model}", ids.model);
  const body = op.body ? { ...sampleOf(op.body), model: ids.model } : undefined;
  return { url, body };
}

describe("tenant isolation of /openai/v1 and /mcp", () => {
  it("covers every operation of the OpenAI-compatible surface in the OpenAPI document", () => {
    const paths = ops.map((op) => `${op.method} ${op.path}`).sort();
    expect(paths).toEqual(
      [
        "GET /openai/v1/models",
        "GET /openai/v1/models/{model}",
        "GET /openai/v1/responses/{response_id}",
        "POST /openai/v1/chat/completions",
        "POST /openai/v1/responses",
        "POST /openai/v1/responses/{response_id}/cancel",
      ].sort(),
    );
  });

  it("answers 404 in OpenAI's shape to B's keys for every operation with A's ids, 401 to a session cookie", async () => {
    const failures: string[] = [];
    const foreign = { model: a.agentId, response: responseA };
    for (const op of ops) {
      const { url, body } = requestOf(op, foreign);
      const listing = op.pathParams.length === 0 && op.method === "GET";
      for (const [who, auth] of keys()) {
        const res = await env.call(op.method, url, { ...auth, body });
        const ok = listing ? res.status === 200 && !res.text.includes(a.agentId) : res.status === 404 && isOpenAiError(res.body);
        if (!ok) failures.push(`${who}: ${op.method} ${url} -> ${res.status} ${res.text.slice(0, 200)}`);
      }
      const session = await env.call(op.method, url, { cookie: b.owner.cookie, body });
      if (session.status !== 401 || !isOpenAiError(session.body)) failures.push(`B session: ${op.method} ${url} -> ${session.status}`);
    }
    expect(failures).toEqual([]);
  });

  it("keeps B's agent-restricted key to its own agents, and A's response out of B's continuations", async () => {
    const failures: string[] = [];
    for (const op of ops.filter((o) => o.body || o.pathParams.includes("model"))) {
      const { url, body } = requestOf(op, { model: b.agentId, response: responseA });
      const res = await env.call(op.method, url, { key: b.restrictedKey.key, body });
      if (res.status !== 404) failures.push(`restricted key on B's other agent: ${op.method} ${url} -> ${res.status}`);
    }
    const models = await env.call("GET", "/openai/v1/models", { key: b.restrictedKey.key });
    expect(models.body.data.map((m: { id: string }) => m.id)).toEqual([b.otherAgentId]);
    const continued = await env.call("POST", "/openai/v1/responses", { key: b.adminKey.key, body: { model: b.agentId, input: "continue", previous_response_id: responseA } });
    expect(continued.status).toBe(404);
    expect(continued.body.error.param).toBe("previous_response_id");
    expect(failures).toEqual([]);
  });

  it("offers B's keys none of A's agents over MCP, and runs none of them", async () => {
    const rpc = async (key: string, id: number, method: string, params: Record<string, unknown> = {}) => {
      const res = await env.call("POST", "/mcp", {
        key,
        headers: { accept: "application/json, text/event-stream" },
        body: { jsonrpc: "2.0", id, method, params },
      });
      expect(res.status).toBe(200);
      const data = res.text
        .split("\n")
        .filter((line) => line.startsWith("data: "))
        .map((line) => JSON.parse(line.slice(6)));
      return data.find((m) => m.id === id);
    };
    for (const [, auth] of keys()) {
      const key = auth.key as string;
      await rpc(key, 1, "initialize", { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "isolation", version: "1" } });
      const listed = await rpc(key, 2, "tools/list");
      const text = JSON.stringify(listed);
      expect(text).not.toContain("Alpha");
      expect(text).not.toContain(a.agentId);
      expect(listed.result.tools.length).toBeGreaterThan(0);
      const called = await rpc(key, 3, "tools/call", { name: "alpha_agent", arguments: { message: "hi" } });
      expect(called.result.isError).toBe(true);
      const withConversation = await rpc(key, 4, "tools/call", { name: listed.result.tools[0].name, arguments: { message: "hi", conversationId: a.conversationId } });
      expect(withConversation.result.isError).toBe(true);
      expect(JSON.stringify(withConversation)).not.toContain("Alpha");
    }
  });

  it("left org A's rows unchanged and leaked no secret", async () => {
    expect(await snapshotOrg(env, a.orgId)).toEqual(before);
    expect(findLeaks(env)).toEqual([]);
  });
});

describe("the OpenAPI document", () => {
  it("declares every status this suite was answered (src/http/routes.ts derives them; see support.ts)", () => {
    expect([...new Set(env.undeclared)]).toEqual([]);
  });
});
