import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertAgentRow } from "../../../test/helpers/fixtures";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";
import { generateApiKey, isWellFormedApiKey, sha256Hex } from "./key-format";

describe("API key format", () => {
  it("is sk_live_ + base62 with a checksum a scanner can verify offline", () => {
    const keys = new Set(Array.from({ length: 200 }, generateApiKey));
    expect(keys.size).toBe(200);
    for (const key of keys) {
      expect(key).toMatch(/^sk_live_[0-9A-Za-z]{49}$/);
      expect(isWellFormedApiKey(key)).toBe(true);
    }
    const key = [...keys][0];
    const flipped = key.slice(0, 20) + (key[20] === "a" ? "b" : "a") + key.slice(21);
    expect(isWellFormedApiKey(flipped)).toBe(false);
    expect(isWellFormedApiKey(key.slice(0, -1))).toBe(false);
    expect(isWellFormedApiKey(`${key}x`)).toBe(false);
  });
});

describe("API keys", () => {
  let h: Harness;
  let a: Account;
  let b: Account;
  beforeAll(async () => {
    h = await createHarness();
    a = await h.signup();
    b = await h.signup();
  });
  afterAll(() => h.close());

  it("creates a key shown once, stored only as its SHA-256 hash, listed by prefix and last4", async () => {
    const res = await h.request("POST", `/v1/orgs/${a.orgId}/api-keys`, { cookie: a.cookie, body: { name: "ci" } });
    expect(res.status).toBe(201);
    const { key, id } = res.body;
    expect(id).toMatch(/^key_/);
    expect(isWellFormedApiKey(key)).toBe(true);
    expect(res.body).toMatchObject({
      name: "ci",
      prefix: key.slice(0, 12),
      last4: key.slice(-4),
      scopes: ["chat"],
      agentIds: null,
      expiresAt: null,
      lastUsedAt: null,
    });
    const row = await h.services.db.kysely.selectFrom("api_keys").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
    expect(row.key_hash).toBe(await sha256Hex(key));
    expect(JSON.stringify(row)).not.toContain(key);
    const list = await h.request("GET", `/v1/orgs/${a.orgId}/api-keys`, { cookie: a.cookie });
    expect(list.status).toBe(200);
    const listed = list.body.data.find((k: { id: string }) => k.id === id);
    expect(listed).toMatchObject({ prefix: key.slice(0, 12), last4: key.slice(-4) });
    expect(list.text).not.toContain(key);
    expect(list.text).not.toContain(row.key_hash);
    expect(listed.key).toBeUndefined();
  });

  it("authenticates a key for its own org only: another org's path is 404", async () => {
    const { key } = await h.createKey(a, { scopes: ["read"] });
    expect((await h.request("GET", `/v1/orgs/${a.orgId}/api-keys`, { key })).status).toBe(200);
    const other = await h.request("GET", `/v1/orgs/${b.orgId}/api-keys`, { key });
    expect(other.status).toBe(404);
    expect(other.body.error.type).toBe("not_found_error");
  });

  it("records lastUsedAt without a write per request, visible in the list", async () => {
    const { key, id } = await h.createKey(a, { scopes: ["read"] });
    await h.request("GET", `/v1/orgs/${a.orgId}`, { key });
    const list = await h.request("GET", `/v1/orgs/${a.orgId}/api-keys`, { key });
    expect(list.body.data.find((k: { id: string }) => k.id === id).lastUsedAt).not.toBeNull();
    await h.services.apiKeys.flush();
    const row = await h.services.db.kysely.selectFrom("api_keys").select("last_used_at").where("id", "=", id).executeTakeFirstOrThrow();
    expect(row.last_used_at).toBeGreaterThan(0);
  });

  it("refuses revoked, expired, malformed, unknown and checksum-broken keys with 401, never echoing the key", async () => {
    const { key, id } = await h.createKey(a, { scopes: ["read"] });
    expect((await h.request("DELETE", `/v1/orgs/${a.orgId}/api-keys/${id}`, { cookie: a.cookie })).status).toBe(204);
    expect((await h.request("DELETE", `/v1/orgs/${a.orgId}/api-keys/${id}`, { cookie: a.cookie })).status).toBe(404);
    const revoked = await h.request("GET", `/v1/orgs/${a.orgId}`, { key });
    expect(revoked.status).toBe(401);
    expect(revoked.body.error.message).toMatch(/revoked/);
    expect(revoked.text).not.toContain(key);

    // A key that expires while its lookup is cached is refused from that moment on.
    const expiresAt = Date.now() + 1_000;
    const expiring = await h.createKey(a, { scopes: ["read"], expiresAt: new Date(expiresAt).toISOString() });
    expect((await h.request("GET", `/v1/orgs/${a.orgId}`, { key: expiring.key })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now()) + 20));
    expect((await h.request("GET", `/v1/orgs/${a.orgId}`, { key: expiring.key })).body.error.message).toMatch(/expired/);

    const fresh = generateApiKey();
    const broken = `${key.slice(0, -1)}${key.endsWith("A") ? "B" : "A"}`;
    for (const header of [
      `Bearer ${fresh}`,
      `Bearer ${broken}`,
      `Bearer ${key.slice(0, 30)}`,
      "Bearer garbage",
      "Basic abc",
      "Bearer",
      key,
    ]) {
      const res = await h.request("GET", `/v1/orgs/${a.orgId}`, { headers: { authorization: header } });
      expect(res.status, header).toBe(401);
      expect(res.body.error.type).toBe("authentication_error");
      const sent = header.replace("Bearer ", "");
      if (sent.length > 8) expect(res.text).not.toContain(sent);
    }
  });

  it("validates the create body and refuses expiry in the past", async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ scopes: ["root"] }, "scopes.0"],
      [{ scopes: [] }, "scopes"],
      [{ expiresAt: "tomorrow" }, "expiresAt"],
      [{ expiresAt: "2001-01-01T00:00:00Z" }, "expiresAt"],
      [{ agentIds: "ag_1" }, "agentIds"],
      [{ name: "x".repeat(101) }, "name"],
      [{ owner: true }, "owner"],
    ];
    for (const [body, param] of cases) {
      const res = await h.request("POST", `/v1/orgs/${a.orgId}/api-keys`, { cookie: a.cookie, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.param).toBe(param);
    }
  });

  it("enforces scopes: a read key cannot create keys, a write key cannot mint an admin key", async () => {
    const read = await h.createKey(a, { scopes: ["read"] });
    expect((await h.request("POST", `/v1/orgs/${a.orgId}/api-keys`, { key: read.key, body: {} })).status).toBe(403);
    const chat = await h.createKey(a, { scopes: ["chat"] });
    expect((await h.request("GET", `/v1/orgs/${a.orgId}/api-keys`, { key: chat.key })).status).toBe(403);
    const admin = await h.createKey(a, { scopes: ["admin"] });
    const minted = await h.request("POST", `/v1/orgs/${a.orgId}/api-keys`, { key: admin.key, body: { scopes: ["read", "chat"] } });
    expect(minted.status).toBe(201);
    // Keys are org-wide: a key restricted to some agents manages none, whatever its scopes.
    const [first, second] = [await insertAgentRow(h, a.orgId), await insertAgentRow(h, a.orgId)];
    const restricted = await h.createKey(a, { scopes: ["admin"], agentIds: [first] });
    for (const body of [{ agentIds: [second] }, { agentIds: [first] }, {}]) {
      const minted = await h.request("POST", `/v1/orgs/${a.orgId}/api-keys`, { key: restricted.key, body });
      expect(minted.status).toBe(403);
      expect(minted.body.error.message).toMatch(/restricted to some agents/);
    }
  });

  it("org B cannot list or revoke org A's keys", async () => {
    const { id } = await h.createKey(a);
    const keyB = await h.createKey(b);
    for (const cred of [{ cookie: b.cookie }, { key: keyB.key }]) {
      expect((await h.request("GET", `/v1/orgs/${a.orgId}/api-keys`, cred)).status).toBe(404);
      expect((await h.request("DELETE", `/v1/orgs/${a.orgId}/api-keys/${id}`, cred)).status).toBe(404);
      expect((await h.request("DELETE", `/v1/orgs/${b.orgId}/api-keys/${id}`, cred)).status).toBe(404);
    }
    const list = await h.request("GET", `/v1/orgs/${a.orgId}/api-keys`, { cookie: a.cookie });
    expect(list.body.data.some((k: { id: string }) => k.id === id)).toBe(true);
  });
});
