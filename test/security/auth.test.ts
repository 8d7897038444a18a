/**
 * Authentication and authorization attacks: bad, revoked and expired keys, keys in the wrong
 * place, session fixation, logout, expired sessions, CSRF, and role/scope escalation over every
 * write route of the OpenAPI document.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type OrgWorld,
  type Operation,
  PASSWORD,
  type SecurityEnv,
  buildWorld,
  findLeaks,
  isEnvelope,
  loadOperations,
  sampleOf,
  snapshotOrg,
  startSecurityEnv,
} from "./support";

let env: SecurityEnv;
let w: OrgWorld;
let ops: Operation[];
let requests = 0;

beforeAll(async () => {
  env = await startSecurityEnv();
  w = await buildWorld(env, "Gamma");
  ops = await loadOperations(env);
}, 60_000);

afterAll(async () => {
  await env?.close();
});

const call: SecurityEnv["call"] = (...args) => {
  requests++;
  return env.call(...args);
};

/** A protected read every credential test uses. */
const agentsPath = () => `/v1/orgs/${w.orgId}/agents`;

async function expect401(headers: Record<string, string>, path = agentsPath()): Promise<void> {
  const res = await call("GET", path, { headers });
  expect(res.status, JSON.stringify(headers)).toBe(401);
  expect(res.body.error.type).toBe("authentication_error");
}

describe("API keys", () => {
  it("refuses missing, garbage, truncated, checksum-broken and lookalike keys", async () => {
    const key = w.adminKey.key;
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === "A" ? "B" : "A") + s.slice(i + 1);
    const bad = [
      "",
      "sk_live_",
      "sk_live_garbage",
      "garbage",
      key.slice(0, -1),
      key.slice(0, 20),
      `${key}x`,
      flip(key, key.length - 1),
      flip(key, 10),
      key.replace("sk_live_", "sk_test_"),
      key.toUpperCase(),
      `${key} ${key}`,
      key.replace(/.$/, "%"),
      "sk_live_" + "0".repeat(60),
    ];
    const res = await call("GET", agentsPath());
    expect(res.status).toBe(401);
    for (const candidate of bad) await expect401({ authorization: `Bearer ${candidate}` });
    // Sanity: the real key works, so the refusals above are about the key.
    expect((await call("GET", agentsPath(), { key })).status).toBe(200);
  });

  it("does not take keys from other headers, the query string, Basic auth or a cookie", async () => {
    const key = w.adminKey.key;
    const elsewhere: Array<Record<string, string>> = [{ "x-api-key": key }, { "api-key": key }, { cookie: `openpaw_session=${key}` }];
    for (const headers of elsewhere) {
      const res = await call("GET", agentsPath(), { headers });
      expect(res.status, JSON.stringify(headers)).toBe(401);
    }
    for (const q of [`key=${key}`, `api_key=${key}`, `access_token=${key}`]) {
      expect((await call("GET", `${agentsPath()}?${q}`)).status, q).toBe(401);
    }
    for (const authorization of [key, `Basic ${Buffer.from(`${key}:`).toString("base64")}`, `Token ${key}`, `Bearer: ${key}`, `Bearer`]) {
      await expect401({ authorization });
    }
  });

  it("treats the Bearer scheme name case-insensitively (RFC 7235 §2.1), the key itself exactly", async () => {
    expect((await call("GET", agentsPath(), { headers: { authorization: `bearer ${w.adminKey.key}` } })).status).toBe(200);
    await expect401({ authorization: `bearer ${w.adminKey.key.toLowerCase()}` });
  });

  it("refuses a revoked key at once and an expired key, with a 401 envelope", async () => {
    const revoked = await env.createKey(w.owner, { scopes: ["read"] });
    expect((await call("GET", agentsPath(), { key: revoked.key })).status).toBe(200);
    expect((await call("DELETE", `/v1/orgs/${w.orgId}/api-keys/${revoked.id}`, { cookie: w.owner.cookie })).status).toBe(204);
    await expect401({ authorization: `Bearer ${revoked.key}` });

    // Expiry is checked on every request, also while the key's lookup is cached.
    const expiresAt = Date.now() + 1_000;
    const expiring = await env.createKey(w.owner, { scopes: ["read"], expiresAt: new Date(expiresAt).toISOString() });
    expect((await call("GET", agentsPath(), { key: expiring.key })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now()) + 20));
    await expect401({ authorization: `Bearer ${expiring.key}` });
  });

  it("refuses keys that would exceed their creator and keys minted by narrower keys", async () => {
    const admin = await call("POST", `/v1/orgs/${w.orgId}/api-keys`, { cookie: w.admin.cookie, body: { scopes: ["admin"] } });
    expect(admin.status).toBe(403);
    const writeKey = await env.createKey(w.owner, { scopes: ["write"] });
    for (const scopes of [["chat"], ["read"], ["admin"]]) {
      expect((await call("POST", `/v1/orgs/${w.orgId}/api-keys`, { key: writeKey.key, body: { scopes } })).status).toBe(403);
    }
    const restricted = await call("POST", `/v1/orgs/${w.orgId}/api-keys`, {
      key: w.restrictedKey.key,
      body: { scopes: ["chat"], agentIds: [w.agentId] },
    });
    expect([403]).toContain(restricted.status);
  });
});

