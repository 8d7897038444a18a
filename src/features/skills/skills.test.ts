import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";
import { buildSystemPrompt } from "../../runtime/prompt";
import { builtinSkillId, loadBuiltinSkills } from "./builtin";
import { listAgentSkills, skillSummariesOfAgents } from "./repository";

const agentBody = { name: "Helper", systemPrompt: "You help.", model: "claude-sonnet-4-20250514" };
const skillBody = {
  name: "release-notes",
  description: "Write release notes from merged changes",
  content: "# Release notes\n\nGroup changes by type.",
  files: [{ name: "TEMPLATE.md", content: "## Added\n## Fixed" }],
};
const skillMd = `---
name: faq-answers
description: Answer from the FAQ
license: MIT
---

# FAQ answers

Look up the question in FAQ.md first.
`;

describe("built-in skills", () => {
  it("ships at least eight well-formed skills with stable ids", () => {
    const skills = loadBuiltinSkills();
    expect(skills.length).toBeGreaterThanOrEqual(8);
    const names = skills.map((s) => s.name);
    for (const name of [
      "web-research",
      "writing",
      "data-analysis",
      "customer-support",
      "code-review",
      "summarization",
      "meeting-notes",
      "translation",
    ]) {
      expect(names).toContain(name);
    }
    for (const skill of skills) {
      expect(skill.id).toBe(builtinSkillId(skill.name));
      expect(skill.description.length).toBeGreaterThan(20);
      const lines = skill.content.trim().split("\n").length;
      expect(lines, skill.name).toBeGreaterThanOrEqual(40);
      expect(lines, skill.name).toBeLessThanOrEqual(120);
      expect(skill.content.startsWith("---")).toBe(false);
    }
    expect(builtinSkillId("web-research")).toBe("skl_builtin_web_research");
  });
});

