import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeAnthropic } from "../../../test/fakes/anthropic";
import type { FakeModelServer } from "../../../test/fakes/model-script";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";

const keysOf = async (h: Harness, account: Account) =>
  (await h.request("GET", `/v1/orgs/${account.orgId}/api-keys`, { cookie: account.cookie })).body.data as Array<{ id: string }>;

describe("Idempotency-Key on POST", () => {
  let h: Harness;
  let fake: FakeModelServer;
  let a: Account;
  let b: Account;

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    fake.setFallback(() => ({ text: "ok" }));
    h = await createHarness({ ANTHROPIC_API_KEY: "sk-ant-test-key-000000000000", ANTHROPIC_BASE_URL: fake.url });
    a = await h.signup({ orgName: "A" });
    b = await h.signup({ orgName: "B" });
  });
  afterAll(async () => {
    await h.close();
    await fake.close();
  });

  const createKey = (account: Account, key: string, body: Record<string, unknown> = { name: "ci", scopes: ["read"] }) =>
    h.request("POST", `/v1/orgs/${account.orgId}/api-keys`, { cookie: account.cookie, body, headers: { "Idempotency-Key": key } });

  it("the same key twice creates one API key and replays the first response, secret included", async () => {
    const before = (await keysOf(h, a)).length;
    const first = await createKey(a, "create-key-1");
    expect(first.status).toBe(201);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    const second = await createKey(a, "create-key-1");
    expect(second.status).toBe(201);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(second.headers.get("content-type")).toMatch(/^application\/json/);
    expect(second.body).toEqual(first.body);
    // Each delivery has its own request id.
    expect(second.headers.get("x-request-id")).not.toBe(first.headers.get("x-request-id"));
    expect((await keysOf(h, a)).length).toBe(before + 1);
    // Without the header, two requests are two keys (as before).
    await h.request("POST", `/v1/orgs/${a.orgId}/api-keys`, { cookie: a.cookie, body: { scopes: ["read"] } });
    await h.request("POST", `/v1/orgs/${a.orgId}/api-keys`, { cookie: a.cookie, body: { scopes: ["read"] } });
    expect((await keysOf(h, a)).length).toBe(before + 3);
  });

  it("stores neither the key nor the response in the clear", async () => {
    const first = await createKey(a, "sealed-key-7");
    const rows = await h.services.db.kysely.selectFrom("idempotency_requests").selectAll().execute();
    const dump = JSON.stringify(rows);
    expect(dump).not.toContain(first.body.key);
    expect(dump).not.toContain("sealed-key-7");
    expect(dump).not.toContain(first.body.id);
  });

  it("the same key with another body is 409 idempotency_key_reused naming the header, and changes nothing", async () => {
    const first = await createKey(a, "reuse-1", { name: "one", scopes: ["read"] });
    expect(first.status).toBe(201);
    const count = (await keysOf(h, a)).length;
    const other = await createKey(a, "reuse-1", { name: "two", scopes: ["read"] });
    expect(other.status).toBe(409);
    expect(other.body.error).toMatchObject({ type: "conflict_error", code: "idempotency_key_reused", param: "Idempotency-Key" });
    expect(other.body.error.requestId).toMatch(/^req_/);
    // Another path with the same key is another request too.
    const agent = await h.request("POST", `/v1/orgs/${a.orgId}/agents`, {
      cookie: a.cookie,
      headers: { "Idempotency-Key": "reuse-1" },
      body: { name: "x", systemPrompt: "x" },
    });
    expect(agent.status).toBe(409);
    expect(agent.body.error.code).toBe("idempotency_key_reused");
    expect((await keysOf(h, a)).length).toBe(count);
  });

  it("a duplicate while the first is still running is 409 idempotency_request_in_progress with Retry-After", async () => {
    const first = await createKey(a, "running-1");
    expect(first.status).toBe(201);
    // As if the first were still under way (on this or another replica).
    await h.services.db.kysely.updateTable("idempotency_requests").set({ state: "running", response: null }).execute();
    const count = (await keysOf(h, a)).length;
    const dup = await createKey(a, "running-1");
    expect(dup.status).toBe(409);
    expect(dup.body.error).toMatchObject({ code: "idempotency_request_in_progress", param: "Idempotency-Key" });
    expect(dup.headers.get("retry-after")).toBe("1");
    expect((await keysOf(h, a)).length).toBe(count);
  });

  it("is scoped per caller and org: another user's or key's same Idempotency-Key is its own request", async () => {
    const mine = await createKey(a, "shared-name");
    const theirs = await createKey(b, "shared-name");
    expect(theirs.status).toBe(201);
    expect(theirs.headers.get("idempotent-replayed")).toBeNull();
    expect(theirs.body.id).not.toBe(mine.body.id);
    // An API key of org A with the same Idempotency-Key as A's owner does not get the owner's response.
    const adminKey = (await h.createKey(a, { scopes: ["admin"] })).key;
    const viaKey = await h.request("POST", `/v1/orgs/${a.orgId}/api-keys`, {
      key: adminKey,
      headers: { "Idempotency-Key": "shared-name" },
      body: { name: "ci", scopes: ["read"] },
    });
    expect(viaKey.status).toBe(201);
    expect(viaKey.body.id).not.toBe(mine.body.id);
    // B replaying against A's org learns nothing: 404 as without the header, and it is not A's response.
    const cross = await h.request("POST", `/v1/orgs/${a.orgId}/api-keys`, {
      cookie: b.cookie,
      headers: { "Idempotency-Key": "shared-name" },
      body: { name: "ci", scopes: ["read"] },
    });
    expect(cross.status).toBe(404);
    expect(cross.text).not.toContain(mine.body.id);
  });

  it("expires after the TTL (the request runs again) and prune deletes expired rows", async () => {
    const first = await createKey(a, "old-1");
    const day = 25 * 3_600_000;
    await h.services.db.kysely
      .updateTable("idempotency_requests")
      .set((eb) => ({ created_at: eb("created_at", "-", day) }))
      .execute();
    const again = await createKey(a, "old-1");
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBeNull();
    expect(again.body.id).not.toBe(first.body.id);
    const pruned = await h.services.idempotency.prune();
    expect(pruned).toBeGreaterThan(0);
    const left = await h.services.db.kysely.selectFrom("idempotency_requests").select("created_at").execute();
    expect(left.every((r) => Number(r.created_at) > Date.now() - 24 * 3_600_000)).toBe(true);
  });

  it("refuses a malformed key with 400 naming the header, and ignores the header on GET and unauthenticated POSTs", async () => {
    const bad = await createKey(a, "x".repeat(256));
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ type: "invalid_request_error", param: "Idempotency-Key" });
    const get = await h.request("GET", `/v1/orgs/${a.orgId}/api-keys`, { cookie: a.cookie, headers: { "Idempotency-Key": "g" } });
    expect(get.status).toBe(200);
    // Signup sets a session: never replayed to whoever sends the same key.
    const body = { email: `idem_${Date.now()}@example.com`, password: "correct horse battery", orgName: "S" };
    const s1 = await h.request("POST", "/v1/auth/signup", { body, headers: { "Idempotency-Key": "signup-1" } });
    expect(s1.status).toBe(201);
    const s2 = await h.request("POST", "/v1/auth/signup", { body, headers: { "Idempotency-Key": "signup-1" } });
    expect(s2.status).toBe(409);
    expect(s2.headers.get("set-cookie")).toBeNull();
  });

  it("a background chat replays its 202 (one run); a streamed chat is not replayed and names the run", async () => {
    const agent = await h.request("POST", `/v1/orgs/${a.orgId}/agents`, {
      cookie: a.cookie,
      body: { name: "Idem", systemPrompt: "Be brief.", model: "claude-sonnet-4-20250514" },
    });
    expect(agent.status).toBe(201);
    const key = (await h.createKey(a, { scopes: ["chat", "read"] })).key;
    const chat = (body: Record<string, unknown>, idem: string) =>
      h.request("POST", `/v1/agent/${agent.body.id}/chat`, { key, body, headers: { "Idempotency-Key": idem } });

    const bg1 = await chat({ message: "hi", background: true }, "bg-1");
    expect(bg1.status).toBe(202);
    const bg2 = await chat({ message: "hi", background: true }, "bg-1");
    expect(bg2.status).toBe(202);
    expect(bg2.body.id).toBe(bg1.body.id);
    expect(bg2.headers.get("x-run-id")).toBe(bg1.body.id);
    expect(bg2.headers.get("location")).toBe(bg1.headers.get("location"));
    const runs = await h.services.db.kysely.selectFrom("runs").select("id").where("org_id", "=", a.orgId).execute();
    expect(runs.filter((r) => r.id === bg1.body.id)).toHaveLength(1);

    const s1 = await chat({ message: "stream me" }, "stream-1");
    expect(s1.status).toBe(200);
    expect(s1.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const runId = s1.headers.get("x-run-id");
    const s2 = await chat({ message: "stream me" }, "stream-1");
    expect(s2.status).toBe(409);
    expect(s2.body.error.code).toBe("idempotency_stream_not_replayable");
    expect(s2.headers.get("x-run-id")).toBe(runId);
    expect(s2.body.error.message).toContain(runId);
    const count = await h.services.db.kysely.selectFrom("runs").select("id").where("org_id", "=", a.orgId).execute();
    expect(count.length).toBe(runs.length + 1);
  });
});
