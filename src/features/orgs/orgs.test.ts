import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Account, type Harness, createHarness, testDatabase } from "../../../test/helpers/harness";

describe("orgs and members", () => {
  let h: Harness;
  let a: Account;
  let b: Account;
  beforeAll(async () => {
    h = await createHarness();
    a = await h.signup({ orgName: "Org A" });
    b = await h.signup({ orgName: "Org B" });
  });
  afterAll(() => h.close());

  it("creates an org with the caller as owner and shows it in /v1/me", async () => {
    const res = await h.request("POST", "/v1/orgs", { cookie: a.cookie, body: { name: "Second" } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: "Second", role: "owner", plan: "free" });
    const me = await h.request("GET", "/v1/me", { cookie: a.cookie });
    expect(me.body.orgs.map((o: { name: string }) => o.name)).toEqual(["Org A", "Second"]);
  });

  it("POST /v1/orgs validates the name", async () => {
    for (const body of [{}, { name: "" }, { name: "x".repeat(101) }, { name: 5 }]) {
      const res = await h.request("POST", "/v1/orgs", { cookie: a.cookie, body });
      expect(res.status).toBe(400);
      expect(res.body.error.param).toBe("name");
    }
    expect((await h.request("POST", "/v1/orgs", { body: { name: "x" } })).status).toBe(401);
  });

  it("GET/PATCH an org; another org's user and key get 404 on every org route", async () => {
    expect((await h.request("GET", `/v1/orgs/${a.orgId}`, { cookie: a.cookie })).body).toMatchObject({ id: a.orgId, role: "owner" });
    const renamed = await h.request("PATCH", `/v1/orgs/${a.orgId}`, { cookie: a.cookie, body: { name: "Org A2" } });
    expect(renamed.body.name).toBe("Org A2");
    const keyB = await h.createKey(b);
    for (const [method, path, body] of [
      ["GET", `/v1/orgs/${a.orgId}`],
      ["PATCH", `/v1/orgs/${a.orgId}`, { name: "pwned" }],
      ["DELETE", `/v1/orgs/${a.orgId}`],
      ["GET", `/v1/orgs/${a.orgId}/members`],
      ["POST", `/v1/orgs/${a.orgId}/members`, { email: b.email }],
      ["PATCH", `/v1/orgs/${a.orgId}/members/${a.userId}`, { role: "member" }],
      ["DELETE", `/v1/orgs/${a.orgId}/members/${a.userId}`],
    ] as const) {
      for (const cred of [{ cookie: b.cookie }, { key: keyB.key }]) {
        const res = await h.request(method, path, { ...cred, body });
        expect(res.status, `${method} ${path}`).toBe(404);
        expect(res.body.error.type).toBe("not_found_error");
      }
    }
    expect((await h.request("GET", `/v1/orgs/${a.orgId}`, { cookie: a.cookie })).body.name).toBe("Org A2");
    expect((await h.request("GET", "/v1/orgs/org_doesnotexist", { cookie: a.cookie })).status).toBe(404);
  });

  it("owners add members by email, change roles and remove them; roles gate actions", async () => {
    const m = await h.signup({ orgName: "M's own" });
    const add = await h.request("POST", `/v1/orgs/${a.orgId}/members`, { cookie: a.cookie, body: { email: m.email } });
    expect(add.status).toBe(201);
    expect(add.body).toMatchObject({ userId: m.userId, role: "member" });
    expect((await h.request("POST", `/v1/orgs/${a.orgId}/members`, { cookie: a.cookie, body: { email: m.email } })).status).toBe(409);
    expect(
      (await h.request("POST", `/v1/orgs/${a.orgId}/members`, { cookie: a.cookie, body: { email: "ghost@example.com" } })).status,
    ).toBe(404);
    expect(
      (await h.request("POST", `/v1/orgs/${a.orgId}/members`, { cookie: a.cookie, body: { email: m.email, role: "god" } })).body.error
        .param,
    ).toBe("role");

    // A member can read but not administer.
    expect((await h.request("GET", `/v1/orgs/${a.orgId}/members`, { cookie: m.cookie })).status).toBe(200);
    const denied = await h.request("PATCH", `/v1/orgs/${a.orgId}/members/${m.userId}`, { cookie: m.cookie, body: { role: "owner" } });
    expect(denied.status).toBe(403);
    expect(denied.body.error.type).toBe("permission_error");
    expect((await h.request("POST", `/v1/orgs/${a.orgId}/api-keys`, { cookie: m.cookie, body: {} })).status).toBe(403);
    expect((await h.request("PATCH", `/v1/orgs/${a.orgId}`, { cookie: m.cookie, body: { name: "mine" } })).status).toBe(403);
    expect((await h.request("DELETE", `/v1/orgs/${a.orgId}`, { cookie: m.cookie })).status).toBe(403);

    const promote = await h.request("PATCH", `/v1/orgs/${a.orgId}/members/${m.userId}`, { cookie: a.cookie, body: { role: "admin" } });
    expect(promote.body.role).toBe("admin");
    // An admin manages keys but not members.
    expect((await h.request("POST", `/v1/orgs/${a.orgId}/api-keys`, { cookie: m.cookie, body: {} })).status).toBe(201);
    expect((await h.request("DELETE", `/v1/orgs/${a.orgId}/members/${a.userId}`, { cookie: m.cookie })).status).toBe(403);

    const members = await h.request("GET", `/v1/orgs/${a.orgId}/members`, { cookie: a.cookie });
    expect(members.body.data.map((x: { role: string }) => x.role).sort()).toEqual(["admin", "owner"]);
    expect((await h.request("DELETE", `/v1/orgs/${a.orgId}/members/${m.userId}`, { cookie: a.cookie })).status).toBe(204);
    expect((await h.request("GET", `/v1/orgs/${a.orgId}`, { cookie: m.cookie })).status).toBe(404);
  });

  it("never leaves an org without an owner (409)", async () => {
    const demote = await h.request("PATCH", `/v1/orgs/${a.orgId}/members/${a.userId}`, { cookie: a.cookie, body: { role: "admin" } });
    expect(demote.status).toBe(409);
    expect(demote.body.error.type).toBe("conflict_error");
    const leave = await h.request("DELETE", `/v1/orgs/${a.orgId}/members/${a.userId}`, { cookie: a.cookie });
    expect(leave.status).toBe(409);
    expect((await h.request("GET", `/v1/orgs/${a.orgId}/members`, { cookie: a.cookie })).body.data[0].role).toBe("owner");
  });

  it("a member may leave by themselves; an owner deletes the org and its keys stop working", async () => {
    const owner = await h.signup({ orgName: "Doomed" });
    const m = await h.signup();
    await h.request("POST", `/v1/orgs/${owner.orgId}/members`, { cookie: owner.cookie, body: { email: m.email } });
    expect((await h.request("DELETE", `/v1/orgs/${owner.orgId}/members/${m.userId}`, { cookie: m.cookie })).status).toBe(204);
    const { key } = await h.createKey(owner);
    expect((await h.request("GET", `/v1/orgs/${owner.orgId}/api-keys`, { key })).status).toBe(200);
    expect((await h.request("DELETE", `/v1/orgs/${owner.orgId}`, { cookie: owner.cookie })).status).toBe(204);
    expect((await h.request("GET", `/v1/orgs/${owner.orgId}`, { cookie: owner.cookie })).status).toBe(404);
    // At once, with the key's lookup still cached from a moment ago: no write may reach the gone org.
    expect((await h.request("GET", `/v1/orgs/${owner.orgId}/api-keys`, { key })).status).toBe(401);
    const write = await h.request("POST", `/v1/orgs/${owner.orgId}/agents`, { key, body: { name: "x", model: "claude-sonnet-4-20250514" } });
    expect(write.status).toBe(401);
  });
});

