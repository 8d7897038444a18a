import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertAgentRow } from "../../../test/helpers/fixtures";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";
import { createMemoryStore } from "./store";

describe("memory API", () => {
  let h: Harness;
  let a: Account;
  let b: Account;

  const insertAgent = (orgId: string) => insertAgentRow(h, orgId, "Route test");

  const path = (orgId: string, agentId: string, rest = "") => `/v1/orgs/${orgId}/agents/${agentId}/memory${rest}`;

  beforeAll(async () => {
    h = await createHarness();
    a = await h.signup({ orgName: "A" });
    b = await h.signup({ orgName: "B" });
  });
  afterAll(() => h.close());

  it("is documented in the OpenAPI document", async () => {
    const doc = await h.request("GET", "/openapi.json");
    expect(Object.keys(doc.body.paths["/v1/orgs/{orgId}/agents/{agentId}/memory"])).toEqual(["get", "delete"]);
    expect(doc.body.paths["/v1/orgs/{orgId}/agents/{agentId}/memory/notes"].put).toBeDefined();
  });

  it("GET returns notes oldest first and history newest first, capped by historyLimit", async () => {
    const agentId = await insertAgent(a.orgId);
    let t = Date.UTC(2026, 10, 1);
    const store = createMemoryStore(h.services.db.kysely, a.orgId, agentId, { now: () => (t += 1000) });
    await store.appendNote("first note");
    await store.appendNote("second note");
    for (const n of [1, 2, 3]) await store.appendHistory(`conv_${n}`, `summary ${n}`);

    const res = await h.request("GET", path(a.orgId, agentId), { cookie: a.cookie });
    expect(res.status).toBe(200);
    expect(res.body.notes).toEqual([
      { id: expect.stringMatching(/^mem_/), content: "first note", createdAt: "2026-11-01T00:00:01.000Z" },
      { id: expect.stringMatching(/^mem_/), content: "second note", createdAt: "2026-11-01T00:00:02.000Z" },
    ]);
    expect(res.body.history.map((e: { conversationId: string }) => e.conversationId)).toEqual(["conv_3", "conv_2", "conv_1"]);
    expect(res.body.history[0]).toEqual({
      id: expect.stringMatching(/^mem_/),
      conversationId: "conv_3",
      content: "summary 3",
      createdAt: "2026-11-01T00:00:05.000Z",
    });
    const capped = await h.request("GET", path(a.orgId, agentId, "?historyLimit=2"), { cookie: a.cookie });
    expect(capped.body.history.map((e: { content: string }) => e.content)).toEqual(["summary 3", "summary 2"]);

    for (const bad of ["0", "1001", "abc", "1.5"]) {
      const r = await h.request("GET", path(a.orgId, agentId, `?historyLimit=${bad}`), { cookie: a.cookie });
      expect(r.status, bad).toBe(400);
      expect(r.body.error).toMatchObject({ type: "invalid_request_error", param: "historyLimit" });
    }
  });

  it("PUT replaces all notes in order, keeping unchanged notes' timestamps", async () => {
    const agentId = await insertAgent(a.orgId);
    const store = createMemoryStore(h.services.db.kysely, a.orgId, agentId, { now: () => Date.UTC(2026, 0, 1) });
    const kept = await store.appendNote("keep me");
    await store.appendNote("drop me");
    const res = await h.request("PUT", path(a.orgId, agentId, "/notes"), {
      cookie: a.cookie,
      body: { notes: ["keep me", "  new one  ", "new two"] },
    });
    expect(res.status).toBe(200);
    expect(res.body.notes.map((n: { content: string }) => n.content)).toEqual(["keep me", "new one", "new two"]);
    expect(res.body.notes[0]).toEqual({ id: kept.id, content: "keep me", createdAt: "2026-01-01T00:00:00.000Z" });
    expect(res.body.history).toEqual([]);
    expect((await store.notes()).map((n) => n.content)).toEqual(["keep me", "new one", "new two"]);
    // The replaced notes are what the agent searches from then on.
    expect(await store.search("drop")).toEqual([]);

    const emptied = await h.request("PUT", path(a.orgId, agentId, "/notes"), { cookie: a.cookie, body: { notes: [] } });
    expect(emptied.body.notes).toEqual([]);
  });

  it("PUT validates notes and names the field; a refused PUT changes nothing", async () => {
    const agentId = await insertAgent(a.orgId);
    await createMemoryStore(h.services.db.kysely, a.orgId, agentId).appendNote("survivor");
    const cases: [unknown, string][] = [
      [{}, "notes"],
      [{ notes: "text" }, "notes"],
      [{ notes: ["ok", 5] }, "notes.1"],
      [{ notes: ["ok", "ok", "   "] }, "notes.2"],
      [{ notes: ["ok", "x".repeat(4001)] }, "notes.1"],
      [{ notes: Array.from({ length: 501 }, (_, i) => `n${i}`) }, "notes"],
      [{ notes: ["x".repeat(4000)].concat(Array.from({ length: 50 }, () => "y".repeat(4000))) }, "notes.50"],
      [{ notes: [], extra: true }, "extra"],
    ];
    for (const [body, param] of cases) {
      const res = await h.request("PUT", path(a.orgId, agentId, "/notes"), { cookie: a.cookie, body });
      expect(res.status, param).toBe(400);
      expect(res.body.error).toMatchObject({ type: "invalid_request_error", param });
    }
    const now = await h.request("GET", path(a.orgId, agentId), { cookie: a.cookie });
    expect(now.body.notes.map((n: { content: string }) => n.content)).toEqual(["survivor"]);
  });

  it("DELETE clears notes and history of that agent only", async () => {
    const agentId = await insertAgent(a.orgId);
    const other = await insertAgent(a.orgId);
    const db = h.services.db.kysely;
    await createMemoryStore(db, a.orgId, agentId).appendNote("gone");
    await createMemoryStore(db, a.orgId, agentId).appendHistory("conv_x", "gone too");
    await createMemoryStore(db, a.orgId, other).appendNote("stays");
    const res = await h.request("DELETE", path(a.orgId, agentId), { cookie: a.cookie });
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    expect((await h.request("GET", path(a.orgId, agentId), { cookie: a.cookie })).body).toEqual({ notes: [], history: [] });
    expect((await h.request("GET", path(a.orgId, other), { cookie: a.cookie })).body.notes[0].content).toBe("stays");
  });

  it("another org's owner session and admin key get 404 on every route, and nothing changes", async () => {
    const agentId = await insertAgent(a.orgId);
    await createMemoryStore(h.services.db.kysely, a.orgId, agentId).appendNote("private");
    const keyB = await h.createKey(b);
    const requests = [
      ["GET", path(a.orgId, agentId)],
      ["PUT", path(a.orgId, agentId, "/notes"), { notes: ["pwned"] }],
      ["DELETE", path(a.orgId, agentId)],
      // Org A's agent through org B's own path is unknown there too.
      ["GET", path(b.orgId, agentId)],
      ["PUT", path(b.orgId, agentId, "/notes"), { notes: ["pwned"] }],
      ["DELETE", path(b.orgId, agentId)],
    ] as const;
    for (const [method, url, body] of requests) {
      for (const cred of [{ cookie: b.cookie }, { key: keyB.key }]) {
        const res = await h.request(method, url, { ...cred, body });
        expect(res.status, `${method} ${url}`).toBe(404);
        expect(res.body.error.type).toBe("not_found_error");
      }
    }
    const unknown = await h.request("GET", path(a.orgId, "ag_doesnotexist"), { cookie: a.cookie });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.param).toBe("agentId");
    expect(
      (await h.request("GET", path(a.orgId, agentId), { cookie: a.cookie })).body.notes.map((n: { content: string }) => n.content),
    ).toEqual(["private"]);
  });

  it("members and read keys may read but not change; chat keys may not read; restricted keys see only their agents", async () => {
    const agentId = await insertAgent(a.orgId);
    const hidden = await insertAgent(a.orgId);
    const m = await h.signup();
    expect((await h.request("POST", `/v1/orgs/${a.orgId}/members`, { cookie: a.cookie, body: { email: m.email } })).status).toBe(201);
    const readKey = await h.createKey(a, { scopes: ["read"] });
    const chatKey = await h.createKey(a, { scopes: ["chat"] });
    const writeKey = await h.createKey(a, { scopes: ["write"], agentIds: [agentId] });

    for (const cred of [{ cookie: m.cookie }, { key: readKey.key }]) {
      expect((await h.request("GET", path(a.orgId, agentId), cred)).status).toBe(200);
      for (const [method, url, body] of [
        ["PUT", path(a.orgId, agentId, "/notes"), { notes: ["x"] }],
        ["DELETE", path(a.orgId, agentId)],
      ] as const) {
        const res = await h.request(method, url, { ...cred, body });
        expect(res.status, `${method} ${JSON.stringify(cred)}`).toBe(403);
        expect(res.body.error.type).toBe("permission_error");
      }
    }
    const chat = await h.request("GET", path(a.orgId, agentId), { key: chatKey.key });
    expect(chat.status).toBe(403);
    expect(chat.body.error.type).toBe("permission_error");

    const put = await h.request("PUT", path(a.orgId, agentId, "/notes"), { key: writeKey.key, body: { notes: ["by key"] } });
    expect(put.status).toBe(200);
    expect(put.body.notes[0].content).toBe("by key");
    for (const [method, url, body] of [
      ["GET", path(a.orgId, hidden)],
      ["PUT", path(a.orgId, hidden, "/notes"), { notes: ["x"] }],
      ["DELETE", path(a.orgId, hidden)],
    ] as const) {
      expect((await h.request(method, url, { key: writeKey.key, body })).status, method).toBe(404);
    }
    expect((await h.request("GET", path(a.orgId, agentId))).status).toBe(401);
  });
});