describe("sessions", () => {
  const cookieOf = (res: { headers: Headers }) => (res.headers.get("set-cookie") ?? "").split(";")[0];

  it("issues a fresh session at login, never the one the client presented (fixation)", async () => {
    const planted = "openpaw_session=attacker-chosen-session-token-value-0001";
    const login = await call("POST", "/v1/auth/login", { cookie: planted, body: { email: w.owner.email, password: PASSWORD } });
    expect(login.status).toBe(200);
    const fresh = cookieOf(login);
    expect(fresh).toMatch(/^openpaw_session=.{20,}/);
    expect(fresh).not.toBe(planted);
    expect(fresh).not.toBe(w.owner.cookie);
    expect(login.headers.get("set-cookie")).toMatch(/HttpOnly/i);
    expect(login.headers.get("set-cookie")).toMatch(/SameSite=Lax/i);
    expect((await call("GET", "/v1/me", { cookie: planted })).status).toBe(401);
  });

  it("refuses wrong passwords without saying which part was wrong", async () => {
    const wrong = await call("POST", "/v1/auth/login", { body: { email: w.owner.email, password: "not the password" } });
    const unknown = await call("POST", "/v1/auth/login", { body: { email: "nobody@example.com", password: "not the password" } });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body.error.message).toBe(unknown.body.error.message);
  });

  it("ends the session at logout, on the server", async () => {
    const login = await call("POST", "/v1/auth/login", { body: { email: w.member.email, password: PASSWORD } });
    const cookie = cookieOf(login);
    expect((await call("GET", "/v1/me", { cookie })).status).toBe(200);
    expect((await call("POST", "/v1/auth/logout", { cookie, headers: { origin: env.h.config.publicUrl } })).status).toBe(204);
    // Replaying the old cookie (as a thief would) must not work.
    const replay = await call("GET", "/v1/me", { cookie });
    expect(replay.status).toBe(401);
  });

  it("refuses an expired session", async () => {
    const login = await call("POST", "/v1/auth/login", { body: { email: w.member.email, password: PASSWORD } });
    const cookie = cookieOf(login);
    expect((await call("GET", "/v1/me", { cookie })).status).toBe(200);
    await env.h.services.db.kysely
      .updateTable("sessions")
      .set({ expires_at: Date.now() - 1 })
      .where("user_id", "=", w.member.userId)
      .execute();
    expect((await call("GET", "/v1/me", { cookie })).status).toBe(401);
  });

  it("refuses cookie mutations from another origin (CSRF), allows same-origin ones", async () => {
    const path = `/v1/orgs/${w.orgId}/agents/${w.agentId}`;
    const body = { name: "renamed by csrf" };
    const crossSite: Array<Record<string, string>> = [
      { origin: "https://evil.example" },
      { origin: "null" },
      { origin: "http://localhost:8787.evil.example" },
      { "sec-fetch-site": "cross-site" },
    ];
    for (const headers of crossSite) {
      const res = await call("PATCH", path, { cookie: w.owner.cookie, headers, body });
      expect(res.status, JSON.stringify(headers)).toBe(403);
      expect(res.body.error.type).toBe("permission_error");
    }
    const ok = await call("PATCH", path, {
      cookie: w.owner.cookie,
      headers: { origin: env.h.config.publicUrl },
      body: { name: "renamed" },
    });
    expect(ok.status).toBe(200);
    const agent = await call("GET", path, { cookie: w.owner.cookie });
    expect(agent.body.name).toBe("renamed");
  });
});

