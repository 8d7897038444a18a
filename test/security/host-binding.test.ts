/**
 * Custom-domain binding, generated from /openapi.json: on org A's active custom domain, every
 * route (not only /v1/orgs/:orgId/...) answers 404 to every credential of org B (owner session,
 * admin, chat and agent-restricted keys), with B's own ids, and changes nothing. Routes added
 * later (runs, the OpenAI-compatible surface, MCP) are covered by the same loop. A's credentials
 * keep working there, members of both orgs see only A, and the gateway's own routes (signup, new
 * orgs) do not exist on the domain.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeDns, startFakeDns } from "../fakes/dns";
import {
  type OrgWorld,
  type Operation,
  type SecurityEnv,
  PASSWORD,
  buildWorld,
  findLeaks,
  isEnvelope,
  loadOperations,
  rowCounts,
  sampleOf,
  startSecurityEnv,
} from "./support";

let env: SecurityEnv;
let dns: FakeDns;
let a: OrgWorld;
let b: OrgWorld;
let ops: Operation[];
let domain: string;

/** Routes that take no credential, and what they answer on A's domain whoever calls. */
const CREDENTIAL_FREE: Record<string, number[]> = {
  "GET /healthz": [200],
  "GET /readyz": [200],
  "POST /v1/auth/signup": [404],
  "POST /v1/auth/login": [400, 401],
  "POST /v1/webhooks/stripe": [400],
  "GET /internal/tls/ask": [404],
};

beforeAll(async () => {
  dns = await startFakeDns();
  env = await startSecurityEnv({ OPENPAW_DNS_SERVERS: dns.address });
  env.model.setFallback(() => ({ text: "hi" }));
  a = await buildWorld(env, "Apex");
  b = await buildWorld(env, "Bravo");
  ops = await loadOperations(env);
  // A's world set a pending domain; publish its TXT record and let the next GET verify it.
  const pending = await env.call("GET", `/v1/orgs/${a.orgId}/custom-domain`, { cookie: a.owner.cookie });
  domain = pending.body.domain;
  dns.setRecord(`_openpaw-verify.${domain}`, "TXT", [pending.body.dns[1].value]);
  await env.h.services.db.kysely.updateTable("custom_domains").set({ checked_at: null }).where("org_id", "=", a.orgId).execute();
  const active = await env.call("GET", `/v1/orgs/${a.orgId}/custom-domain`, { cookie: a.owner.cookie });
  expect(active.body.status, active.text).toBe("active");
}, 60_000);

afterAll(async () => {
  await env?.close();
  await dns?.close();
});

const onDomain = (extra: Record<string, string> = {}) => ({ host: domain, ...extra });

function urlOf(op: Operation, ids: Record<string, string>): string {
  const path = op.path.replace(/\{(\w+)\}/g, (_, name) => encodeURIComponent(ids[name] ?? `unknown_${name}`));
  const query = op.query.filter((q) => q.required).map((q) => `${q.name}=${encodeURIComponent(q.name === "path" ? "notes.md" : String(sampleOf(q.schema, q.name)))}`);
  return query.length ? `${path}?${query.join("&")}` : path;
}

const idsOf = (w: OrgWorld): Record<string, string> => ({
  orgId: w.orgId,
  agentId: w.agentId,
  skillId: w.skillId,
  keyId: w.chatKey.id,
  userId: w.memberUserId,
  conversationId: w.conversationId,
  runId: w.runId,
});

