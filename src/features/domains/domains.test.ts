import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type FakeDns, startFakeDns } from "../../../test/fakes/dns";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";

const PUBLIC_URL = "https://api.openpaw.test";

/** Lets the next GET re-check at once, as if the 10-second throttle had passed. */
async function expireThrottle(h: Harness, domain: string) {
  await h.services.db.kysely.updateTable("custom_domains").set({ checked_at: null }).where("domain", "=", domain).execute();
}

async function setDomain(h: Harness, account: Account, domain: string) {
  const res = await h.request("PUT", `/v1/orgs/${account.orgId}/custom-domain`, { cookie: account.cookie, body: { domain } });
  expect(res.status, res.text).toBe(200);
  return res.body as { id: string; domain: string; status: string; dns: Array<{ type: string; name: string; value: string }> };
}

/** Sets the domain, publishes its TXT record and checks it: the domain is active afterwards. */
async function activate(h: Harness, dns: FakeDns, account: Account, domain: string) {
  const set = await setDomain(h, account, domain);
  dns.setRecord(set.dns[1].name, "TXT", [set.dns[1].value]);
  const res = await h.request("GET", `/v1/orgs/${account.orgId}/custom-domain`, { cookie: account.cookie });
  expect(res.body.status, res.text).toBe("active");
  return set;
}