// PostgreSQL runs transactions under READ COMMITTED: a count-then-update there lets two
// concurrent demotions both see two owners. SQLite serialises writers, so the race needs PostgreSQL.
describe.skipIf(testDatabase !== "postgres")("the last owner under concurrency (PostgreSQL)", () => {
  let h: Harness;
  let one: Account;
  let two: Account;
  beforeAll(async () => {
    h = await createHarness();
    one = await h.signup({ orgName: "Raced" });
    two = await h.signup();
    expect((await h.request("POST", `/v1/orgs/${one.orgId}/members`, { cookie: one.cookie, body: { email: two.email, role: "owner" } })).status).toBe(201);
  });
  afterAll(() => h.close());

  const owners = async () =>
    (await h.services.db.kysely.selectFrom("memberships").select("user_id").where("org_id", "=", one.orgId).where("role", "=", "owner").execute()).map(
      (r) => r.user_id,
    );
  const members = (account: Account) => `/v1/orgs/${one.orgId}/members/${account.userId}`;

  it("two owners demoting or removing each other at once always leave exactly one owner", async () => {
    const moves: Array<[string, (by: Account, target: Account) => Promise<{ status: number }>]> = [
      ["demote", (by, target) => h.request("PATCH", members(target), { cookie: by.cookie, body: { role: "admin" } })],
      ["remove", (by, target) => h.request("DELETE", members(target), { cookie: by.cookie })],
      ["leave", (by) => h.request("DELETE", members(by), { cookie: by.cookie })],
    ];
    let rounds = 0;
    for (let round = 0; round < 8; round++) {
      for (const [firstName, first] of moves) {
        for (const [secondName, second] of moves) {
          const results = await Promise.all([first(one, two), second(two, one)]);
          rounds++;
          const left = await owners();
          expect(left, `${firstName} vs ${secondName}: ${results.map((r) => r.status).join(", ")}`).toHaveLength(1);
          // The other move is refused (409 last owner; 403/404 when it came after the first's commit), or
          // still legal after it (a demoted owner may leave).
          expect(results.every((r) => [200, 204, 403, 404, 409].includes(r.status))).toBe(true);
          // Back to two owners for the next round.
          const [survivor] = left;
          const [by, other] = survivor === one.userId ? [one, two] : [two, one];
          const back =
            (await h.request("PATCH", members(other), { cookie: by.cookie, body: { role: "owner" } })).status === 200 ||
            (await h.request("POST", `/v1/orgs/${one.orgId}/members`, { cookie: by.cookie, body: { email: other.email, role: "owner" } })).status === 201;
          expect(back).toBe(true);
        }
      }
    }
    console.log(`last owner: ${rounds} concurrent demote/remove/leave pairs on PostgreSQL, one owner left every time`);
  });
});