describe("role and scope escalation", () => {
  it("refuses every org write route to a member session, a chat key and a read key (403/404, never 2xx)", async () => {
    const readKey = await env.createKey(w.owner, { scopes: ["read"] });
    const before = await snapshotOrg(env, w.orgId);
    const ids: Record<string, string> = {
      orgId: w.orgId,
      agentId: w.agentId,
      skillId: w.skillId,
      keyId: w.chatKey.id,
      userId: w.admin.userId,
      conversationId: w.conversationId,
    };
    const writes = ops.filter((op) => op.method !== "GET" && op.path.startsWith("/v1/orgs/{orgId}"));
    const login = await call("POST", "/v1/auth/login", { body: { email: w.member.email, password: PASSWORD } });
    const memberCookie = (login.headers.get("set-cookie") ?? "").split(";")[0];
    const principals: Array<[string, { cookie?: string; key?: string }]> = [
      ["member session", { cookie: memberCookie }],
      ["chat key", { key: w.chatKey.key }],
      ["read key", { key: readKey.key }],
    ];
    const wrong: string[] = [];
    for (const [who, auth] of principals) {
      for (const op of writes) {
        let url = op.path.replace(/\{(\w+)\}/g, (_, name) => ids[name] ?? `unknown_${name}`);
        const required = op.query.filter((q) => q.required);
        if (required.length)
          url += `?${required.map((q) => `${q.name}=${q.name === "path" ? "notes.md" : sampleOf(q.schema, q.name)}`).join("&")}`;
        const res = await call(op.method, url, { ...auth, body: op.body ? sampleOf(op.body) : undefined });
        if (![403, 404].includes(res.status) || !isEnvelope(res.body))
          wrong.push(`${who}: ${op.method} ${url} -> ${res.status} ${res.text.slice(0, 120)}`);
      }
    }
    expect(wrong).toEqual([]);
    // The API key create above is the only change allowed.
    const after = await snapshotOrg(env, w.orgId);
    after.api_keys = after.api_keys.filter((row) => !row.includes(readKey.id));
    expect(after).toEqual({ ...before, api_keys: before.api_keys.filter((row) => !row.includes(readKey.id)) });
    console.log(`escalation: ${writes.length} write routes x ${principals.length} principals refused`);
  });

  it("refuses or ignores orgId, role, plan and builtIn smuggled into bodies", async () => {
    const cookie = w.owner.cookie;
    const other = await env.signup("Other");
    const agentPath = `/v1/orgs/${w.orgId}/agents/${w.agentId}`;
    for (const extra of [
      { orgId: other.orgId },
      { org_id: other.orgId },
      { builtIn: true },
      { id: "ag_chosen" },
      { createdAt: "2000-01-01T00:00:00Z" },
    ]) {
      const res = await call("PATCH", agentPath, { cookie, body: { name: "x", ...extra } });
      expect(res.status, JSON.stringify(extra)).toBe(400);
    }
    const orgPatch = await call("PATCH", `/v1/orgs/${w.orgId}`, { cookie, body: { name: "n", plan: "agency" } });
    expect(orgPatch.status).toBe(400);
    const skillPatch = await call("PATCH", `/v1/orgs/${w.orgId}/skills/${w.skillId}`, {
      cookie,
      body: { builtIn: true, orgId: other.orgId },
    });
    expect(skillPatch.status).toBe(400);
    const builtIn = await call("PATCH", `/v1/orgs/${w.orgId}/skills/skl_builtin_web_research`, {
      cookie,
      body: { description: "hijacked" },
    });
    expect([403, 404, 409]).toContain(builtIn.status);
    const signup = await call("POST", "/v1/auth/signup", {
      body: { email: "smuggler@example.com", password: PASSWORD, role: "owner", plan: "agency", orgId: w.orgId },
    });
    expect(signup.status).toBe(400);
    const me = await call("GET", `/v1/orgs/${w.orgId}`, { cookie });
    expect(me.body.plan).toBe("free");
    const agent = await env.h.services.db.kysely
      .selectFrom("agents")
      .select("org_id")
      .where("id", "=", w.agentId)
      .executeTakeFirstOrThrow();
    expect(agent.org_id).toBe(w.orgId);
  });

  it("does not let an admin make itself owner, nor a member change its own role", async () => {
    const self = await call("PATCH", `/v1/orgs/${w.orgId}/members/${w.admin.userId}`, { cookie: w.admin.cookie, body: { role: "owner" } });
    expect(self.status).toBe(403);
    const member = await call("PATCH", `/v1/orgs/${w.orgId}/members/${w.member.userId}`, {
      cookie: w.member.cookie,
      body: { role: "admin" },
    });
    // 401: the member's sessions were expired above; either way never 2xx.
    expect([401, 403]).toContain(member.status);
    const invite = await call("POST", `/v1/orgs/${w.orgId}/members`, {
      cookie: w.admin.cookie,
      body: { email: w.member.email, role: "owner" },
    });
    expect(invite.status).toBe(403);
  });

  it("leaked nothing and printed its totals", () => {
    expect(findLeaks(env)).toEqual([]);
    console.log(`auth: ${requests} requests`);
  });
});

describe("the OpenAPI document", () => {
  it("declares every status this suite was answered (src/http/routes.ts derives them; see support.ts)", () => {
    expect([...new Set(env.undeclared)]).toEqual([]);
  });
});
