/**
 * What keys may do beyond their scopes. An agent-restricted key, route by route from
 * /openapi.json, reaches its agents (and what hangs off them), their runs and usage, the skill
 * catalogue and the org itself read-only, and nothing org-wide (README "API keys"): every other
 * org route is a 403 even with the admin scope. A key never mints a key that outlives it, does
 * more than it, or names agents that are not its org's.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OrgWorld, type Operation, type SecurityEnv, buildWorld, findLeaks, loadOperations, sampleOf, startSecurityEnv } from "./support";

let env: SecurityEnv;
let w: OrgWorld;
let other: OrgWorld;
let ops: Operation[];

beforeAll(async () => {
  env = await startSecurityEnv();
  env.model.setFallback(() => ({ text: "ok" }));
  w = await buildWorld(env, "Kilo");
  other = await buildWorld(env, "Lima");
  ops = (await loadOperations(env)).filter((op) => op.path.startsWith("/v1/orgs/{orgId}"));
}, 60_000);

afterAll(async () => {
  await env?.close();
});

/** The README's table of what an agent-restricted key may reach, written out independently of the code. */
function reachable(op: Operation): boolean {
  const read = op.method === "GET";
  const p = op.path;
  return (
    (read && p === "/v1/orgs/{orgId}") ||
    // It lists its agents but cannot create any.
    (read && p === "/v1/orgs/{orgId}/agents") ||
    p.startsWith("/v1/orgs/{orgId}/agents/") ||
    p === "/v1/orgs/{orgId}/runs" ||
    p.startsWith("/v1/orgs/{orgId}/runs/") ||
    (read && (p === "/v1/orgs/{orgId}/usage" || p === "/v1/orgs/{orgId}/usage/summary")) ||
    (read && (p === "/v1/orgs/{orgId}/skills" || p === "/v1/orgs/{orgId}/skills/{skillId}"))
  );
}

const RESTRICTED = /restricted to some agents/;

describe("agent-restricted keys", () => {
  it("reach their agents and the catalogues, and nothing org-wide, route by route (even with the admin scope)", async () => {
    const key = await env.createKey(w.owner, { scopes: ["admin"], agentIds: [w.agentId], name: "restricted admin" });
    // Ids outside the key's reach where a route takes them, so an allowed route answers 404, not a change.
    const ids: Record<string, string> = { orgId: w.orgId, agentId: w.otherAgentId, skillId: w.skillId, keyId: w.chatKey.id, userId: w.memberUserId, conversationId: w.conversationId };
    const wrong: string[] = [];
    const refused: string[] = [];
    const allowed: string[] = [];
    for (const op of ops) {
      const url = op.path.replace(/\{(\w+)\}/g, (_, name) => ids[name] ?? `unknown_${name}`);
      const query = op.query.filter((q) => q.required).map((q) => `${q.name}=${q.name === "path" ? "notes.md" : String(sampleOf(q.schema, q.name))}`);
      const res = await env.call(op.method, query.length ? `${url}?${query.join("&")}` : url, { key: key.key, body: op.body ? sampleOf(op.body) : undefined });
      const byRestriction = res.status === 403 && RESTRICTED.test(res.body?.error?.message ?? "");
      const name = `${op.method} ${op.path}`;
      if (reachable(op)) {
        allowed.push(name);
        if (byRestriction || (res.status >= 200 && res.status < 300 && op.method !== "GET")) wrong.push(`${name} should be reachable (within its agents): ${res.status} ${res.text.slice(0, 120)}`);
      } else {
        refused.push(name);
        if (!byRestriction) wrong.push(`${name} should be refused: ${res.status} ${res.text.slice(0, 120)}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(refused).toEqual(expect.arrayContaining(["GET /v1/orgs/{orgId}/api-keys", "GET /v1/orgs/{orgId}/members", "GET /v1/orgs/{orgId}/channels", "GET /v1/orgs/{orgId}/files", "GET /v1/orgs/{orgId}/custom-domain", "GET /v1/orgs/{orgId}/billing"]));
    // Within its agents it works as its scopes say.
    expect((await env.call("GET", `/v1/orgs/${w.orgId}/agents/${w.agentId}`, { key: key.key })).status).toBe(200);
    expect((await env.call("GET", `/v1/orgs/${w.orgId}/agents`, { key: key.key })).body.data.map((x: { id: string }) => x.id)).toEqual([w.agentId]);
    expect((await env.call("PUT", `/v1/orgs/${w.orgId}/agents/${w.agentId}/memory/notes`, { key: key.key, body: { notes: ["kept"] } })).status).toBe(200);
    console.log(`restricted keys: ${allowed.length} org routes reachable within its agents, ${refused.length} refused`);
  });
});

describe("keys minted by keys", () => {
  it("never outlive their parent: no expiry means the parent's, a later one is refused", async () => {
    const parentExpiry = new Date(Date.now() + 3_600_000).toISOString();
    const parent = await env.createKey(w.owner, { scopes: ["admin"], expiresAt: parentExpiry });
    const inherited = await env.call("POST", `/v1/orgs/${w.orgId}/api-keys`, { key: parent.key, body: { scopes: ["read"] } });
    expect(inherited.status).toBe(201);
    expect(inherited.body.expiresAt).toBe(parentExpiry);
    const later = await env.call("POST", `/v1/orgs/${w.orgId}/api-keys`, {
      key: parent.key,
      body: { scopes: ["read"], expiresAt: new Date(Date.now() + 7_200_000).toISOString() },
    });
    expect(later.status).toBe(403);
    expect(later.body.error.param).toBe("expiresAt");
    const sooner = await env.call("POST", `/v1/orgs/${w.orgId}/api-keys`, {
      key: parent.key,
      body: { scopes: ["read"], expiresAt: new Date(Date.now() + 60_000).toISOString() },
    });
    expect(sooner.status).toBe(201);
    // A session (or a key that never expires) may mint keys that never expire.
    const forever = await env.createKey(w.owner, { scopes: ["admin"] });
    const child = await env.call("POST", `/v1/orgs/${w.orgId}/api-keys`, { key: forever.key, body: { scopes: ["read"] } });
    expect(child.body.expiresAt).toBeNull();
  });

  it("name only agents of their own org (another org's agent or an unknown id is a 400 naming it)", async () => {
    for (const agentIds of [[other.agentId], [w.agentId, other.otherAgentId], ["ag_doesnotexist000000000"]]) {
      const res = await env.call("POST", `/v1/orgs/${w.orgId}/api-keys`, { cookie: w.owner.cookie, body: { scopes: ["chat"], agentIds } });
      expect(res.status).toBe(400);
      expect(res.body.error.param).toBe(`agentIds.${agentIds.length - 1}`);
      expect(res.text).not.toContain("Lima");
    }
    const ok = await env.call("POST", `/v1/orgs/${w.orgId}/api-keys`, { cookie: w.owner.cookie, body: { scopes: ["chat"], agentIds: [w.agentId] } });
    expect(ok.status).toBe(201);
    expect(findLeaks(env)).toEqual([]);
  });
});

describe("the OpenAPI document", () => {
  it("declares every status this suite was answered (src/http/routes.ts derives them; see support.ts)", () => {
    expect([...new Set(env.undeclared)]).toEqual([]);
  });
});
