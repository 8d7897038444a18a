/**
 * Tenant isolation matrix, generated from /openapi.json: every route under /v1/orgs/{orgId} and
 * /v1/agent/{agentId}, called by four principals of org B with org A's ids, answers 404; A's
 * rows are byte-for-byte unchanged afterwards, and no 2xx answer carries one of A's ids.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type OrgWorld,
  type Operation,
  type SecurityEnv,
  buildWorld,
  findLeaks,
  isEnvelope,
  loadOperations,
  sampleOf,
  snapshotOrg,
  startSecurityEnv,
} from "./support";

let env: SecurityEnv;
let a: OrgWorld;
let b: OrgWorld;
let ops: Operation[];
let before: Record<string, string[]>;
/** A's ids of path parameters this suite does not know by name (routes added after it was written). */
const discovered: Record<string, string> = {};

type Auth = { cookie?: string; key?: string };

beforeAll(async () => {
  env = await startSecurityEnv();
  env.model.setFallback(() => ({ text: "fine" }));
  a = await buildWorld(env, "Alpha");
  b = await buildWorld(env, "Beta");
  ops = (await loadOperations(env)).filter((op) => op.pathParams.includes("orgId") || op.pathParams.includes("agentId"));
  await discoverIds();
  before = await snapshotOrg(env, a.orgId);
}, 60_000);

afterAll(async () => {
  await env?.close();
});

/** The principals of org B that attack A. */
const principals = (): Array<[string, Auth]> => [
  ["B owner session", { cookie: b.owner.cookie }],
  ["B admin key", { key: b.adminKey.key }],
  ["B chat key", { key: b.chatKey.key }],
  ["B agent-restricted key", { key: b.restrictedKey.key }],
];

/**
 * For a path parameter of a newer route, finds (or creates) one of A's objects: GET the parent
 * collection as A's owner, POST a sample body there when it is empty, take `data[0].id`.
 */
async function discoverIds(): Promise<void> {
  const known = new Set(Object.keys(idsOf(a)));
  for (const op of ops) {
    const params = op.pathParams.filter((p) => !known.has(p) && !discovered[p]);
    for (const param of params) {
      const collection = op.path.slice(0, op.path.indexOf(`/{${param}}`));
      const url = collection.replace(/\{(\w+)\}/g, (_, name) => idsOf(a)[name] ?? discovered[name] ?? name);
      const auth = { cookie: a.owner.cookie };
      let list = await env.call("GET", url, auth);
      const create = ops.find((o) => o.method === "POST" && o.path === collection);
      if (list.status === 200 && list.body?.data?.length === 0 && create) {
        const made = await env.call("POST", url, { ...auth, body: sampleOf(create.body) });
        if (made.status !== 201) console.log(`isolation: could not create a ${param} object (${made.status} ${made.text.slice(0, 200)})`);
        list = await env.call("GET", url, auth);
      }
      discovered[param] = list.body?.data?.[0]?.id ?? `unknown_${param}`;
    }
  }
}

/** A's id of each path parameter. */
const idsOf = (w: OrgWorld): Record<string, string> => ({
  ...(w === a ? discovered : {}),
  orgId: w.orgId,
  agentId: w.agentId,
  skillId: w.skillId,
  keyId: w.adminKey.id,
  userId: w.memberUserId,
  conversationId: w.conversationId,
});

function urlOf(op: Operation, ids: Record<string, string>): string {
  let url = op.path;
  for (const name of op.pathParams) {
    if (!ids[name]) throw new Error(`no id for path parameter ${name} of ${op.method} ${op.path}: extend idsOf()`);
    url = url.replace(`{${name}}`, encodeURIComponent(ids[name]));
  }
  const query = op.query
    .filter((q) => q.required)
    .map((q) => `${q.name}=${encodeURIComponent(q.name === "path" ? "notes.md" : String(sampleOf(q.schema, q.name)))}`);
  return query.length ? `${url}?${query.join("&")}` : url;
}

/** Body of an operation that would be valid, so only authorization can refuse it. */
const bodyOf = (op: Operation) => (op.body ? sampleOf(op.body) : undefined);

let requests = 0;
const failures: string[] = [];
beforeEach(() => {
  failures.length = 0;
});

async function expectStatus(label: string, op: Operation, url: string, auth: Auth, allowed: number[]): Promise<void> {
  requests++;
  const res = await env.call(op.method, url, { ...auth, body: bodyOf(op) });
  if (!allowed.includes(res.status) || !isEnvelope(res.body)) {
    failures.push(`${label}: ${op.method} ${url} -> ${res.status} ${res.text.slice(0, 160)}`);
  }
}