describe("custom domains", () => {
  let dns: FakeDns;
  let h: Harness;
  let a: Account;
  let b: Account;
  beforeAll(async () => {
    dns = await startFakeDns();
    h = await createHarness({ OPENPAW_DNS_SERVERS: dns.address, OPENPAW_PUBLIC_URL: PUBLIC_URL });
    a = await h.signup({ orgName: "Org A" });
    b = await h.signup({ orgName: "Org B" });
  });
  beforeEach(async () => {
    // Each test starts from no domains and no records (signups are rate limited, so the orgs stay).
    dns.clear();
    for (const account of [a, b]) await h.request("DELETE", path(account), { cookie: account.cookie });
  });
  afterAll(async () => {
    await h.close();
    await dns.close();
  });
  const path = (account: Account) => `/v1/orgs/${account.orgId}/custom-domain`;

  it("PUT answers pending with the DNS instructions; GET goes active once the TXT record appears", async () => {
    const put = await h.request("PUT", path(a), { cookie: a.cookie, body: { domain: "api.customer.test" } });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ domain: "api.customer.test", status: "pending", verifiedAt: null, cnameOk: false });
    expect(put.body.id).toMatch(/^dom_/);
    expect(Date.parse(put.body.createdAt)).not.toBeNaN();
    const [cname, txt] = put.body.dns;
    expect(cname).toEqual({ type: "CNAME", name: "api.customer.test", value: "api.openpaw.test" });
    expect(txt.type).toBe("TXT");
    expect(txt.name).toBe("_openpaw-verify.api.customer.test");
    expect(txt.value).toMatch(/^openpaw-verify=[A-Za-z0-9]{32}$/);

    const pending = await h.request("GET", path(a), { cookie: a.cookie });
    expect(pending.status).toBe(200);
    expect(pending.body.status).toBe("pending");
    expect(pending.body.failureReason).toMatch(/NXDOMAIN/);
    expect(pending.body.dns).toEqual(put.body.dns);

    dns.setRecord(txt.name, "TXT", ["v=spf1 -all", txt.value]);
    await expireThrottle(h, "api.customer.test");
    const active = await h.request("GET", path(a), { cookie: a.cookie });
    expect(active.body).toMatchObject({ status: "active", failureReason: null, cnameOk: false });
    expect(Date.parse(active.body.verifiedAt)).not.toBeNaN();
  });

  it("a wrong token, a missing TXT record and a timing-out DNS server leave the domain pending with the reason", async () => {
    const set = await setDomain(h, a, "wrong.customer.test");
    dns.setRecord(set.dns[1].name, "TXT", ["openpaw-verify=someoneelsestoken"]);
    let res = await h.request("GET", path(a), { cookie: a.cookie });
    expect(res.body.status).toBe("pending");
    expect(res.body.failureReason).toMatch(/another verification token/);

    // The name exists but holds no TXT record (NODATA).
    dns.clear(set.dns[1].name);
    dns.setRecord(set.dns[1].name, "A", ["192.0.2.1"]);
    await expireThrottle(h, "wrong.customer.test");
    res = await h.request("GET", path(a), { cookie: a.cookie });
    expect(res.body.status).toBe("pending");
    expect(res.body.failureReason).toMatch(/has no TXT record/);

    dns.setHang(set.dns[1].name);
    dns.setHang("wrong.customer.test");
    await expireThrottle(h, "wrong.customer.test");
    res = await h.request("GET", path(a), { cookie: a.cookie });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("pending");
    expect(res.body.failureReason).toMatch(/timed out/);
  });

  it("GET re-checks DNS at most once every 10 seconds per domain", async () => {
    const set = await setDomain(h, a, "throttle.customer.test");
    const lookups = () => dns.queries.filter((q) => q.name === set.dns[1].name).length;
    const before = lookups();
    await h.request("GET", path(a), { cookie: a.cookie });
    const afterFirst = lookups();
    expect(afterFirst).toBeGreaterThan(before);
    dns.setRecord(set.dns[1].name, "TXT", [set.dns[1].value]);
    const again = await h.request("GET", path(a), { cookie: a.cookie });
    expect(again.body.status).toBe("pending");
    expect(lookups()).toBe(afterFirst);
    // Ten seconds after the last check, the next GET looks again.
    await h.services.db.kysely
      .updateTable("custom_domains")
      .set({ checked_at: Date.now() - 10_001 })
      .where("domain", "=", "throttle.customer.test")
      .execute();
    expect((await h.request("GET", path(a), { cookie: a.cookie })).body.status).toBe("active");
    expect(lookups()).toBeGreaterThan(afterFirst);
  });

  it("reports the CNAME without requiring it by default", async () => {
    const set = await setDomain(h, a, "cname.customer.test");
    dns.setRecord("cname.customer.test", "CNAME", ["api.openpaw.test"]);
    dns.setRecord("api.openpaw.test", "A", ["192.0.2.10"]);
    dns.setRecord(set.dns[1].name, "TXT", [set.dns[1].value]);
    const res = await h.request("GET", path(a), { cookie: a.cookie });
    expect(res.body).toMatchObject({ status: "active", cnameOk: true, cnameRequired: false });
  });

  it("normalises case, the trailing dot and IDN (to punycode)", async () => {
    const set = await setDomain(h, a, "  Bücher.Example.TEST. ");
    expect(set.domain).toBe("xn--bcher-kva.example.test");
    expect(set.dns[0].name).toBe("xn--bcher-kva.example.test");
    expect(set.dns[1].name).toBe("_openpaw-verify.xn--bcher-kva.example.test");
  });

  it("refuses every bad domain form with 400 naming domain and the reason", async () => {
    const cases: Array<[unknown, RegExp]> = [
      ["", /empty/],
      ["   ", /empty/],
      ["192.0.2.1", /IP addresses/],
      ["10.0.0.1.", /IP addresses/],
      ["0x7f.1", /IP addresses/],
      ["::1", /IP addresses/],
      ["[2001:db8::1]", /IP addresses/],
      ["localhost", /localhost/],
      ["app.localhost", /localhost/],
      ["intranet", /two labels/],
      ["api.openpaw.test", /gateway's own domain/],
      ["API.OpenPaw.test.", /gateway's own domain/],
      ["eu.api.openpaw.test", /gateway's own domain/],
      [`${Array(5).fill("a".repeat(60)).join(".")}.test`, /longer than 253/],
      [`${"a".repeat(64)}.test`, /longer than 63/],
      ["under_score.test", /not valid/],
      ["star*.test", /not valid/],
      ["-leading.test", /not valid/],
      ["double..dot.test", /not valid/],
      ["https://api.customer.test", /bare hostname/],
      ["api.customer.test:8443", /bare hostname/],
      ["api.customer.test/path", /bare hostname/],
      ["sp ace.test", /bare hostname/],
      ["%41pi.customer.test", /bare hostname/],
      [42, /.*/],
    ];
    for (const [domain, reason] of cases) {
      const res = await h.request("PUT", path(a), { cookie: a.cookie, body: { domain } });
      expect(res.status, String(domain)).toBe(400);
      expect(res.body.error.type).toBe("invalid_request_error");
      expect(res.body.error.param, String(domain)).toBe("domain");
      expect(res.body.error.message, String(domain)).toMatch(reason);
    }
    const missing = await h.request("PUT", path(a), { cookie: a.cookie, body: {} });
    expect(missing.status).toBe(400);
    expect(missing.body.error.param).toBe("domain");
    expect((await h.request("GET", path(a), { cookie: a.cookie })).status).toBe(404);
  });

  it("a domain held by another org is 409 without naming the org; a failed claim no longer blocks it", async () => {
    await setDomain(h, a, "taken.customer.test");
    for (const domain of ["taken.customer.test", "TAKEN.customer.test."]) {
      const res = await h.request("PUT", path(b), { cookie: b.cookie, body: { domain } });
      expect(res.status).toBe(409);
      expect(res.body.error).toMatchObject({ type: "conflict_error", param: "domain" });
      expect(res.text).not.toContain(a.orgId);
    }
    expect((await h.request("GET", path(b), { cookie: b.cookie })).status).toBe(404);

    await h.services.db.kysely
      .updateTable("custom_domains")
      .set({ status: "failed" })
      .where("domain", "=", "taken.customer.test")
      .execute();
    expect((await h.request("PUT", path(b), { cookie: b.cookie, body: { domain: "taken.customer.test" } })).status).toBe(200);
    expect((await h.request("GET", path(a), { cookie: a.cookie })).status).toBe(404);
  });

  it("replacing the domain resets verification; setting the same one again keeps its token", async () => {
    const first = await activate(h, dns, a, "first.customer.test");
    const same = await setDomain(h, a, "first.customer.test");
    expect(same).toMatchObject({ id: first.id, status: "active" });
    expect(same.dns[1].value).toBe(first.dns[1].value);

    const second = await setDomain(h, a, "second.customer.test");
    expect(second.status).toBe("pending");
    expect(second.id).not.toBe(first.id);
    expect(second.dns[1].value).not.toBe(first.dns[1].value);
    // The replaced domain stops routing at once.
    expect((await h.request("GET", "/healthz", { headers: { host: "first.customer.test" } })).status).toBe(200);
    expect((await h.request("GET", path(a), { cookie: a.cookie, headers: { host: "first.customer.test" } })).status).toBe(421);
    // And the old hostname is free for others.
    expect((await h.request("PUT", path(b), { cookie: b.cookie, body: { domain: "first.customer.test" } })).status).toBe(200);
  });

  it("routes an active domain's Host to its org alone", async () => {
    await activate(h, dns, a, "route.customer.test");
    const keyA = await h.createKey(a);
    const keyB = await h.createKey(b);
    const host = { host: "route.customer.test" };

    // Org A's key and session work on its domain (port and case of Host ignored).
    const own = await h.request("GET", path(a), { key: keyA.key, headers: host });
    expect(own.status).toBe(200);
    expect(own.body.domain).toBe("route.customer.test");
    expect(
      (await h.request("GET", `/v1/orgs/${a.orgId}/api-keys`, { cookie: a.cookie, headers: { host: "Route.Customer.Test:443" } })).status,
    ).toBe(200);

    // Org B's key and session get 404 there, even on org B's own paths.
    for (const cred of [{ key: keyB.key }, { cookie: b.cookie }]) {
      for (const p of [path(a), path(b), `/v1/orgs/${b.orgId}/api-keys`, `/v1/orgs/${a.orgId}/api-keys`]) {
        const res = await h.request("GET", p, { ...cred, headers: host });
        expect(res.status, p).toBe(404);
        expect(res.body.error.type).toBe("not_found_error");
      }
    }
    // ...while they still work on the gateway's own host.
    expect((await h.request("GET", `/v1/orgs/${b.orgId}/api-keys`, { key: keyB.key, headers: { host: "api.openpaw.test" } })).status).toBe(
      200,
    );

    expect((await h.request("GET", "/healthz", { headers: host })).body).toEqual({ status: "ok" });

    const unknown = await h.request("GET", path(a), { key: keyA.key, headers: { host: "unknown.customer.test" } });
    expect(unknown.status).toBe(421);
    expect(unknown.body.error.type).toBe("misdirected_request_error");
    expect(unknown.body.error.requestId).toBe(unknown.headers.get("x-request-id"));
    expect((await h.request("GET", "/healthz", { headers: { host: "unknown.customer.test" } })).status).toBe(200);

    // The gateway's own names, loopback names and IP literals always reach it.
    for (const name of ["api.openpaw.test", "localhost:8787", "127.0.0.1:8787", "[::1]:8787", "10.1.2.3", "app.localhost"]) {
      expect((await h.request("GET", path(a), { key: keyA.key, headers: { host: name } })).status, name).toBe(200);
    }

    expect((await h.request("DELETE", path(a), { key: keyA.key, headers: host })).status).toBe(204);
    expect((await h.request("GET", "/v1/me", { cookie: a.cookie, headers: host })).status).toBe(421);
    expect((await h.request("GET", path(a), { key: keyA.key })).status).toBe(404);
  });

  it("a pending domain does not route", async () => {
    await setDomain(h, a, "notyet.customer.test");
    expect((await h.request("GET", "/v1/me", { cookie: a.cookie, headers: { host: "notyet.customer.test" } })).status).toBe(421);
  });

  it("Caddy's on-demand TLS ask endpoint allows active domains and the public host only", async () => {
    await activate(h, dns, a, "tls.customer.test");
    await setDomain(h, b, "tls-pending.customer.test");
    const ask = (domain: string) => h.request("GET", `/internal/tls/ask?domain=${encodeURIComponent(domain)}`);
    expect((await ask("tls.customer.test")).status).toBe(200);
    expect((await ask("TLS.customer.test")).status).toBe(200);
    expect((await ask("api.openpaw.test")).status).toBe(200);
    expect((await ask("tls-pending.customer.test")).status).toBe(404);
    expect((await ask("random.example.com")).status).toBe(404);
    const missing = await h.request("GET", "/internal/tls/ask");
    expect(missing.status).toBe(400);
    expect(missing.body.error.param).toBe("domain");
    await h.request("DELETE", path(a), { cookie: a.cookie });
    expect((await ask("tls.customer.test")).status).toBe(404);
  });

  it("another org's owner session and admin key get 404 on PUT, GET and DELETE", async () => {
    const set = await setDomain(h, a, "mine.customer.test");
    const keyB = await h.createKey(b, { scopes: ["admin"] });
    for (const cred of [{ cookie: b.cookie }, { key: keyB.key }]) {
      for (const [method, body] of [["PUT", { domain: "stolen.customer.test" }], ["GET"], ["DELETE"]] as const) {
        const res = await h.request(method, path(a), { ...cred, body });
        expect(res.status, `${method} ${JSON.stringify(cred).slice(0, 10)}`).toBe(404);
        expect(res.body.error.type).toBe("not_found_error");
      }
    }
    const after = await h.request("GET", path(a), { cookie: a.cookie });
    expect(after.body).toMatchObject({ id: set.id, domain: "mine.customer.test" });
  });

  it("needs write permission to set or remove; read is enough to look", async () => {
    await setDomain(h, a, "perm.customer.test");
    const member = await h.signup();
    expect((await h.request("POST", `/v1/orgs/${a.orgId}/members`, { cookie: a.cookie, body: { email: member.email } })).status).toBe(201);
    const readKey = await h.createKey(a, { scopes: ["read"] });
    const chatKey = await h.createKey(a, { scopes: ["chat"] });
    for (const cred of [{ cookie: member.cookie }, { key: readKey.key }]) {
      const put = await h.request("PUT", path(a), { ...cred, body: { domain: "other.customer.test" } });
      expect(put.status).toBe(403);
      expect(put.body.error.type).toBe("permission_error");
      expect((await h.request("DELETE", path(a), cred)).status).toBe(403);
      expect((await h.request("GET", path(a), cred)).body.domain).toBe("perm.customer.test");
    }
    expect((await h.request("GET", path(a), { key: chatKey.key })).status).toBe(403);
    const writeKey = await h.createKey(a, { scopes: ["write"] });
    const put = await h.request("PUT", path(a), { key: writeKey.key, body: { domain: "other.customer.test" } });
    expect(put.status).toBe(200);
    expect(put.body.domain).toBe("other.customer.test");
    expect((await h.request("DELETE", path(a), { key: writeKey.key })).status).toBe(204);
    expect((await h.request("DELETE", path(a), { key: writeKey.key })).status).toBe(404);
    expect((await h.request("PUT", path(a), { body: { domain: "x.customer.test" } })).status).toBe(401);
  });

  it("the background sweep activates pending domains and fails them after 72 hours", async () => {
    const ok = await setDomain(h, a, "sweep-ok.customer.test");
    await setDomain(h, b, "sweep-late.customer.test");
    dns.setRecord(ok.dns[1].name, "TXT", [ok.dns[1].value]);
    await h.services.db.kysely
      .updateTable("custom_domains")
      .set({ pending_since: Date.now() - 73 * 3_600_000 })
      .where("domain", "=", "sweep-late.customer.test")
      .execute();

    expect(await h.services.domains.sweeper.runOnce()).toBeGreaterThanOrEqual(2);
    expect((await h.request("GET", path(a), { cookie: a.cookie })).body.status).toBe("active");
    expect((await h.request("GET", "/v1/me", { cookie: a.cookie, headers: { host: "sweep-ok.customer.test" } })).status).toBe(200);
    const failed = await h.request("GET", path(b), { cookie: b.cookie });
    expect(failed.body.status).toBe("failed");
    expect(failed.body.failureReason).toMatch(/^Not verified within 72 hours: .*NXDOMAIN/);

    // Checked domains back off: an immediate second pass has nothing due.
    expect(await h.services.domains.sweeper.runOnce()).toBe(0);

    // Setting the failed domain again starts a new window with the same records.
    const again = await setDomain(h, b, "sweep-late.customer.test");
    expect(again.status).toBe("pending");
    dns.setRecord(again.dns[1].name, "TXT", [again.dns[1].value]);
    expect((await h.request("GET", path(b), { cookie: b.cookie })).body.status).toBe("active");
  });

  it("the OpenAPI document lists the custom-domain routes", async () => {
    const doc = await h.request("GET", "/openapi.json");
    expect(Object.keys(doc.body.paths["/v1/orgs/{orgId}/custom-domain"]).sort()).toEqual(["delete", "get", "put"]);
  });
});

describe("custom domains with OPENPAW_REQUIRE_CNAME=true", () => {
  let dns: FakeDns;
  let h: Harness;
  beforeAll(async () => {
    dns = await startFakeDns();
    h = await createHarness({
      OPENPAW_DNS_SERVERS: dns.address,
      OPENPAW_PUBLIC_URL: PUBLIC_URL,
      OPENPAW_CNAME_TARGET: "domains.openpaw.test",
      OPENPAW_REQUIRE_CNAME: "true",
    });
  });
  afterAll(async () => {
    await h.close();
    await dns.close();
  });

  it("stays pending on the TXT record alone and activates once the CNAME points at the target", async () => {
    const a = await h.signup();
    const set = await setDomain(h, a, "strict.customer.test");
    expect(set.dns[0]).toEqual({ type: "CNAME", name: "strict.customer.test", value: "domains.openpaw.test" });
    dns.setRecord(set.dns[1].name, "TXT", [set.dns[1].value]);
    let res = await h.request("GET", `/v1/orgs/${a.orgId}/custom-domain`, { cookie: a.cookie });
    expect(res.body).toMatchObject({ status: "pending", cnameOk: false, cnameRequired: true });
    expect(res.body.failureReason).toMatch(/strict\.customer\.test/);

    dns.setRecord("strict.customer.test", "CNAME", ["elsewhere.test"]);
    await expireThrottle(h, "strict.customer.test");
    res = await h.request("GET", `/v1/orgs/${a.orgId}/custom-domain`, { cookie: a.cookie });
    expect(res.body.status).toBe("pending");
    expect(res.body.failureReason).toMatch(/CNAME of elsewhere\.test, not domains\.openpaw\.test/);

    dns.setRecord("strict.customer.test", "CNAME", ["Domains.OpenPaw.test."]);
    await expireThrottle(h, "strict.customer.test");
    res = await h.request("GET", `/v1/orgs/${a.orgId}/custom-domain`, { cookie: a.cookie });
    expect(res.body).toMatchObject({ status: "active", cnameOk: true });
  });

  it("refuses the CNAME target and its subdomains as custom domains", async () => {
    const a = await h.signup();
    for (const domain of ["domains.openpaw.test", "x.domains.openpaw.test"]) {
      const res = await h.request("PUT", `/v1/orgs/${a.orgId}/custom-domain`, { cookie: a.cookie, body: { domain } });
      expect(res.status).toBe(400);
      expect(res.body.error.param).toBe("domain");
    }
  });
});

describe.skipIf(!process.env.REDIS_URL)("custom domains across replicas (Redis)", () => {
  let dns: FakeDns;
  let one: Harness;
  let two: Harness;
  beforeAll(async () => {
    dns = await startFakeDns();
    const env = { OPENPAW_DNS_SERVERS: dns.address, OPENPAW_PUBLIC_URL: PUBLIC_URL, REDIS_URL: process.env.REDIS_URL as string };
    one = await createHarness(env);
    two = await createHarness({ ...env, DATABASE_URL: one.config.databaseUrl });
  });
  afterAll(async () => {
    await two.close();
    await one.close();
    await dns.close();
  });

  it("a DELETE on one replica stops the domain on the other at once", async () => {
    const a = await one.signup();
    await activate(one, dns, a, "replicas.customer.test");
    const viaTwo = () => two.request("GET", "/v1/me", { cookie: a.cookie, headers: { host: "replicas.customer.test" } });
    // Replica two caches the active domain (its TTL is 30 s, far longer than this test waits).
    expect((await viaTwo()).status).toBe(200);
    expect((await one.request("DELETE", `/v1/orgs/${a.orgId}/custom-domain`, { cookie: a.cookie })).status).toBe(204);
    let status = 0;
    for (let i = 0; i < 40 && status !== 421; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      status = (await viaTwo()).status;
    }
    expect(status).toBe(421);
  });
});
