/**
 * Shared wiring of the security suites: a gateway on a fresh database with recognisable
 * provider/Stripe secrets, a request wrapper that records every answer (for the leak scan), an
 * org populated with one of everything, the OpenAPI operations, and database snapshots.
 */
import { appTables } from "../helpers/tables";
import { createHash } from "node:crypto";
import { startFakeAnthropic } from "../fakes/anthropic";
import type { FakeModelServer } from "../fakes/model-script";
import { type FakeStripe, startFakeStripe } from "../fakes/stripe";
import { type Account, type Harness, type RequestOptions, type TestResponse, createHarness } from "../helpers/harness";

export const SONNET = "claude-sonnet-4-20250514";
export const PASSWORD = "correct horse battery";

/** Recognisable secrets: none of them may ever appear in a response or a log line. */
export const SECRETS = {
  anthropic: "sk-ant-api03-SECSUITEanthropicProviderKey0000000000",
  stripe: "sk_test_SECSUITEstripeSecretKey000000000000",
  webhook: "whsec_SECSUITEstripeWebhookSecret0000000000",
  /** OPENPAW_SECRET_KEY (32 bytes, base64). */
  secretKey: Buffer.from("SECSUITE-org-secrets-master-key!").toString("base64"),
};

export interface SecurityEnv {
  h: Harness;
  model: FakeModelServer;
  stripe: FakeStripe;
  /** Every response (status line, headers but Set-Cookie, body) seen through `call`. */
  transcript: string[];
  /** Values that must never be echoed: keys, key hashes, session tokens, passwords, provider secrets. */
  secrets: Set<string>;
  /** `h.request` with a per-request timeout, recording the answer and any credential it hands out. */
  call(method: string, path: string, options?: RequestOptions, timeoutMs?: number): Promise<TestResponse>;
  /** Signs up a user (with its own org) through `call`. */
  signup(orgName?: string): Promise<Account>;
  /** Creates a key through `call` as `account`'s session. */
  createKey(account: Account, body?: Record<string, unknown>): Promise<{ id: string; key: string }>;
  /**
   * Answers through `call` whose status the document does not declare for that operation
   * (`METHOD /path -> status`), once `loadOperations` has read the document: the drift check of
   * src/http/routes.ts, run on every request of every suite that uses this env.
   */
  undeclared: string[];
  close(): Promise<void>;
}

let signupCounter = 0;

/** Starts a gateway with a fake Anthropic and a fake Stripe, secrets set recognisably. */
export async function startSecurityEnv(env: Record<string, string> = {}): Promise<SecurityEnv> {
  const model = await startFakeAnthropic();
  const stripe = await startFakeStripe(SECRETS.stripe);
  const h = await createHarness({
    ANTHROPIC_API_KEY: SECRETS.anthropic,
    ANTHROPIC_BASE_URL: model.url,
    STRIPE_SECRET_KEY: SECRETS.stripe,
    STRIPE_WEBHOOK_SECRET: SECRETS.webhook,
    STRIPE_API_BASE: stripe.url,
    OPENPAW_SECRET_KEY: SECRETS.secretKey,
    STRIPE_PRICE_PRO: "price_pro",
    STRIPE_PRICE_AGENCY: "price_agency",
    // Domain verification asks a port nobody answers on: no external DNS traffic from tests.
    OPENPAW_DNS_SERVERS: "127.0.0.1:9",
    ...env,
  });
  const transcript: string[] = [];
  const secrets = new Set<string>([...Object.values(SECRETS), PASSWORD]);
  const undeclared: string[] = [];
  const checkDeclared = (method: string, path: string, status: number) => {
    // The most specific operation whose template matches (`/skills/import` before `/skills/{skillId}`).
    const op = (declaredOf.get(env_) ?? [])
      .filter((o) => o.method === method && o.pattern.test(path.split("?")[0]))
      .sort((x, y) => x.path.split("{").length - y.path.split("{").length)[0];
    if (op && !op.statuses.includes(String(status))) undeclared.push(`${method} ${op.path} -> ${status}`);
  };

  const call: SecurityEnv["call"] = async (method, path, options = {}, timeoutMs = 10_000) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timeout after ${timeoutMs} ms: ${method} ${path}`)), timeoutMs);
    });
    const res = await Promise.race([h.request(method, path, options), timeout]).finally(() => clearTimeout(timer));
    checkDeclared(method, path, res.status);
    const headers = [...res.headers].filter(([name]) => name !== "set-cookie").map(([n, v]) => `${n}: ${v}`);
    const keyCreated = method === "POST" && /\/api-keys$/.test(path) && res.status === 201 && typeof res.body?.key === "string";
    if (keyCreated) {
      // The one legitimate place a full key appears; it joins the secrets instead.
      secrets.add(res.body.key);
      secrets.add(sha256(res.body.key));
      transcript.push(`${res.status} ${headers.join("\n")}`);
    } else transcript.push(`${res.status} ${headers.join("\n")}\n${res.text}`);
    const token = /openpaw_session=([^;]+)/.exec(res.headers.get("set-cookie") ?? "")?.[1];
    if (token) {
      secrets.add(token);
      secrets.add(sha256(token));
    }
    return res;
  };

  const env_: SecurityEnv = {
    h,
    model,
    stripe,
    transcript,
    secrets,
    call,
    undeclared,
    async signup(orgName = "Org") {
      const email = `sec${++signupCounter}_${Math.random().toString(36).slice(2, 8)}@example.com`;
      const res = await call("POST", "/v1/auth/signup", { body: { email, password: PASSWORD, orgName } });
      if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${res.text}`);
      const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0];
      return { cookie, userId: res.body.user.id, orgId: res.body.org.id, email };
    },
    async createKey(account, body = { scopes: ["admin"] }) {
      const res = await call("POST", `/v1/orgs/${account.orgId}/api-keys`, { cookie: account.cookie, body });
      if (res.status !== 201) throw new Error(`createKey failed: ${res.status} ${res.text}`);
      return { id: res.body.id, key: res.body.key };
    },
    async close() {
      await h.close();
      await model.close();
      await stripe.close();
    },
  };
  return env_;
}

