import { randomBytes } from "node:crypto";
import { type IncomingHttpHeaders, type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeAnthropic } from "../../../test/fakes/anthropic";
import type { FakeModelServer } from "../../../test/fakes/model-script";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";

const SONNET = "claude-sonnet-4-20250514";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A real HTTP receiver: records every request and answers with the status `answer` gives for the nth one. */
async function startReceiver() {
  const received: Received[] = [];
  let answer: (n: number) => number = () => 200;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.statusCode = answer(received.length);
      res.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    received,
    answerWith(fn: (n: number) => number) {
      answer = fn;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** What a receiver does with a delivery: verify it with the Standard Webhooks library (throws when the signature is wrong). */
function verify(secret: string, message: Received): any {
  return new Webhook(secret).verify(message.body, {
    "webhook-id": String(message.headers["webhook-id"]),
    "webhook-timestamp": String(message.headers["webhook-timestamp"]),
    "webhook-signature": String(message.headers["webhook-signature"]),
  });
}

describe("webhooks: endpoints, signed at-least-once delivery from the outbox", () => {
  let h: Harness;
  let fake: FakeModelServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let a: Account;
  let b: Account;
  let agentId: string;

  const base = (account: Account) => `/v1/orgs/${account.orgId}/webhooks`;
  const db = () => h.services.db.kysely;
  /** Moves every pending delivery's next attempt to now (the clock jump a retry would wait for) and runs the worker. */
  const retryNow = async () => {
    await db().updateTable("webhook_deliveries").set({ next_attempt_at: Date.now() }).where("status", "=", "pending").execute();
    await h.services.webhooks.deliverDue();
  };
  const chat = (message: string) => h.request("POST", `/v1/agent/${agentId}/chat`, { cookie: a.cookie, body: { message, stream: false } });
  const createEndpoint = async (account: Account, body: Record<string, unknown>) => {
    const res = await h.request("POST", base(account), { cookie: account.cookie, body });
    expect(res.status, res.text).toBe(201);
    return res.body as { id: string; secret: string };
  };

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    receiver = await startReceiver();
    h = await createHarness({
      ANTHROPIC_API_KEY: "sk-ant-test-key-000000000000",
      ANTHROPIC_BASE_URL: fake.url,
      OPENPAW_DEFAULT_PLAN: "unlimited",
      OPENPAW_SECRET_KEY: randomBytes(32).toString("base64"),
      OPENPAW_FETCH_ALLOWLIST: `127.0.0.1:${receiver.port}`,
      // The test drives the worker itself.
      OPENPAW_WEBHOOK_SWEEP_MS: "3600000",
    });
    a = await h.signup({ orgName: "A" });
    b = await h.signup({ orgName: "B" });
    const agent = await h.request("POST", `/v1/orgs/${a.orgId}/agents`, {
      cookie: a.cookie,
      body: { name: "Reporter", systemPrompt: "You report.", model: SONNET, maxIterations: 3 },
    });
    expect(agent.status, agent.text).toBe(201);
    agentId = agent.body.id;
  });
  afterAll(async () => {
    await h.close();
    await fake.close();
    await receiver.close();
  });
  beforeEach(async () => {
    fake.setFallback(() => ({ text: "done" }));
    receiver.received.length = 0;
    receiver.answerWith(() => 200);
    await db().deleteFrom("webhook_endpoints").execute();
  });

  it("creates an endpoint whose secret is shown once and stored encrypted", async () => {
    const created = await createEndpoint(a, { url: `${receiver.url}/hook`, events: ["run.completed"], description: "CI" });
    expect(created.id).toMatch(/^wh_/);
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);
    expect(created).toMatchObject({ url: `${receiver.url}/hook`, events: ["run.completed"], description: "CI", enabled: true, disabledReason: null });
    const list = await h.request("GET", base(a), { cookie: a.cookie });
    const one = await h.request("GET", `${base(a)}/${created.id}`, { cookie: a.cookie });
    expect(list.body.data).toHaveLength(1);
    expect(one.status).toBe(200);
    for (const text of [list.text, one.text]) expect(text).not.toContain(created.secret.slice(6, 20));
    const row = await db().selectFrom("webhook_endpoints").selectAll().where("id", "=", created.id).executeTakeFirstOrThrow();
    expect(row.secret_enc).not.toContain(created.secret.slice(6, 20));
    const patched = await h.request("PATCH", `${base(a)}/${created.id}`, { cookie: a.cookie, body: { events: ["run.failed", "run.cancelled"], description: null } });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body).toMatchObject({ events: ["run.failed", "run.cancelled"], description: null });
    expect((await h.request("DELETE", `${base(a)}/${created.id}`, { cookie: a.cookie })).status).toBe(204);
    expect((await h.request("GET", `${base(a)}/${created.id}`, { cookie: a.cookie })).status).toBe(404);
  });

  it("refuses private, metadata, loopback, non-http(s), plain-http and over-long URLs, bad events and duplicates, naming the field", async () => {
    await createEndpoint(a, { url: `${receiver.url}/dup`, events: ["run.completed"] });
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ url: "https://10.1.2.3/hook", events: ["run.completed"] }, 400, "url"],
      [{ url: "http://169.254.169.254/latest/meta-data", events: ["run.completed"] }, 400, "url"],
      [{ url: "https://localhost/hook", events: ["run.completed"] }, 400, "url"],
      [{ url: "https://[::1]/hook", events: ["run.completed"] }, 400, "url"],
      [{ url: "ftp://example.com/hook", events: ["run.completed"] }, 400, "url"],
      [{ url: "http://93.184.215.14/hook", events: ["run.completed"] }, 400, "url"],
      [{ url: `https://example.com/${"a".repeat(2100)}`, events: ["run.completed"] }, 400, "url"],
      [{ url: "https://93.184.215.14/hook", events: ["run.started"] }, 400, "events.0"],
      [{ url: "https://93.184.215.14/hook", events: [] }, 400, "events"],
      [{ url: "https://93.184.215.14/hook", events: ["run.failed", "run.failed"] }, 400, "events"],
      [{ url: "https://93.184.215.14/hook", events: ["run.failed"], description: "x".repeat(501) }, 400, "description"],
      [{ url: `${receiver.url}/dup`, events: ["run.failed"] }, 409, "url"],
    ];
    for (const [body, status, param] of cases) {
      const res = await h.request("POST", base(a), { cookie: a.cookie, body });
      expect(res.status, `${JSON.stringify(body).slice(0, 120)} → ${res.text}`).toBe(status);
      expect(res.body.error.param).toBe(param);
    }
    expect((await db().selectFrom("webhook_endpoints").select("id").where("org_id", "=", a.orgId).execute()).length).toBe(1);
  });

  it("delivers run.completed signed, retries the failed attempts with the same webhook-id, then logs it delivered", async () => {
    const { id, secret } = await createEndpoint(a, { url: `${receiver.url}/runs`, events: ["run.completed", "run.failed"] });
    receiver.answerWith((n) => (n <= 2 ? 503 : 204));
    const res = await chat("Write the report");
    expect(res.status, res.text).toBe(200);
    const runId = res.body.runId;
    // The outbox row was written with the run's end, before any attempt.
    const outbox = await db().selectFrom("webhook_deliveries").selectAll().where("run_id", "=", runId).execute();
    expect(outbox).toHaveLength(1);
    expect(outbox[0]).toMatchObject({ status: "pending", attempts: 0, event: "run.completed" });

    await h.services.webhooks.deliverDue();
    let log = await h.request("GET", `${base(a)}/${id}/deliveries`, { cookie: a.cookie });
    expect(log.body.data[0]).toMatchObject({ status: "pending", attempts: 1, responseCode: 503, runId, event: "run.completed" });
    // The first retry is due within a minute.
    expect(Date.parse(log.body.data[0].nextAttemptAt) - Date.now()).toBeLessThan(60_000);
    await retryNow();
    await retryNow();
    log = await h.request("GET", `${base(a)}/${id}/deliveries`, { cookie: a.cookie });
    expect(log.status).toBe(200);
    expect(log.body).toMatchObject({ page: 1, limit: 50, total: 1, hasMore: false });
    expect(log.body.data[0]).toMatchObject({ status: "delivered", attempts: 3, responseCode: 204, error: null, nextAttemptAt: null });
    expect(log.body.data[0].deliveredAt).toMatch(/Z$/);

    expect(receiver.received).toHaveLength(3);
    const ids = new Set(receiver.received.map((r) => r.headers["webhook-id"]));
    expect([...ids]).toEqual([log.body.data[0].id]);
    for (const message of receiver.received) {
      const payload = verify(secret, message);
      expect(payload).toMatchObject({ type: "run.completed", data: { run: { id: runId, status: "completed", agentId, stopReason: "end_turn" } } });
      expect(payload.createdAt).toMatch(/Z$/);
    }
    // A forged body fails the receiver's check.
    expect(() => verify(secret, { ...receiver.received[0], body: receiver.received[0].body.replace("completed", "cancelled") })).toThrow();
    // Nothing more to send.
    await retryNow();
    expect(receiver.received).toHaveLength(3);
  });

  it("run.failed for a run that fails, and nothing for endpoints not subscribed to its event", async () => {
    const failed = await createEndpoint(a, { url: `${receiver.url}/failed`, events: ["run.failed"] });
    await createEndpoint(a, { url: `${receiver.url}/completed`, events: ["run.completed"] });
    fake.setFallback(() => ({ status: 400 }));
    const res = await chat("Fail please");
    expect(res.status).toBe(502);
    const runs = await h.request("GET", `/v1/orgs/${a.orgId}/runs?agentId=${agentId}&limit=1`, { cookie: a.cookie });
    const run = runs.body.data[0];
    expect(run.status).toBe("error");
    await h.services.webhooks.deliverDue();
    expect(receiver.received).toHaveLength(1);
    const payload = verify(failed.secret, receiver.received[0]);
    expect(payload).toMatchObject({ type: "run.failed", data: { run: { id: run.id, status: "error", error: { type: "provider_error" } } } });
  });

  it("run.requires_action when a run starts waiting for an approval, with its pending calls", async () => {
    const hook = await createEndpoint(a, { url: `${receiver.url}/waiting`, events: ["run.requires_action"] });
    const gated = await h.request("POST", `/v1/orgs/${a.orgId}/agents`, {
      cookie: a.cookie,
      body: { name: "Careful", model: SONNET, enabledTools: ["memory_write"], approvalRequired: ["memory_write"] },
    });
    expect(gated.status, gated.text).toBe(201);
    fake.enqueue({ toolCalls: [{ id: "toolu_wh1", name: "memory_write", input: { content: "remember this" } }] });
    const started = await h.request("POST", `/v1/agent/${gated.body.id}/chat`, { cookie: a.cookie, body: { message: "Note it", background: true } });
    expect(started.status, started.text).toBe(202);
    let run: any;
    for (let i = 0; i < 200 && run?.status !== "requires_action"; i++) {
      await sleep(25);
      run = (await h.request("GET", `/v1/orgs/${a.orgId}/runs/${started.body.id}`, { cookie: a.cookie })).body;
    }
    expect(run.status).toBe("requires_action");
    await h.services.webhooks.deliverDue();
    expect(receiver.received).toHaveLength(1);
    const payload = verify(hook.secret, receiver.received[0]);
    expect(payload).toMatchObject({
      type: "run.requires_action",
      data: { run: { id: run.id, status: "requires_action", pendingApprovals: [{ toolCallId: "toolu_wh1", tool: "memory_write", input: { content: "remember this" } }] } },
    });
    const cancelled = await h.request("POST", `/v1/orgs/${a.orgId}/runs/${run.id}/cancel`, { cookie: a.cookie, body: {} });
    expect(cancelled.status).toBe(200);
  });

  it("after a rotation signs with the new and the old secret for 24 h", async () => {
    const { id, secret: old } = await createEndpoint(a, { url: `${receiver.url}/rotate`, events: ["run.completed"] });
    const rotated = await h.request("POST", `${base(a)}/${id}/rotate-secret`, { cookie: a.cookie });
    expect(rotated.status, rotated.text).toBe(200);
    const fresh = rotated.body.secret as string;
    expect(fresh).toMatch(/^whsec_/);
    expect(fresh).not.toBe(old);
    const test = await h.request("POST", `${base(a)}/${id}/test`, { cookie: a.cookie });
    expect(test.status, test.text).toBe(200);
    expect(test.body).toMatchObject({ event: "webhook.test", status: "delivered", attempts: 1, responseCode: 200 });
    const message = receiver.received[0];
    expect(String(message.headers["webhook-signature"]).split(" ")).toHaveLength(2);
    expect(verify(fresh, message)).toMatchObject({ type: "webhook.test", data: { webhook: { id } } });
    expect(verify(old, message)).toMatchObject({ type: "webhook.test" });
    // Once the 24 h are over only the new secret signs.
    await db().updateTable("webhook_endpoints").set({ previous_secret_expires_at: Date.now() - 1 }).where("id", "=", id).execute();
    await h.request("POST", `${base(a)}/${id}/test`, { cookie: a.cookie });
    expect(String(receiver.received[1].headers["webhook-signature"]).split(" ")).toHaveLength(1);
    expect(() => verify(old, receiver.received[1])).toThrow();
    expect(verify(fresh, receiver.received[1])).toBeTruthy();
  });

  it("checks the address again at every delivery, follows no redirect, gives up after 24 h and disables an endpoint failing for 3 days", async () => {
    const { id } = await createEndpoint(a, { url: `${receiver.url}/later`, events: ["run.completed"] });
    // The stored URL now points at the metadata service (as a changed DNS answer would).
    await db().updateTable("webhook_endpoints").set({ url: "http://169.254.169.254/latest" }).where("id", "=", id).execute();
    let test = await h.request("POST", `${base(a)}/${id}/test`, { cookie: a.cookie });
    expect(test.body).toMatchObject({ status: "pending", attempts: 1, responseCode: null });
    expect(test.body.error).toMatch(/169\.254\.169\.254/);

    await db().updateTable("webhook_endpoints").set({ url: `${receiver.url}/later` }).where("id", "=", id).execute();
    receiver.answerWith(() => 302);
    test = await h.request("POST", `${base(a)}/${id}/test`, { cookie: a.cookie });
    expect(test.body).toMatchObject({ status: "pending", attempts: 1 });
    expect(receiver.received).toHaveLength(1);

    // 24 h after it was written a delivery is given up.
    receiver.answerWith(() => 500);
    await db().updateTable("webhook_deliveries").set({ created_at: Date.now() - 24 * 3_600_000 }).where("webhook_id", "=", id).execute();
    await retryNow();
    const log = await h.request("GET", `${base(a)}/${id}/deliveries?status=failed`, { cookie: a.cookie });
    expect(log.body.total).toBe(2);
    expect(log.body.data.every((d: any) => d.nextAttemptAt === null && d.attempts === 2)).toBe(true);

    // Failing for 3 days: disabled with the reason.
    await db().updateTable("webhook_endpoints").set({ failing_since: Date.now() - 3 * 24 * 3_600_000 - 1 }).where("id", "=", id).execute();
    await h.request("POST", `${base(a)}/${id}/test`, { cookie: a.cookie });
    const endpoint = await h.request("GET", `${base(a)}/${id}`, { cookie: a.cookie });
    expect(endpoint.body.enabled).toBe(false);
    expect(endpoint.body.disabledReason).toMatch(/3 days.*HTTP 500/);
    // Disabled endpoints get no new deliveries; enabling again clears the reason.
    await chat("Another report");
    expect(await db().selectFrom("webhook_deliveries").select("id").where("webhook_id", "=", id).where("event", "=", "run.completed").execute()).toHaveLength(0);
    const enabled = await h.request("PATCH", `${base(a)}/${id}`, { cookie: a.cookie, body: { enabled: true } });
    expect(enabled.body).toMatchObject({ enabled: true, disabledReason: null });
  });

  it("another org's endpoints are 404 on every route, and keys need read to see and admin to change them", async () => {
    const { id } = await createEndpoint(a, { url: `${receiver.url}/mine`, events: ["run.completed"] });
    for (const [method, suffix, body] of [
      ["GET", "", undefined],
      ["PATCH", "", { enabled: false }],
      ["DELETE", "", undefined],
      ["POST", "/test", undefined],
      ["POST", "/rotate-secret", undefined],
      ["GET", "/deliveries", undefined],
    ] as const) {
      const res = await h.request(method, `${base(b)}/${id}${suffix}`, { cookie: b.cookie, body });
      expect(res.status, `${method} ${suffix}`).toBe(404);
      expect(res.body.error.type).toBe("not_found_error");
      const other = await h.request(method, `${base(a)}/${id}${suffix}`, { cookie: b.cookie, body });
      expect(other.status).toBe(404);
    }
    expect((await h.request("GET", base(b), { cookie: b.cookie })).body.data).toEqual([]);
    const chatKey = await h.createKey(a, { scopes: ["chat"] });
    const readKey = await h.createKey(a, { scopes: ["read"] });
    const writeKey = await h.createKey(a, { scopes: ["write"] });
    expect((await h.request("GET", base(a), { key: chatKey.key })).status).toBe(403);
    expect((await h.request("GET", base(a), { key: readKey.key })).status).toBe(200);
    const refused = await h.request("POST", base(a), { key: writeKey.key, body: { url: `${receiver.url}/w`, events: ["run.completed"] } });
    expect(refused.status).toBe(403);
    expect((await h.request("POST", `${base(a)}/${id}/rotate-secret`, { key: readKey.key })).status).toBe(403);
    // The permission is checked before the body: a write key learns nothing from validation.
    const invalid = await h.request("PATCH", `${base(a)}/${id}`, { key: writeKey.key, body: { url: 5 } });
    expect([invalid.status, invalid.body.error.code]).toEqual([403, "permission_denied"]);
    await sleep(0);
  });
});
