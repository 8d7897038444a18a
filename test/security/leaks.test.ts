/**
 * Leaks: drives the paths where secrets are most likely to escape (key lifecycle, failed logins,
 * provider failures in chats, Stripe failures, forged webhooks, unhandled routes) and checks that
 * no response or log line carries a full API key, a key hash, a password, a session token, the
 * provider key, the Stripe secret or the webhook secret. Also checks the security headers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventsOf, parseSse } from "../helpers/sse";
import { type OrgWorld, PASSWORD, SECRETS, type SecurityEnv, buildWorld, findLeaks, startSecurityEnv } from "./support";

let env: SecurityEnv;
let w: OrgWorld;

beforeAll(async () => {
  env = await startSecurityEnv();
  w = await buildWorld(env, "Epsilon");
}, 60_000);

afterAll(async () => {
  await env?.close();
});

describe("secrets never leave", () => {
  it("keeps keys and hashes out of key listings and auth errors", async () => {
    const list = await env.call("GET", `/v1/orgs/${w.orgId}/api-keys`, { cookie: w.owner.cookie });
    expect(list.status).toBe(200);
    for (const k of list.body.data) {
      expect(k.key).toBeUndefined();
      expect(k.prefix).toHaveLength(12);
    }
    const near = `${w.adminKey.key.slice(0, -2)}zz`;
    const res = await env.call("GET", `/v1/orgs/${w.orgId}/agents`, { key: near });
    expect(res.status).toBe(401);
    expect(res.text).not.toContain(near.slice(12));
    const created = await env.createKey(w.owner, { scopes: ["read"] });
    expect((await env.call("DELETE", `/v1/orgs/${w.orgId}/api-keys/${created.id}`, { cookie: w.owner.cookie })).status).toBe(204);
    expect((await env.call("GET", `/v1/orgs/${w.orgId}/agents`, { key: created.key })).status).toBe(401);
  });

  it("keeps passwords out of failed logins and signups", async () => {
    await env.call("POST", "/v1/auth/login", { body: { email: w.owner.email, password: `${PASSWORD}!` } });
    await env.call("POST", "/v1/auth/signup", { body: { email: w.owner.email, password: PASSWORD } });
    await env.call("POST", "/v1/auth/signup", { body: { email: "not-an-email", password: PASSWORD } });
    env.secrets.add(`${PASSWORD}!`);
  });

  it("keeps the provider key out of provider failures, in-stream errors and the logs", async () => {
    const turns = [
      { status: 401 },
      { status: 500 },
      { status: 529 },
      { status: 400 },
      { errorAfterEvents: 2, errorKind: "server" as const },
    ];
    for (const turn of turns) {
      env.model.enqueue(turn, turn, turn, turn, turn);
      const res = await env.call("POST", `/v1/agent/${w.agentId}/chat`, { key: w.chatKey.key, body: { message: "fail please" } }, 30_000);
      expect([200, 502, 503]).toContain(res.status);
      if (res.status === 200) expect(eventsOf(parseSse(res.text)).at(-1)?.event).toMatch(/error|done/);
    }
    env.model.setFallback(() => ({ text: "fine" }));
    // The provider did receive the key, so the secret is real and a leak would be visible.
    expect(env.model.requests.some((r) => Object.values(r.headers).some((v) => v.includes(SECRETS.anthropic)))).toBe(true);
  }, 60_000);

  it("keeps the Stripe secret out of billing failures and forged webhooks", async () => {
    env.stripe.failNext("/v1/customers", 3);
    env.stripe.failNext("/v1/checkout/sessions", 3);
    const checkout = await env.call(
      "POST",
      `/v1/orgs/${w.orgId}/billing/checkout`,
      { cookie: w.owner.cookie, body: { plan: "pro" } },
      30_000,
    );
    expect(checkout.status).toBeGreaterThanOrEqual(400);
    const forged = env.stripe.sign(env.stripe.event("customer.subscription.updated", { id: "sub_x" }), "whsec_wrong");
    const hook = await env.call("POST", "/v1/webhooks/stripe", {
      raw: forged.payload,
      headers: { "stripe-signature": forged.signature, "content-type": "application/json" },
    });
    expect(hook.status).toBe(400);
    const unsigned = await env.call("POST", "/v1/webhooks/stripe", {
      raw: forged.payload,
      headers: { "content-type": "application/json" },
    });
    expect(unsigned.status).toBe(400);
  }, 60_000);

  it("puts nosniff and a request id on every kind of response", async () => {
    const cases: Array<[string, string, Record<string, unknown>]> = [
      ["GET", "/healthz", {}],
      ["GET", "/openapi.json", {}],
      ["GET", "/docs", {}],
      ["GET", "/no/such/route", {}],
      ["GET", `/v1/orgs/${w.orgId}/agents`, {}],
      ["GET", `/v1/orgs/${w.orgId}/agents`, { key: w.adminKey.key }],
      ["POST", `/v1/orgs/${w.orgId}/agents`, { key: w.adminKey.key, raw: "{", headers: { "content-type": "application/json" } }],
      ["POST", `/v1/agent/${w.agentId}/chat`, { key: w.chatKey.key, body: { message: "hi" } }],
    ];
    for (const [method, path, options] of cases) {
      const res = await env.call(method, path, options);
      expect(res.headers.get("x-content-type-options"), `${method} ${path}`).toBe("nosniff");
      expect(res.headers.get("x-request-id"), `${method} ${path}`).toMatch(/^req_/);
    }
  });

  it("found no secret in any response or log line of this run", () => {
    const leaks = findLeaks(env);
    expect(leaks).toEqual([]);
    console.log(
      `leaks: ${env.secrets.size} secrets scanned in ${env.transcript.length} responses and ${env.h.logs.length} log lines, ${leaks.length} found`,
    );
  });
});