describe("tenant isolation matrix", () => {
  it("covers every org and agent route of the OpenAPI document", () => {
    expect(ops.length).toBeGreaterThan(30);
    expect(ops.some((op) => op.path === "/v1/agent/{agentId}/chat")).toBe(true);
    // Routes added after the suite was written are picked up, their ids discovered from A's collections.
    expect(ops.some((op) => op.path === "/v1/orgs/{orgId}/runs/{runId}/events")).toBe(true);
    expect(discovered.runId).toMatch(/^run_/);
  });

  it("answers 404 to org B's principals for every route with org A's ids", async () => {
    const foreign = idsOf(a);
    for (const [who, auth] of principals()) {
      for (const op of ops) await expectStatus(`${who} (A's org)`, op, urlOf(op, foreign), auth, [404]);
    }
    expect(failures).toEqual([]);
  });

  it("answers 404 (or 403 where the role refuses first) when A's ids are used inside B's own org", async () => {
    const mixed = { ...idsOf(a), orgId: b.orgId };
    const withIds = ops.filter((op) => op.pathParams.some((p) => p !== "orgId"));
    for (const [who, auth] of principals()) {
      for (const op of withIds) {
        // Only the owner may do everything; others may be refused by role first (403 reveals nothing).
        const strict = who === "B owner session";
        await expectStatus(`${who} (B's org, A's ids)`, op, urlOf(op, mixed), auth, strict ? [404] : [403, 404]);
      }
    }
    expect(failures).toEqual([]);
  });

  it("keeps an agent-restricted key away from its own org's other agents", async () => {
    // Ids the world of B lacks (objects under the agent, e.g. schedules) are A's: the agent check refuses first either way.
    const own = { ...discovered, ...idsOf(b), conversationId: b.conversationId };
    for (const op of ops.filter((o) => o.pathParams.includes("agentId"))) {
      await expectStatus("B restricted key on B's other agent", op, urlOf(op, own), { key: b.restrictedKey.key }, [404]);
    }
    expect(failures).toEqual([]);
  });

  it("refuses ids of one type in another's place, and ids of deleted objects, even to the owner", async () => {
    const own = idsOf(a);
    const wrongType: Record<string, string[]> = {
      agentId: [a.skillId, a.conversationId, a.runId, a.usageId, a.deleted.agentId, b.agentId],
      skillId: [a.agentId, a.adminKey.id, a.deleted.skillId, b.skillId],
      keyId: [a.agentId, a.memberUserId, a.deleted.keyId, b.adminKey.id],
      userId: [a.agentId, a.adminKey.id, b.owner.userId],
      conversationId: [a.runId, a.agentId, a.deleted.conversationId, b.conversationId],
    };
    for (const op of ops) {
      for (const param of op.pathParams.filter((p) => p !== "orgId")) {
        for (const id of wrongType[param] ?? []) {
          await expectStatus(`A owner, ${param}=${id}`, op, urlOf(op, { ...own, [param]: id }), { cookie: a.owner.cookie }, [404]);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it("refuses a chat that names another org's conversation", async () => {
    const res = await env.call("POST", `/v1/agent/${b.agentId}/chat`, {
      key: b.adminKey.key,
      body: { message: "continue", conversationId: a.conversationId, stream: false },
    });
    requests++;
    expect(res.status).toBe(404);
    expect(res.body.error.type).toBe("not_found_error");
  });

  it("filters usage by agentId inside the caller's org only", async () => {
    const res = await env.call("GET", `/v1/orgs/${b.orgId}/usage?agentId=${a.agentId}`, { key: b.adminKey.key });
    requests++;
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual([]);
  });

  it("left org A's rows unchanged and put none of A's ids in a successful answer", async () => {
    expect(await snapshotOrg(env, a.orgId)).toEqual(before);
    const aIds = [
      a.orgId,
      a.agentId,
      a.otherAgentId,
      a.skillId,
      a.conversationId,
      a.runId,
      a.usageId,
      a.adminKey.id,
      a.chatKey.id,
      a.restrictedKey.id,
    ];
    const leaking = env.transcript.slice(-requests).filter((t) => /^2/.test(t) && aIds.some((id) => t.includes(id)));
    expect(leaking).toEqual([]);
    expect(findLeaks(env)).toEqual([]);
    const routes = ops.length;
    console.log(
      `isolation matrix: ${requests} requests, routes x principals = ${routes} x ${principals().length} (+ B-org/foreign-id, restricted-key, wrong-type and deleted-id variants), A's ${Object.values(before).flat().length} rows unchanged; discovered ids: ${JSON.stringify(discovered)}`,
    );
  });
});

describe("the OpenAPI document", () => {
  it("declares every status this suite was answered (src/http/routes.ts derives them; see support.ts)", () => {
    expect([...new Set(env.undeclared)]).toEqual([]);
  });
});
