import { readFileSync } from "node:fs";
import createClient from "openapi-fetch";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLIENT_TYPES_FILE, generateClientTypes } from "../../clients/typescript/generate";
import type { components, paths } from "../../clients/typescript/openapi";
import type { RunningServer } from "../../src/server";
import { type FakeAnthropic, startFakeAnthropic } from "../fakes/anthropic";
import { type Harness, createHarness } from "../helpers/harness";

type RunEvent = components["schemas"]["RunEvent"];

/**
 * The typed client an SDK user would generate from /openapi.json (openapi-typescript types,
 * openapi-fetch calls) against a real gateway over HTTP: the document is a contract only if what
 * a generator makes of it compiles against what the gateway does (`npm run typecheck` checks the
 * calls below against the generated types; this runs them).
 */
describe("a client generated from /openapi.json (openapi-typescript + openapi-fetch)", () => {
  let h: Harness;
  let fake: FakeAnthropic;
  let server: RunningServer;

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    h = await createHarness({ ANTHROPIC_API_KEY: "sk-ant-test-key-000000000000", ANTHROPIC_BASE_URL: fake.url });
    server = await h.listen();
  });
  afterAll(async () => {
    await h?.close();
    await fake?.close();
  });

  it("is the committed one: generating it again from the served document changes nothing", async () => {
    const doc = await h.request("GET", "/openapi.json");
    const generated = await generateClientTypes(doc.body);
    // On a difference: `npm run gen:client`, and review what changed for clients.
    expect(generated === readFileSync(CLIENT_TYPES_FILE, "utf8"), "clients/typescript/openapi.ts is stale: run npm run gen:client").toBe(true);
  });

  it("signs up, creates a key and an agent, lists it, chats, and reads errors by their code", async () => {
    const anonymous = createClient<paths>({ baseUrl: server.url });
    const email = `client_${Date.now()}@example.com`;
    const signup = await anonymous.POST("/v1/auth/signup", { body: { email, password: "correct horse battery", orgName: "Client org" } });
    expect(signup.response.status).toBe(201);
    const orgId = signup.data?.org.id as string;
    const cookie = (signup.response.headers.get("set-cookie") ?? "").split(";")[0];

    const session = createClient<paths>({ baseUrl: server.url, headers: { cookie } });
    const me = await session.GET("/v1/me");
    expect(me.data?.user.email).toBe(email);
    const created = await session.POST("/v1/orgs/{orgId}/api-keys", { params: { path: { orgId } }, body: { name: "sdk", scopes: ["admin"] } });
    expect(created.response.status).toBe(201);
    const key = created.data?.key as string;

    const openpaw = createClient<paths>({ baseUrl: server.url, headers: { authorization: `Bearer ${key}` } });
    const agent = await openpaw.POST("/v1/orgs/{orgId}/agents", {
      params: { path: { orgId } },
      body: { name: "Typed", model: "claude-sonnet-4-20250514", maxIterations: 3 },
    });
    expect(agent.response.status).toBe(201);
    const agentId = agent.data?.id as string;
    const list = await openpaw.GET("/v1/orgs/{orgId}/agents", { params: { path: { orgId }, query: { limit: 10 } } });
    expect(list.data?.data.map((a) => a.id)).toEqual([agentId]);
    expect(list.data?.hasMore).toBe(false);

    fake.enqueue({ text: "typed hello", textChunks: 2 });
    const chat = await openpaw.POST("/v1/agent/{agentId}/chat", { params: { path: { agentId } }, body: { message: "hi", stream: false } });
    expect(chat.response.status).toBe(200);
    // 200 JSON (stream: false) or 202 (background): the client types both; this call asked for the first.
    const result = chat.data as components["schemas"]["ChatResult"];
    expect(result.text).toBe("typed hello");
    // The event schemas are a discriminated union: `done`'s data is typed as DoneEventData.
    const done = result.events.find((e): e is Extract<RunEvent, { event: "done" }> => e.event === "done");
    expect(done?.data.runId).toBe(result.runId);
    expect(done?.data.stopReason).toBe("end_turn");
    const run = await openpaw.GET("/v1/orgs/{orgId}/runs/{runId}", { params: { path: { orgId, runId: result.runId } } });
    expect(run.data?.status).toBe("completed");

    // Errors come typed as the envelope, with the code to branch on.
    const other = await h.signup();
    const hidden = await openpaw.GET("/v1/orgs/{orgId}/agents", { params: { path: { orgId: other.orgId } } });
    expect(hidden.response.status).toBe(404);
    expect(hidden.error?.error.code).toBe("not_found");
    const invalid = await openpaw.POST("/v1/orgs/{orgId}/agents", {
      params: { path: { orgId } },
      body: { name: "", model: "claude-sonnet-4-20250514" },
    });
    expect(invalid.response.status).toBe(400);
    expect(invalid.error?.error).toMatchObject({ type: "invalid_request_error", code: "validation_failed", param: "name" });
    const revoked = createClient<paths>({ baseUrl: server.url, headers: { authorization: "Bearer sk_live_not_a_key" } });
    const refused = await revoked.GET("/v1/models");
    expect(refused.response.status).toBe(401);
    expect(refused.response.headers.get("www-authenticate")).toContain("Bearer");
    expect(refused.error?.error.code).toBe("invalid_api_key");
  });
});