export const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** Every secret found in the transcript or the logs, with where (empty = no leak). */
export function findLeaks(env: SecurityEnv): string[] {
  const found: string[] = [];
  const haystacks: Array<[string, string[]]> = [
    ["response", env.transcript],
    ["log", env.h.logs],
  ];
  for (const secret of env.secrets) {
    for (const [where, texts] of haystacks) {
      const hit = texts.find((t) => t.includes(secret));
      if (hit) found.push(`${where} contains ${secret.slice(0, 10)}…: ${hit.slice(0, 200)}`);
    }
  }
  return found;
}

/** One org with one of everything, and the ids of it. */
export interface OrgWorld {
  owner: Account;
  member: Account;
  admin: Account;
  orgId: string;
  agentId: string;
  otherAgentId: string;
  skillId: string;
  conversationId: string;
  runId: string;
  usageId: string;
  adminKey: { id: string; key: string };
  chatKey: { id: string; key: string };
  restrictedKey: { id: string; key: string };
  /** A member-role user of the org (the owner added it). */
  memberUserId: string;
  domainId: string | null;
  /** Ids of objects created and deleted again. */
  deleted: { agentId: string; skillId: string; keyId: string; conversationId: string };
}

const must = (res: TestResponse, status: number, what: string): TestResponse => {
  if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status} ${res.text.slice(0, 300)}`);
  return res;
};

/** Creates an org populated with one of everything through the API (the fake model answers chats). */
export async function buildWorld(env: SecurityEnv, name: string): Promise<OrgWorld> {
  const { call } = env;
  const owner = await env.signup(name);
  const cookie = owner.cookie;
  const o = owner.orgId;
  const agentBody = {
    name: `${name} agent`,
    systemPrompt: "You help.",
    model: SONNET,
    enabledTools: ["memory_read", "memory_write", "read_url"],
  };
  const agentId = must(await call("POST", `/v1/orgs/${o}/agents`, { cookie, body: agentBody }), 201, "agent").body.id;
  const otherAgentId = must(await call("POST", `/v1/orgs/${o}/agents`, { cookie, body: { ...agentBody, name: "second" } }), 201, "agent 2")
    .body.id;
  const skillBody = { name: `${name.toLowerCase()}-skill`, description: "A custom skill", content: "# Skill\nDo things well." };
  const skillId = must(await call("POST", `/v1/orgs/${o}/skills`, { cookie, body: skillBody }), 201, "skill").body.id;
  must(await call("PUT", `/v1/orgs/${o}/agents/${agentId}/skills/${skillId}`, { cookie }), 200, "attach");
  must(await call("PUT", `/v1/orgs/${o}/agents/${agentId}/memory/notes`, { cookie, body: { notes: [`${name} note`] } }), 200, "notes");
  const chat = must(await call("POST", `/v1/agent/${agentId}/chat`, { cookie, body: { message: "hello", stream: false } }), 200, "chat");
  const { conversationId, runId } = chat.body;
  const adminKey = await env.createKey(owner, { scopes: ["admin"], name: "admin" });
  const chatKey = await env.createKey(owner, { scopes: ["chat"], name: "chat" });
  const restrictedKey = await env.createKey(owner, { scopes: ["read", "write", "chat"], agentIds: [otherAgentId], name: "restricted" });
  const memberAccount = await env.signup(`${name} member home`);
  must(await call("POST", `/v1/orgs/${o}/members`, { cookie, body: { email: memberAccount.email, role: "member" } }), 201, "member");
  const adminAccount = await env.signup(`${name} admin home`);
  must(await call("POST", `/v1/orgs/${o}/members`, { cookie, body: { email: adminAccount.email, role: "admin" } }), 201, "admin");
  const domain = await call("PUT", `/v1/orgs/${o}/custom-domain`, {
    cookie,
    body: { domain: `api.${name.toLowerCase()}-${o.slice(-6).toLowerCase()}.example.com` },
  });
  const usage = must(await call("GET", `/v1/orgs/${o}/usage`, { cookie }), 200, "usage");

  // Deleted objects: their ids must stay dead.
  const goneAgent = must(await call("POST", `/v1/orgs/${o}/agents`, { cookie, body: { ...agentBody, name: "gone" } }), 201, "agent 3").body
    .id;
  const goneChat = must(
    await call("POST", `/v1/agent/${goneAgent}/chat`, { cookie, body: { message: "hi", stream: false } }),
    200,
    "chat 2",
  );
  const goneConversation = must(
    await call("POST", `/v1/agent/${agentId}/chat`, { cookie, body: { message: "bye", stream: false } }),
    200,
    "chat 3",
  ).body.conversationId;
  must(await call("DELETE", `/v1/orgs/${o}/agents/${agentId}/conversations/${goneConversation}`, { cookie }), 204, "delete conv");
  must(await call("DELETE", `/v1/orgs/${o}/agents/${goneAgent}`, { cookie }), 204, "delete agent");
  const goneSkill = must(
    await call("POST", `/v1/orgs/${o}/skills`, { cookie, body: { ...skillBody, name: `${skillBody.name}-gone` } }),
    201,
    "skill 2",
  ).body.id;
  must(await call("DELETE", `/v1/orgs/${o}/skills/${goneSkill}`, { cookie }), 204, "delete skill");
  const goneKey = await env.createKey(owner, { scopes: ["read"] });
  must(await call("DELETE", `/v1/orgs/${o}/api-keys/${goneKey.id}`, { cookie }), 204, "revoke");
  void goneChat;

  return {
    owner,
    member: memberAccount,
    admin: adminAccount,
    orgId: o,
    agentId,
    otherAgentId,
    skillId,
    conversationId,
    runId,
    usageId: usage.body.data[0].id,
    adminKey,
    chatKey,
    restrictedKey,
    memberUserId: memberAccount.userId,
    domainId: domain.status === 200 ? domain.body.id : null,
    deleted: { agentId: goneAgent, skillId: goneSkill, keyId: goneKey.id, conversationId: goneConversation },
  };
}

/** One documented operation of /openapi.json. */
export interface Operation {
  method: string;
  path: string;
  pathParams: string[];
  query: Array<{ name: string; required: boolean; schema: any }>;
  /** JSON body schema (refs resolved), when the operation takes JSON. */
  body: any | null;
  bodyRequired: boolean;
  /** Media types the request body may have (application/json, text/markdown, ...). */
  mediaTypes: string[];
  /** The operation takes an API key only (its `security` names no session): a session cookie is 401 there. */
  keyOnly: boolean;
}

/** Per env, each operation's path as a pattern and the statuses its responses declare. */
const declaredOf = new WeakMap<SecurityEnv, Array<{ method: string; path: string; pattern: RegExp; statuses: string[] }>>();

/** Reads every operation from the gateway's own OpenAPI document (and from then on checks answers against it). */
export async function loadOperations(env: SecurityEnv): Promise<Operation[]> {
  const doc = (await env.h.request("GET", "/openapi.json")).body;
  declaredOf.set(
    env,
    Object.entries<any>(doc.paths).flatMap(([path, ops]) =>
      Object.entries<any>(ops).map(([method, op]) => ({
        method: method.toUpperCase(),
        path,
        pattern: new RegExp(`^${path.replace(/\{\w+\}/g, "[^/]+")}$`),
        statuses: Object.keys(op.responses ?? {}),
      })),
    ),
  );
  const resolve = (schema: any): any => {
    if (!schema || typeof schema !== "object") return schema;
    if (schema.$ref) return resolve(doc.components.schemas[schema.$ref.split("/").pop()]);
    if (Array.isArray(schema)) return schema.map(resolve);
    return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, resolve(v)]));
  };
  const out: Operation[] = [];
  for (const [path, ops] of Object.entries<any>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(ops)) {
      const params = (op.parameters ?? []) as any[];
      const json = op.requestBody?.content?.["application/json"]?.schema;
      out.push({
        method: method.toUpperCase(),
        path,
        pathParams: params.filter((p) => p.in === "path").map((p) => p.name),
        query: params.filter((p) => p.in === "query").map((p) => ({ name: p.name, required: !!p.required, schema: resolve(p.schema) })),
        body: json ? resolve(json) : null,
        bodyRequired: !!op.requestBody?.required,
        mediaTypes: Object.keys(op.requestBody?.content ?? {}),
        keyOnly: Array.isArray(op.security) && op.security.length > 0 && op.security.every((s: object) => !("session" in s)),
      });
    }
  }
  return out;
}

/** A valid instance of a JSON schema (examples first, then the simplest value that passes); `all` fills optional properties too. */
export function sampleOf(schema: any, key = "", all = false): any {
  if (!schema) return undefined;
  if (schema.example !== undefined) return schema.example;
  if (schema.enum) return schema.enum[0];
  if (schema.default !== undefined && typeof schema.default !== "object") return schema.default;
  const anyOf = schema.anyOf ?? schema.oneOf;
  if (anyOf) return sampleOf(anyOf.find((s: any) => s.type !== "null") ?? anyOf[0], key);
  const type = Array.isArray(schema.type) ? schema.type.find((t: string) => t !== "null") : schema.type;
  switch (type) {
    case "object": {
      const out: Record<string, unknown> = {};
      for (const [k, s] of Object.entries<any>(schema.properties ?? {})) {
        if (all || (schema.required ?? []).includes(k)) out[k] = sampleOf(s, k);
      }
      return out;
    }
    case "array":
      return Array.from({ length: schema.minItems ?? 0 }, () => sampleOf(schema.items, key));
    case "integer":
    case "number":
      return schema.minimum ?? 1;
    case "boolean":
      return false;
    case "string":
      if (schema.format === "uri") return "https://example.com/return";
      if (schema.format === "date-time") return new Date(Date.now() + 86_400_000).toISOString();
      if (schema.pattern) return "valid-name";
      if (/url$/i.test(key)) return "https://example.com/hook";
      if (/email/i.test(key)) return "someone@example.com";
      if (/password/i.test(key)) return "a-long-enough-password";
      return "x".repeat(Math.max(1, schema.minLength ?? 1));
    default:
      return "x";
  }
}

/** Rows of every table that belong to `orgId` (by org_id, or the org row itself), as sorted JSON. */
export async function snapshotOrg(env: SecurityEnv, orgId: string): Promise<Record<string, string[]>> {
  const db = env.h.services.db.kysely;
  const tables = await appTables(db);
  const out: Record<string, string[]> = {};
  for (const table of tables) {
    const columns = table.columns.map((c) => c.name);
    const column = table.name === "orgs" ? "id" : columns.includes("org_id") ? "org_id" : null;
    if (!column) continue;
    const rows = await db
      .selectFrom(table.name as any)
      .selectAll()
      .where(column as any, "=", orgId)
      .execute();
    out[table.name] = rows.map((r) => JSON.stringify(r)).sort();
  }
  return out;
}

/** Row count of every table. */
export async function rowCounts(env: SecurityEnv): Promise<Record<string, number>> {
  const db = env.h.services.db.kysely;
  const out: Record<string, number> = {};
  for (const table of await appTables(db)) {
    const row = await db
      .selectFrom(table.name as any)
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirst();
    out[table.name] = Number(row?.n ?? 0);
  }
  return out;
}

/** True for the error envelope of DESIGN.md §2. */
export function isEnvelope(body: any): boolean {
  return (
    !!body &&
    typeof body.error === "object" &&
    typeof body.error.type === "string" &&
    typeof body.error.message === "string" &&
    Object.keys(body).length === 1
  );
}