describe("custom-domain binding", () => {
  it("answers 404 to every credential of another org on every route of the API", async () => {
    const before = await rowCounts(env);
    const principals: Array<[string, { cookie?: string; key?: string }]> = [
      ["B owner session", { cookie: b.owner.cookie }],
      ["B admin key", { key: b.adminKey.key }],
      ["B chat key", { key: b.chatKey.key }],
      ["B restricted key", { key: b.restrictedKey.key }],
    ];
    const wrong: string[] = [];
    let n = 0;
    let bound = 0;
    for (const op of ops) {
      const name = `${op.method} ${op.path}`;
      if (name === "POST /v1/auth/logout") continue; // it only ends the presented session; checked below
      const expected = CREDENTIAL_FREE[name] ?? [404];
      if (!CREDENTIAL_FREE[name]) bound++;
      for (const [who, auth] of principals) {
        // A route that takes API keys only refuses every session with 401, on any host.
        if (op.keyOnly && auth.cookie) continue;
        const body = op.body ? sampleOf(op.body) : undefined;
        const res = await env.call(op.method, urlOf(op, idsOf(b)), { ...auth, body, headers: onDomain() });
        n++;
        if (!expected.includes(res.status) || (res.status >= 400 && !isEnvelope(res.body))) {
          wrong.push(`${who}: ${name} on A's domain -> ${res.status} ${res.text.slice(0, 140)}`);
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(bound).toBeGreaterThan(40);
    expect(await rowCounts(env)).toEqual(before);
    // The same credentials on the gateway's own host still work.
    expect((await env.call("GET", "/v1/me", { cookie: b.owner.cookie })).status).toBe(200);
    expect((await env.call("GET", "/v1/models", { key: b.chatKey.key })).status).toBe(200);
    console.log(`host binding: ${n} requests of org B's 4 principals over ${ops.length} routes on org A's domain, all refused, rows unchanged`);
  });

  it("serves the domain's own org there, showing members of several orgs only that one", async () => {
    // B's owner becomes a member of A too: on A's domain they see A alone and cannot reach B.
    expect((await env.call("POST", `/v1/orgs/${a.orgId}/members`, { cookie: a.owner.cookie, body: { email: b.owner.email } })).status).toBe(201);
    const me = await env.call("GET", "/v1/me", { cookie: b.owner.cookie, headers: onDomain() });
    expect(me.status).toBe(200);
    expect(me.body.orgs.map((o: { id: string }) => o.id)).toEqual([a.orgId]);
    expect((await env.call("GET", `/v1/orgs/${b.orgId}/agents`, { cookie: b.owner.cookie, headers: onDomain() })).status).toBe(404);
    expect((await env.call("GET", `/v1/orgs/${a.orgId}/agents`, { cookie: b.owner.cookie, headers: onDomain() })).status).toBe(200);
    expect((await env.call("GET", `/v1/orgs/${a.orgId}`, { key: a.adminKey.key, headers: onDomain() })).status).toBe(200);
    expect((await env.call("GET", "/v1/models", { key: a.chatKey.key, headers: onDomain() })).status).toBe(200);
    // The gateway's own routes do not exist on an org's domain, even for its owner.
    const newOrg = await env.call("POST", "/v1/orgs", { cookie: a.owner.cookie, body: { name: "Elsewhere" }, headers: onDomain() });
    expect(newOrg.status).toBe(404);
    expect((await env.call("DELETE", `/v1/orgs/${a.orgId}/members/${b.owner.userId}`, { cookie: a.owner.cookie })).status).toBe(204);
  });

  it("signs in only the domain org's members there, with the same answer as a wrong password", async () => {
    const outsider = await env.call("POST", "/v1/auth/login", { body: { email: b.admin.email, password: PASSWORD }, headers: onDomain() });
    expect(outsider.status).toBe(401);
    expect(outsider.headers.get("set-cookie")).toBeNull();
    const wrongPassword = await env.call("POST", "/v1/auth/login", { body: { email: a.admin.email, password: "not it at all" }, headers: onDomain() });
    expect(outsider.body.error.message).toBe(wrongPassword.body.error.message);
    const member = await env.call("POST", "/v1/auth/login", { body: { email: a.admin.email, password: PASSWORD }, headers: onDomain() });
    expect(member.status).toBe(200);
    expect(member.body.orgs.map((o: { id: string }) => o.id)).toEqual([a.orgId]);
  });

  it("keeps the dashboard on the domain to its org", async () => {
    const other = await env.call("GET", `/orgs/${b.orgId}/agents`, { cookie: b.owner.cookie, headers: onDomain() });
    expect(other.status).not.toBe(200);
    expect(other.status).toBeLessThan(500);
    const own = await env.call("GET", `/orgs/${a.orgId}/agents`, { cookie: a.owner.cookie, headers: onDomain() });
    expect(own.status).toBe(200);
    expect(findLeaks(env)).toEqual([]);
  });
});

describe("the OpenAPI document", () => {
  it("declares every status this suite was answered (src/http/routes.ts derives them; see support.ts)", () => {
    expect([...new Set(env.undeclared)]).toEqual([]);
  });
});
