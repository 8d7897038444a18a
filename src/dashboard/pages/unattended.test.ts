import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";

const form = (fields: Record<string, string | string[]>) => {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const one of Array.isArray(v) ? v : [v]) params.append(k, one);
  return params.toString();
};

describe("dashboard: webhooks (with the delivery log) and schedules", () => {
  let h: Harness;
  let a: Account;
  let b: Account;
  let agentId: string;
  let receiverUrl: string;
  const receiver = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.statusCode = 200;
      res.end();
    });
  });

  const post = (path: string, fields: Record<string, string | string[]>, cookie: string) =>
    h.request("POST", path, { raw: form(fields), cookie, headers: { "content-type": "application/x-www-form-urlencoded", origin: "http://localhost", host: "localhost" } });
  const page = (path: string, cookie: string) => h.request("GET", path, { cookie, headers: { accept: "text/html", host: "localhost" } });

  beforeAll(async () => {
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    const port = (receiver.address() as AddressInfo).port;
    receiverUrl = `http://127.0.0.1:${port}/hook`;
    h = await createHarness({ OPENPAW_SECRET_KEY: randomBytes(32).toString("base64"), OPENPAW_FETCH_ALLOWLIST: `127.0.0.1:${port}`, OPENPAW_DEFAULT_PLAN: "unlimited" });
    a = await h.signup({ orgName: "A" });
    b = await h.signup({ orgName: "B" });
    const agent = await h.request("POST", `/v1/orgs/${a.orgId}/agents`, { cookie: a.cookie, body: { name: "Nightly", model: "claude-sonnet-4-20250514" } });
    agentId = agent.body.id;
  });
  afterAll(async () => {
    await h.close();
    receiver.close();
  });

  it("adds an endpoint showing its secret once, sends a test, shows the delivery log, removes it", async () => {
    const nav = await page(`/orgs/${a.orgId}/agents`, a.cookie);
    expect(nav.text).toContain(`href="/orgs/${a.orgId}/webhooks"`);
    expect(nav.text).toContain(`href="/orgs/${a.orgId}/schedules"`);
    const created = await post(`/orgs/${a.orgId}/webhooks`, { url: receiverUrl, events: ["run.completed", "run.failed"], description: "CI" }, a.cookie);
    expect(created.status, created.text.slice(0, 300)).toBe(201);
    const secret = /<code id="new-secret">(whsec_[^<]+)<\/code>/.exec(created.text)?.[1];
    expect(secret).toBeTruthy();
    const list = await page(`/orgs/${a.orgId}/webhooks`, a.cookie);
    expect(list.text).toContain(receiverUrl);
    expect(list.text).not.toContain(secret as string);
    const [endpoint] = (await h.request("GET", `/v1/orgs/${a.orgId}/webhooks`, { cookie: a.cookie })).body.data;
    const test = await post(`/orgs/${a.orgId}/webhooks/${endpoint.id}/test`, {}, a.cookie);
    expect(test.status).toBe(303);
    const log = await page(`/orgs/${a.orgId}/webhooks/${endpoint.id}`, a.cookie);
    expect(log.status).toBe(200);
    expect(log.text).toContain('id="deliveries"');
    expect(log.text).toContain("webhook.test");
    expect(log.text).toContain("delivered");
    // Another org's endpoint is not found, its list is empty.
    expect((await page(`/orgs/${a.orgId}/webhooks/${endpoint.id}`, b.cookie)).status).toBe(404);
    expect((await page(`/orgs/${b.orgId}/webhooks/${endpoint.id}`, b.cookie)).status).toBe(404);
    expect((await page(`/orgs/${b.orgId}/webhooks`, b.cookie)).text).not.toContain(receiverUrl);
    // A bad URL is shown as the API's message, nothing created.
    const bad = await post(`/orgs/${a.orgId}/webhooks`, { url: "https://10.0.0.1/x", events: ["run.completed"] }, a.cookie);
    expect(bad.status).toBe(400);
    expect(bad.text).toContain("private");
    expect((await post(`/orgs/${a.orgId}/webhooks/${endpoint.id}/delete`, {}, a.cookie)).status).toBe(303);
    expect((await h.request("GET", `/v1/orgs/${a.orgId}/webhooks`, { cookie: a.cookie })).body.data).toEqual([]);
  });

  it("adds a schedule to an agent, shows its next tick, refuses a bad one with the reason, removes it", async () => {
    const created = await post(`/orgs/${a.orgId}/schedules`, { agentId, cron: "30 2 * * *", timezone: "Europe/Berlin", message: "Nightly digest" }, a.cookie);
    expect(created.status).toBe(303);
    const list = await page(`/orgs/${a.orgId}/schedules`, a.cookie);
    expect(list.text).toContain("30 2 * * *");
    expect(list.text).toContain("Europe/Berlin");
    expect(list.text).toContain("Nightly digest");
    const bad = await post(`/orgs/${a.orgId}/schedules`, { agentId, cron: "0 0 31 2 *", message: "never" }, a.cookie);
    expect(bad.status).toBe(400);
    expect(bad.text).toContain("never fires");
    expect((await page(`/orgs/${b.orgId}/schedules`, b.cookie)).text).not.toContain("Nightly digest");
    const [schedule] = (await h.request("GET", `/v1/orgs/${a.orgId}/agents/${agentId}/schedules`, { cookie: a.cookie })).body.data;
    expect((await post(`/orgs/${b.orgId}/schedules/${agentId}/${schedule.id}/delete`, {}, b.cookie)).status).not.toBe(303);
    expect((await post(`/orgs/${a.orgId}/schedules/${agentId}/${schedule.id}/delete`, {}, a.cookie)).status).toBe(303);
    expect((await page(`/orgs/${a.orgId}/schedules`, a.cookie)).text).not.toContain("Nightly digest");
  });
});