describe("skills", () => {
  let h: Harness;
  let a: Account;
  let b: Account;
  const post = (account: Account, body: unknown) => h.request("POST", `/v1/orgs/${account.orgId}/skills`, { cookie: account.cookie, body });
  const postMd = (account: Account, raw: string, contentType = "text/markdown") =>
    h.request("POST", `/v1/orgs/${account.orgId}/skills`, { cookie: account.cookie, raw, headers: { "content-type": contentType } });
  const createAgent = async (account: Account, name = "Helper") => {
    const res = await h.request("POST", `/v1/orgs/${account.orgId}/agents`, { cookie: account.cookie, body: { ...agentBody, name } });
    if (res.status !== 201) throw new Error(res.text);
    return res.body;
  };

  beforeAll(async () => {
    h = await createHarness();
    a = await h.signup({ orgName: "Org A" });
    b = await h.signup({ orgName: "Org B" });
    for (const org of [a, b]) await h.services.db.kysely.updateTable("orgs").set({ plan: "agency" }).where("id", "=", org.orgId).execute();
  });
  afterAll(() => h.close());

  it("lists built-ins (read-only) and the org's custom skills", async () => {
    const created = await post(a, skillBody);
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^skl_[A-Za-z0-9]{20}$/),
      ...skillBody,
      builtIn: false,
      createdAt: expect.any(String),
      updatedAt: created.body.createdAt,
    });
    const list = await h.request("GET", `/v1/orgs/${a.orgId}/skills`, { cookie: a.cookie });
    expect(list.status).toBe(200);
    const builtIns = list.body.data.filter((s: { builtIn: boolean }) => s.builtIn);
    expect(builtIns.length).toBeGreaterThanOrEqual(8);
    expect(builtIns.find((s: { id: string }) => s.id === "skl_builtin_web_research")).toMatchObject({ name: "web-research", files: [] });
    expect(list.body.data.filter((s: { builtIn: boolean }) => !s.builtIn)).toEqual([created.body]);
    // B sees the built-ins but not A's custom skill.
    const listB = await h.request("GET", `/v1/orgs/${b.orgId}/skills`, { cookie: b.cookie });
    expect(listB.body.data.every((s: { builtIn: boolean }) => s.builtIn)).toBe(true);

    const builtin = await h.request("GET", `/v1/orgs/${a.orgId}/skills/skl_builtin_writing`, { cookie: a.cookie });
    expect(builtin.body).toMatchObject({ id: "skl_builtin_writing", name: "writing", builtIn: true });
    for (const [method, body] of [["PATCH", { description: "mine now" }], ["DELETE"]] as const) {
      const res = await h.request(method, `/v1/orgs/${a.orgId}/skills/skl_builtin_writing`, { cookie: a.cookie, body });
      expect(res.status, method).toBe(403);
      expect(res.body.error.type).toBe("permission_error");
    }
    expect((await h.request("GET", `/v1/orgs/${a.orgId}/skills/skl_builtin_nope`, { cookie: a.cookie })).status).toBe(404);
    expect((await h.request("GET", `/v1/orgs/${a.orgId}/skills/${created.body.id}`, { cookie: a.cookie })).body).toEqual(created.body);
  });

  it("refuses invalid skills with a 400 naming the field, and duplicate names with 409", async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...skillBody, name: "Bad Name" }, "name"],
      [{ ...skillBody, name: "-dash" }, "name"],
      [{ ...skillBody, name: "x".repeat(65) }, "name"],
      [{ description: "d", content: "c" }, "name"],
      [{ name: "ok-name", content: "c" }, "description"],
      [{ name: "ok-name", description: "d", content: "" }, "content"],
      [{ name: "ok-name", description: "d", content: "x".repeat(100 * 1024 + 1) }, "content"],
      [{ ...skillBody, name: "ok-name", files: Array.from({ length: 21 }, (_, i) => ({ name: `f${i}.md`, content: "x" })) }, "files"],
      [{ ...skillBody, name: "ok-name", files: [{ name: "../etc/passwd", content: "x" }] }, "files.0.name"],
      [
        {
          ...skillBody,
          name: "ok-name",
          files: [
            { name: "A.md", content: "x" },
            { name: "A.md", content: "y" },
          ],
        },
        "files.1.name",
      ],
      [{ ...skillBody, name: "ok-name", builtIn: true }, "builtIn"],
    ];
    for (const [body, param] of cases) {
      const res = await post(a, body);
      expect(res.status, `${param}: ${res.text}`).toBe(400);
      expect(res.body.error.param).toBe(param);
    }
    await post(a, { ...skillBody, name: "dupe" });
    const dupe = await post(a, { ...skillBody, name: "dupe" });
    expect(dupe.status).toBe(409);
    expect(dupe.body.error).toMatchObject({ type: "conflict_error", param: "name" });
    expect((await post(a, { ...skillBody, name: "web-research" })).status).toBe(409);
    // Names are unique per org, not globally.
    expect((await post(b, { ...skillBody, name: "dupe" })).status).toBe(201);
  });

  it("accepts a SKILL.md upload as text/markdown, naming bad front matter fields", async () => {
    const res = await postMd(a, skillMd);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: "faq-answers", description: "Answer from the FAQ", builtIn: false, files: [] });
    expect(res.body.content).toBe("# FAQ answers\n\nLook up the question in FAQ.md first.");
    const cases: Array<[string, string]> = [
      ["# No front matter\n", "frontMatter"],
      ["---\nname: [unclosed\n---\nbody", "frontMatter"],
      ["---\n- a list\n---\nbody", "frontMatter"],
      ["---\ndescription: no name\n---\nbody", "name"],
      ["---\nname: Not A Slug\ndescription: d\n---\nbody", "name"],
      ["---\nname: 42\ndescription: d\n---\nbody", "name"],
      ["---\nname: no-description\n---\nbody", "description"],
      ["---\nname: empty-body\ndescription: d\n---\n", "content"],
    ];
    for (const [raw, param] of cases) {
      const bad = await postMd(a, raw);
      expect(bad.status, raw).toBe(400);
      expect(bad.body.error).toMatchObject({ type: "invalid_request_error", param });
    }
    expect((await postMd(a, skillMd.replace("faq-answers", "other"), "text/plain")).status).toBe(400);
  });

  it("PATCH updates custom skills partially, by JSON or SKILL.md", async () => {
    const skill = (await post(a, { ...skillBody, name: "patchable" })).body;
    const res = await h.request("PATCH", `/v1/orgs/${a.orgId}/skills/${skill.id}`, { cookie: a.cookie, body: { description: "New" } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...skill, description: "New", updatedAt: expect.any(String) });
    expect(Date.parse(res.body.updatedAt)).toBeGreaterThan(Date.parse(skill.updatedAt));
    const files = await h.request("PATCH", `/v1/orgs/${a.orgId}/skills/${skill.id}`, { cookie: a.cookie, body: { files: [] } });
    expect(files.body.files).toEqual([]);
    const md = await h.request("PATCH", `/v1/orgs/${a.orgId}/skills/${skill.id}`, {
      cookie: a.cookie,
      raw: "---\nname: patched\ndescription: From markdown\n---\nNew body\n",
      headers: { "content-type": "text/markdown" },
    });
    expect(md.status).toBe(200);
    expect(md.body).toMatchObject({ name: "patched", description: "From markdown", content: "New body" });
    for (const [body, param, status] of [
      [{ name: null }, "name", 400],
      [{ name: "Bad" }, "name", 400],
      [{ content: "" }, "content", 400],
      [{ id: "skl_x" }, "id", 400],
      [{ name: "dupe" }, "name", 409],
      [{ name: "writing" }, "name", 409],
    ] as const) {
      await post(a, { ...skillBody, name: "dupe" });
      const bad = await h.request("PATCH", `/v1/orgs/${a.orgId}/skills/${skill.id}`, { cookie: a.cookie, body });
      expect(bad.status, JSON.stringify(body)).toBe(status);
      expect(bad.body.error.param).toBe(param);
    }
    expect((await h.request("PATCH", `/v1/orgs/${a.orgId}/skills/skl_missing`, { cookie: a.cookie, body: {} })).status).toBe(404);
  });

  it("attaches skills idempotently, in a stable order, and detaches them", async () => {
    const agent = await createAgent(a);
    const custom = (await post(a, { ...skillBody, name: "attach-me" })).body;
    const base = `/v1/orgs/${a.orgId}/agents/${agent.id}/skills`;
    const first = await h.request("PUT", `${base}/skl_builtin_web_research`, { cookie: a.cookie });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ id: agent.id, skills: [{ id: "skl_builtin_web_research", name: "web-research", builtIn: true }] });
    const again = await h.request("PUT", `${base}/skl_builtin_web_research`, { cookie: a.cookie });
    expect(again.status).toBe(200);
    expect(again.body.skills).toHaveLength(1);
    await h.request("PUT", `${base}/${custom.id}`, { cookie: a.cookie });
    await h.request("PUT", `${base}/skl_builtin_writing`, { cookie: a.cookie });
    const got = await h.request("GET", `/v1/orgs/${a.orgId}/agents/${agent.id}`, { cookie: a.cookie });
    expect(got.body.skills).toEqual([
      { id: "skl_builtin_web_research", name: "web-research", description: expect.any(String), builtIn: true },
      { id: custom.id, name: "attach-me", description: skillBody.description, builtIn: false },
      { id: "skl_builtin_writing", name: "writing", description: expect.any(String), builtIn: true },
    ]);
    const listed = await h.request("GET", `/v1/orgs/${a.orgId}/agents`, { cookie: a.cookie });
    expect(listed.body.data.find((x: { id: string }) => x.id === agent.id).skills).toEqual(got.body.skills);

    // What the runtime reads: full content and files, same order.
    const forPrompt = await listAgentSkills(h.services.db.kysely, a.orgId, agent.id);
    expect(forPrompt.map((s) => s.name)).toEqual(["web-research", "attach-me", "writing"]);
    expect(forPrompt[1]).toEqual({
      id: custom.id,
      name: "attach-me",
      description: skillBody.description,
      content: skillBody.content,
      files: skillBody.files,
    });
    expect(forPrompt[0].content).toContain("# Web research");
    expect(await listAgentSkills(h.services.db.kysely, b.orgId, agent.id)).toEqual([]);
    const prompt = buildSystemPrompt(agentBody.systemPrompt, forPrompt);
    expect(prompt).toContain('<skill name="attach-me"');
    expect(prompt).toContain('<file name="TEMPLATE.md">');

    expect((await h.request("DELETE", `${base}/skl_builtin_web_research`, { cookie: a.cookie })).status).toBe(204);
    const gone = await h.request("DELETE", `${base}/skl_builtin_web_research`, { cookie: a.cookie });
    expect(gone.status).toBe(404);
    expect(gone.body.error.param).toBe("skillId");
    for (const skillId of ["skl_missing", "skl_builtin_nope"]) {
      const res = await h.request("PUT", `${base}/${skillId}`, { cookie: a.cookie });
      expect(res.status).toBe(404);
      expect(res.body.error.param).toBe("skillId");
    }
    const noAgent = await h.request("PUT", `/v1/orgs/${a.orgId}/agents/ag_missing/skills/skl_builtin_writing`, { cookie: a.cookie });
    expect(noAgent.status).toBe(404);
    expect(noAgent.body.error.param).toBe("agentId");
  });

  it("deleting a custom skill detaches it from every agent", async () => {
    const skill = (await post(a, { ...skillBody, name: "short-lived" })).body;
    const agents = [await createAgent(a, "One"), await createAgent(a, "Two")];
    for (const agent of agents) {
      await h.request("PUT", `/v1/orgs/${a.orgId}/agents/${agent.id}/skills/${skill.id}`, { cookie: a.cookie });
      await h.request("PUT", `/v1/orgs/${a.orgId}/agents/${agent.id}/skills/skl_builtin_summarization`, { cookie: a.cookie });
    }
    expect((await h.request("DELETE", `/v1/orgs/${a.orgId}/skills/${skill.id}`, { cookie: a.cookie })).status).toBe(204);
    const links = await h.services.db.kysely.selectFrom("agent_skills").select("agent_id").where("skill_id", "=", skill.id).execute();
    expect(links).toEqual([]);
    for (const agent of agents) {
      const got = await h.request("GET", `/v1/orgs/${a.orgId}/agents/${agent.id}`, { cookie: a.cookie });
      expect(got.body.skills.map((s: { name: string }) => s.name)).toEqual(["summarization"]);
    }
    const again = await h.request("DELETE", `/v1/orgs/${a.orgId}/skills/${skill.id}`, { cookie: a.cookie });
    expect(again.status).toBe(404);
    expect((await h.request("GET", `/v1/orgs/${a.orgId}/skills/${skill.id}`, { cookie: a.cookie })).status).toBe(404);
  });

  it("a page of agents carries each agent's own skills, at every page size, never another org's", async () => {
    const x = await createAgent(a, "Page X");
    const y = await createAgent(a, "Page Y");
    const other = await createAgent(b, "Other org");
    for (const [account, agent, skill] of [
      [a, x, "skl_builtin_writing"],
      [a, y, "skl_builtin_translation"],
      [b, other, "skl_builtin_code_review"],
    ] as const) {
      const put = await h.request("PUT", `/v1/orgs/${account.orgId}/agents/${agent.id}/skills/${skill}`, { cookie: account.cookie });
      expect(put.status).toBe(200);
    }
    const names = (skills: Array<{ name: string }>) => skills.map((s) => s.name);
    // Two pages of different sizes (two prepared statements), then the first size again.
    for (const limit of [2, 3, 2]) {
      const page = await h.request("GET", `/v1/orgs/${a.orgId}/agents?limit=${limit}`, { cookie: a.cookie });
      expect(page.status).toBe(200);
      const byId = new Map(page.body.data.map((agent: { id: string; skills: Array<{ name: string }> }) => [agent.id, names(agent.skills)]));
      expect(byId.get(y.id)).toEqual(["translation"]);
      if (limit > 1) expect(byId.get(x.id)).toEqual(["writing"]);
    }
    // The repository with another org's agent among the ids, and with more ids than are prepared.
    const ids = [x.id, y.id, other.id, ...Array.from({ length: 120 }, (_, i) => `agt_missing${i}`)];
    for (const some of [ids.slice(0, 3), ids]) {
      const got = await skillSummariesOfAgents(h.services.db.kysely, a.orgId, some);
      expect(got.size).toBe(some.length);
      expect(names(got.get(x.id) ?? [])).toEqual(["writing"]);
      expect(names(got.get(y.id) ?? [])).toEqual(["translation"]);
      expect(got.get(other.id)).toEqual([]);
    }
  });

  it("another org's owner session and admin key get 404 on every skill route", async () => {
    const skill = (await post(a, { ...skillBody, name: "private" })).body;
    const agent = await createAgent(a);
    await h.request("PUT", `/v1/orgs/${a.orgId}/agents/${agent.id}/skills/${skill.id}`, { cookie: a.cookie });
    const agentB = await createAgent(b);
    const keyB = await h.createKey(b, { scopes: ["admin"] });
    const routes = [
      ["GET", `/v1/orgs/${a.orgId}/skills`],
      ["POST", `/v1/orgs/${a.orgId}/skills`, { ...skillBody, name: "intruder" }],
      ["GET", `/v1/orgs/${a.orgId}/skills/${skill.id}`],
      ["PATCH", `/v1/orgs/${a.orgId}/skills/${skill.id}`, { description: "pwned" }],
      ["DELETE", `/v1/orgs/${a.orgId}/skills/${skill.id}`],
      ["PUT", `/v1/orgs/${a.orgId}/agents/${agent.id}/skills/skl_builtin_writing`],
      ["DELETE", `/v1/orgs/${a.orgId}/agents/${agent.id}/skills/${skill.id}`],
      // A's ids under B's own org path.
      ["GET", `/v1/orgs/${b.orgId}/skills/${skill.id}`],
      ["PATCH", `/v1/orgs/${b.orgId}/skills/${skill.id}`, { description: "pwned" }],
      ["DELETE", `/v1/orgs/${b.orgId}/skills/${skill.id}`],
      ["PUT", `/v1/orgs/${b.orgId}/agents/${agentB.id}/skills/${skill.id}`],
      ["PUT", `/v1/orgs/${b.orgId}/agents/${agent.id}/skills/skl_builtin_writing`],
      ["DELETE", `/v1/orgs/${b.orgId}/agents/${agent.id}/skills/${skill.id}`],
    ] as const;
    for (const [method, path, body] of routes) {
      for (const cred of [{ cookie: b.cookie }, { key: keyB.key }]) {
        const res = await h.request(method, path, { ...cred, body });
        expect(res.status, `${method} ${path}`).toBe(404);
        expect(res.body.error.type).toBe("not_found_error");
      }
    }
    expect((await h.request("GET", `/v1/orgs/${a.orgId}/skills/${skill.id}`, { cookie: a.cookie })).body.description).toBe(
      skillBody.description,
    );
    const agentA = await h.request("GET", `/v1/orgs/${a.orgId}/agents/${agent.id}`, { cookie: a.cookie });
    expect(agentA.body.skills.map((s: { id: string }) => s.id)).toEqual([skill.id]);
  });

  it("applies roles and key scopes, and agent restrictions to attachments", async () => {
    const skill = (await post(a, { ...skillBody, name: "perm-test" })).body;
    const mine = await createAgent(a, "Mine");
    const other = await createAgent(a, "Other");
    const m = await h.signup();
    await h.request("POST", `/v1/orgs/${a.orgId}/members`, { cookie: a.cookie, body: { email: m.email } });
    const readKey = await h.createKey(a, { scopes: ["read"] });
    const chatKey = await h.createKey(a, { scopes: ["chat"] });
    const restricted = await h.createKey(a, { scopes: ["write"], agentIds: [mine.id] });
    const skills = `/v1/orgs/${a.orgId}/skills`;
    const writes = [
      ["POST", skills, { ...skillBody, name: "nope" }],
      ["PATCH", `${skills}/${skill.id}`, { description: "x" }],
      ["DELETE", `${skills}/${skill.id}`],
      ["PUT", `/v1/orgs/${a.orgId}/agents/${mine.id}/skills/${skill.id}`],
      ["DELETE", `/v1/orgs/${a.orgId}/agents/${mine.id}/skills/${skill.id}`],
    ] as const;
    for (const cred of [{ cookie: m.cookie }, { key: readKey.key }, { key: chatKey.key }]) {
      expect((await h.request("GET", skills, cred)).status).toBe(cred.key === chatKey.key ? 403 : 200);
      for (const [method, path, body] of writes) {
        const res = await h.request(method, path, { ...cred, body });
        expect(res.status, `${method} ${path}`).toBe(403);
        expect(res.body.error.type).toBe("permission_error");
      }
    }
    // A key restricted to some agents reads skills and attaches them to its agents only.
    expect((await h.request("GET", `${skills}/${skill.id}`, { key: restricted.key })).status).toBe(200);
    expect((await h.request("POST", skills, { key: restricted.key, body: { ...skillBody, name: "nope" } })).status).toBe(403);
    expect((await h.request("DELETE", `${skills}/${skill.id}`, { key: restricted.key })).status).toBe(403);
    expect((await h.request("PUT", `/v1/orgs/${a.orgId}/agents/${mine.id}/skills/${skill.id}`, { key: restricted.key })).status).toBe(200);
    expect((await h.request("PUT", `/v1/orgs/${a.orgId}/agents/${other.id}/skills/${skill.id}`, { key: restricted.key })).status).toBe(404);
    expect((await h.request("DELETE", `/v1/orgs/${a.orgId}/agents/${mine.id}/skills/${skill.id}`, { key: restricted.key })).status).toBe(
      204,
    );
    const writeKey = await h.createKey(a, { scopes: ["write"] });
    expect((await h.request("POST", skills, { key: writeKey.key, body: { ...skillBody, name: "by-key" } })).status).toBe(201);
    expect((await h.request("GET", skills)).status).toBe(401);
  });

  it("documents the skill endpoints in /openapi.json, with both body media types", async () => {
    const doc = (await h.request("GET", "/openapi.json")).body;
    expect(Object.keys(doc.paths["/v1/orgs/{orgId}/skills"]).sort()).toEqual(["get", "post"]);
    expect(Object.keys(doc.paths["/v1/orgs/{orgId}/skills/{skillId}"]).sort()).toEqual(["delete", "get", "patch"]);
    expect(Object.keys(doc.paths["/v1/orgs/{orgId}/agents/{agentId}/skills/{skillId}"]).sort()).toEqual(["delete", "put"]);
    expect(Object.keys(doc.paths["/v1/orgs/{orgId}/skills"].post.requestBody.content).sort()).toEqual([
      "application/json",
      "text/markdown",
    ]);
  });
});
