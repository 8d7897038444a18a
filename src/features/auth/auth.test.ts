import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, createHarness } from "../../../test/helpers/harness";

describe("accounts: signup, login, logout, me", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
  });
  afterAll(() => h.close());

  it("signs up: 201 with user and org, an HttpOnly SameSite=Lax session cookie, and the user owns the org", async () => {
    const res = await h.request("POST", "/v1/auth/signup", {
      body: { email: "Alice@Example.com", password: "s3cret-password", name: "Alice", orgName: "Acme" },
    });
    expect(res.status).toBe(201);
    expect(res.body.user).toMatchObject({ email: "alice@example.com", name: "Alice" });
    expect(res.body.user.id).toMatch(/^usr_/);
    expect(res.body.org).toMatchObject({ name: "Acme", plan: "free" });
    expect(res.body.org.id).toMatch(/^org_/);
    expect(res.body.user.createdAt).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
    expect(res.body.user.password_hash).toBeUndefined();
    const cookie = res.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/^openpaw_session=/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).toMatch(/Path=\//);
    expect(cookie).not.toMatch(/Secure/);
    const me = await h.request("GET", "/v1/me", { cookie: cookie.split(";")[0] });
    expect(me.status).toBe(200);
    expect(me.body.orgs).toEqual([{ id: res.body.org.id, name: "Acme", role: "owner", plan: "free" }]);
  });

  it("refuses a duplicate email with 409 and creates nothing", async () => {
    await h.signup({ email: "dup@example.com" });
    const res = await h.request("POST", "/v1/auth/signup", { body: { email: "DUP@example.com", password: "another-password" } });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ type: "conflict_error", param: "email" });
    const orgs = await h.services.db.kysely.selectFrom("orgs").select("id").execute();
    const users = await h.services.db.kysely.selectFrom("users").select("id").where("email", "=", "dup@example.com").execute();
    expect(users).toHaveLength(1);
    expect(orgs.length).toBeGreaterThan(0);
  });

  it.each([
    [{ email: "not-an-email", password: "long-enough" }, "email"],
    [{ email: "a@b.co", password: "short" }, "password"],
    [{ password: "long-enough" }, "email"],
    [{ email: "a@b.co" }, "password"],
    [{ email: 42, password: "long-enough" }, "email"],
    [{ email: "a@b.co", password: "long-enough", admin: true }, "admin"],
    [{ email: "a@b.co", password: "long-enough", orgName: "" }, "orgName"],
  ])("rejects bad signup %j naming %s", async (body, param) => {
    const before = await h.services.db.kysely.selectFrom("users").select("id").execute();
    const res = await h.request("POST", "/v1/auth/signup", { body });
    expect(res.status).toBe(400);
    expect(res.body.error.type).toBe("invalid_request_error");
    expect(res.body.error.param).toBe(param);
    expect(res.body.error.requestId).toMatch(/^req_/);
    const after = await h.services.db.kysely.selectFrom("users").select("id").execute();
    expect(after.length).toBe(before.length);
  });

  it("rejects malformed JSON and a non-JSON content type with 400 envelopes", async () => {
    const bad = await h.request("POST", "/v1/auth/signup", { raw: "{not json", headers: { "content-type": "application/json" } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.type).toBe("invalid_request_error");
    const form = await h.request("POST", "/v1/auth/signup", {
      raw: "email=a@b.co",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(form.status).toBe(400);
    expect(form.body.error.message).toMatch(/Content-Type must be application\/json/);
  });

  it("logs in with the same message for a wrong password and an unknown email", async () => {
    const account = await h.signup({ email: "bob@example.com" });
    const ok = await h.request("POST", "/v1/auth/login", { body: { email: "bob@example.com", password: "correct horse battery" } });
    expect(ok.status).toBe(200);
    expect(ok.body.orgs[0]).toMatchObject({ id: account.orgId, role: "owner" });
    const wrong = await h.request("POST", "/v1/auth/login", { body: { email: "bob@example.com", password: "wrong password" } });
    const unknown = await h.request("POST", "/v1/auth/login", { body: { email: "nobody@example.com", password: "wrong password" } });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body.error.message).toBe(unknown.body.error.message);
    expect(wrong.headers.get("set-cookie")).toBeNull();
  });

  it("issues a new session id at every login (no fixation) and logout invalidates it", async () => {
    await h.signup({ email: "carol@example.com" });
    const login = () =>
      h.request("POST", "/v1/auth/login", {
        body: { email: "carol@example.com", password: "correct horse battery" },
        cookie: "openpaw_session=planted",
      });
    const a = (await login()).headers.get("set-cookie")?.split(";")[0] as string;
    const b = (await login()).headers.get("set-cookie")?.split(";")[0] as string;
    expect(a).not.toBe(b);
    expect(a).not.toBe("openpaw_session=planted");
    expect((await h.request("GET", "/v1/me", { cookie: a })).status).toBe(200);
    const out = await h.request("POST", "/v1/auth/logout", { cookie: a });
    expect(out.status).toBe(204);
    expect((await h.request("GET", "/v1/me", { cookie: a })).status).toBe(401);
    expect((await h.request("GET", "/v1/me", { cookie: b })).status).toBe(200);
  });

  it("refuses expired sessions", async () => {
    const account = await h.signup();
    await h.services.db.kysely
      .updateTable("sessions")
      .set({ expires_at: Date.now() - 1 })
      .execute();
    const res = await h.request("GET", "/v1/me", { cookie: account.cookie });
    expect(res.status).toBe(401);
    expect(res.body.error.type).toBe("authentication_error");
  });

  it("GET /v1/me without credentials is 401; with an API key it is 403 (keys have no user)", async () => {
    expect((await h.request("GET", "/v1/me")).status).toBe(401);
    const account = await h.signup();
    const { key } = await h.createKey(account);
    const res = await h.request("GET", "/v1/me", { key });
    expect(res.status).toBe(403);
    expect(res.body.error.type).toBe("permission_error");
  });

  it("refuses a cookie-authenticated mutation from another Origin (CSRF) and allows the same origin", async () => {
    const account = await h.signup();
    const evil = await h.request("POST", "/v1/orgs", {
      cookie: account.cookie,
      body: { name: "x" },
      headers: { origin: "https://evil.example" },
    });
    expect(evil.status).toBe(403);
    const crossSite = await h.request("POST", "/v1/orgs", {
      cookie: account.cookie,
      body: { name: "x" },
      headers: { "sec-fetch-site": "cross-site" },
    });
    expect(crossSite.status).toBe(403);
    const same = await h.request("POST", "/v1/orgs", {
      cookie: account.cookie,
      body: { name: "x" },
      headers: { origin: "http://localhost:8787" },
    });
    expect(same.status).toBe(201);
  });

  it("never writes passwords or session tokens to the log", async () => {
    const res = await h.request("POST", "/v1/auth/signup", { body: { email: "leak@example.com", password: "leaky-password-123" } });
    const token = (res.headers.get("set-cookie") ?? "").split(";")[0].split("=")[1];
    const all = h.logs.join("\n");
    expect(all).not.toContain("leaky-password-123");
    expect(all).not.toContain(token);
  });
});

describe("signup closed and rate limits", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness({ OPENPAW_SIGNUP: "closed" });
  });
  afterAll(() => h.close());

  it("OPENPAW_SIGNUP=closed refuses signup with 403", async () => {
    const res = await h.request("POST", "/v1/auth/signup", { body: { email: "x@example.com", password: "long-enough" } });
    expect(res.status).toBe(403);
    expect(res.body.error.message).toMatch(/closed/);
  });

  it("rate limits login attempts per email with 429 and Retry-After", async () => {
    const statuses: number[] = [];
    let last: Awaited<ReturnType<Harness["request"]>> | null = null;
    for (let i = 0; i < 12; i++) {
      last = await h.request("POST", "/v1/auth/login", { body: { email: "target@example.com", password: `guess-${i}-xx` } });
      statuses.push(last.status);
    }
    expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true);
    expect(last?.status).toBe(429);
    expect(last?.body.error.type).toBe("rate_limit_error");
    expect(Number(last?.headers.get("retry-after"))).toBeGreaterThan(0);
  });
});
