/**
 * Bad-input fuzzing generated from /openapi.json: for every route with a JSON body or a query,
 * invalid variants of its schema (wrong types, missing fields, extreme sizes, odd numbers and
 * unicode, deep nesting, prototype keys, a 10 MB body) each get a 4xx error envelope in time,
 * and the database row counts do not move. In-range unicode edge cases then must not cause a 5xx.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type OrgWorld,
  type Operation,
  type SecurityEnv,
  buildWorld,
  findLeaks,
  isEnvelope,
  loadOperations,
  rowCounts,
  sampleOf,
  startSecurityEnv,
} from "./support";

let env: SecurityEnv;
let w: OrgWorld;
let ops: Operation[];

beforeAll(async () => {
  // Thousands of requests per key within a minute: the request rate limits (their own suite) would answer 429.
  env = await startSecurityEnv({ OPENPAW_RATE_LIMITS: "false" });
  env.model.setFallback(() => ({ text: "fuzzed" }));
  w = await buildWorld(env, "Delta");
  ops = await loadOperations(env);
}, 60_000);

afterAll(async () => {
  await env?.close();
});

interface Case {
  label: string;
  op: Operation;
  url: string;
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
}

const TEN_MB = "x".repeat(10 * 1024 * 1024);
const UNICODE = [
  "\ud800",
  "\udfff",
  "a\ud83d",
  "\u202eevil\u202c",
  "\u0000",
  "a\u0000b",
  "\u200b\u200d\ufeff",
  "🦦".repeat(3),
  "e\u0301",
  "\uffff",
];

/** Deeply nested JSON text (objects or arrays), `depth` levels. */
const nested = (depth: number, array: boolean) =>
  array ? `${"[".repeat(depth)}${"]".repeat(depth)}` : `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;

/** Values of the wrong type for a property of `schema`. */
function wrongTypes(schema: any): unknown[] {
  const type = Array.isArray(schema.type) ? schema.type.filter((t: string) => t !== "null") : [schema.type];
  const nullable = Array.isArray(schema.type) && schema.type.includes("null");
  const all: Array<[string, unknown]> = [
    ["string", "a string"],
    ["number", 12.5],
    ["integer", 7],
    ["boolean", true],
    ["null", null],
    ["array", ["x"]],
    ["object", { x: 1 }],
  ];
  return all
    .filter(([t]) => !type.includes(t) && !(t === "integer" && type.includes("number")) && !(t === "null" && nullable))
    .filter(([t]) => !(type.includes("object") && t === "object"))
    .map(([, v]) => v);
}

/** Invalid values of one property, given its schema. */
function invalidValues(schema: any): Array<[string, unknown]> {
  if (!schema || (!schema.type && !schema.enum)) return [];
  const out: Array<[string, unknown]> = wrongTypes(schema).map((v) => [`type ${JSON.stringify(v)}`, v]);
  const type = Array.isArray(schema.type) ? schema.type.find((t: string) => t !== "null") : schema.type;
  if (schema.enum) out.push(["not in enum", "definitely-not-a-member"], ["enum unicode", `${schema.enum[0]}\u200b`]);
  if (type === "string") {
    // Strings without maxLength are bounded by the body limit only (the 10 MB case covers that).
    const max = schema.maxLength;
    if (max !== undefined)
      out.push(["too long", "x".repeat(max + 1)], ["too long unicode", "\u202e🦦\u0000".repeat(Math.ceil((max + 1) / 2) + 1)]);
    if (schema.minLength) out.push(["empty", ""]);
    if (schema.pattern) for (const u of UNICODE.slice(0, 6)) out.push([`pattern ${JSON.stringify(u)}`, `bad name ${u}`]);
    if (schema.format === "date-time") out.push(["bad date", "2025-13-45T99:99:99Z"], ["NaN date", "NaN"]);
    if (schema.format === "uri") out.push(["not a uri", "not a uri \u0000"], ["javascript uri", "javascript:alert(1)"]);
    for (const s of ["NaN", "Infinity"])
      if (!schema.format && !schema.pattern && !schema.enum && schema.maxLength && s.length > schema.maxLength) out.push([s, s]);
  }
  if (type === "number" || type === "integer") {
    out.push(["NaN string", "NaN"], ["Infinity string", "Infinity"], ["-Infinity string", "-Infinity"], ["huge", 1e308], ["-huge", -1e308]);
    if (schema.minimum !== undefined) out.push(["below minimum", schema.minimum - 1], ["negative", -1 - Math.abs(schema.minimum)]);
    if (schema.maximum !== undefined) out.push(["above maximum", schema.maximum + 1], ["2^53+1", 2 ** 53 + 1]);
    if (type === "integer") out.push(["fraction", 1.5]);
  }
  if (type === "array") {
    if (schema.maxItems !== undefined)
      out.push(["too many items", Array.from({ length: schema.maxItems + 1 }, () => sampleOf(schema.items))]);
    if (schema.minItems) out.push(["too few items", []]);
    for (const v of wrongTypes(schema.items ?? {}).slice(0, 3)) out.push([`item ${JSON.stringify(v)}`, [v]]);
    out.push(["object for array", { 0: "x" }]);
  }
  if (type === "object" && schema.properties) out.push(["array for object", [sampleOf(schema)]]);
  return out;
}

/** Every invalid variant of an operation's JSON body. */
function bodyCases(op: Operation, url: string): Case[] {
  const schema = op.body;
  const valid = sampleOf(schema) as Record<string, unknown>;
  const full = sampleOf(schema, "", true) as Record<string, unknown>;
  const cases: Case[] = [];
  const add = (label: string, c: Partial<Case>) => cases.push({ label, op, url, ...c });
  for (const v of [null, [], "text", 42, true, [valid]]) add(`body ${JSON.stringify(v)}`, { body: v });
  for (const raw of ["{", '{"a":1,}', "{'a':1}", "\u0000", "[", "nul", `${JSON.stringify(valid)}garbage`, '{"a":"\\ud800"'])
    add(`raw ${JSON.stringify(raw).slice(0, 20)}`, { raw, headers: { "content-type": "application/json" } });
  // 1,000 and 20,000 levels (20,000 is about 100 KB: under the body limit, past any recursion).
  for (const depth of [1000, 20_000]) {
    add(`deep object ${depth}`, { raw: nested(depth, false), headers: { "content-type": "application/json" } });
    add(`deep array ${depth}`, { raw: nested(depth, true), headers: { "content-type": "application/json" } });
    add(`deep property ${depth}`, {
      raw: JSON.stringify({ ...valid, zz: 0 }).replace('"zz":0', `"zz":${nested(depth, false)}`),
      headers: { "content-type": "application/json" },
    });
  }
  add("10 MB body", { raw: `{"x":"${TEN_MB}"}`, headers: { "content-type": "application/json" } });
  add("text/plain body", { raw: JSON.stringify(valid), headers: { "content-type": "text/plain" } });
  add("form body", { raw: "a=1&b=2", headers: { "content-type": "application/x-www-form-urlencoded" } });
  for (const key of ["__proto__", "constructor", "prototype"]) {
    add(`${key} key`, {
      raw: `{${JSON.stringify(valid).slice(1, -1)}${Object.keys(valid).length ? "," : ""}"${key}":{"isAdmin":true,"polluted":1}}`,
      headers: { "content-type": "application/json" },
    });
  }
  add("unknown field", { body: { ...valid, unexpectedField: 1 } });
  for (const name of Object.keys(schema.properties ?? {})) {
    const prop = schema.properties[name];
    if ((schema.required ?? []).includes(name)) {
      const { [name]: _, ...rest } = valid;
      add(`missing ${name}`, { body: rest });
    }
    // Each invalid value alone in a minimal body, and among every other (valid) property.
    for (const [label, value] of invalidValues(prop)) {
      add(`${name}: ${label}`, { body: { ...valid, [name]: value } });
      add(`${name}: ${label} (full body)`, { body: { ...full, [name]: value } });
    }
    if (prop.type === "array" && prop.items?.properties) {
      const item = sampleOf(prop.items, "", true) as Record<string, unknown>;
      for (const innerName of Object.keys(prop.items.properties)) {
        for (const [label, value] of invalidValues(prop.items.properties[innerName])) {
          add(`${name}[0].${innerName}: ${label}`, { body: { ...full, [name]: [{ ...item, [innerName]: value }] } });
        }
      }
    }
    if (prop.type === "object" && prop.properties) {
      const inner = sampleOf(prop) as Record<string, unknown>;
      for (const innerName of Object.keys(prop.properties)) {
        for (const [label, value] of invalidValues(prop.properties[innerName]).slice(0, 6)) {
          add(`${name}.${innerName}: ${label}`, { body: { ...valid, [name]: { ...inner, [innerName]: value } } });
        }
      }
    }
  }
  return cases;
}

/** Invalid variants of an operation's query parameters. */
function queryCases(op: Operation, base: string): Case[] {
  const cases: Case[] = [];
  const required = op.query.filter((q) => q.required).map((q) => `${q.name}=notes.md`);
  for (const q of op.query) {
    const values: string[] = [];
    const type = q.schema.type;
    if (type === "integer" || type === "number")
      values.push("abc", "-1", "0", "1.5", "NaN", "Infinity", "1e309", "99999999999999999999", "", "%00", "1%00");
    if (type === "string") {
      values.push("x".repeat((q.schema.maxLength ?? 4096) + 1));
      if (/from|to/.test(q.name)) values.push("not-a-date", "2025-13-45", "NaN", "-999999-01-01");
      if (q.name === "path") values.push("../../etc/passwd", "..", "/etc/passwd", "a/../../b", "%00", "a%00b");
      if (q.name === "agentId") values.push("");
    }
    for (const value of values) {
      const params = [...required.filter((r) => !r.startsWith(`${q.name}=`)), `${q.name}=${value}`];
      cases.push({ label: `query ${q.name}=${value.slice(0, 20)}`, op, url: `${base}?${params.join("&")}` });
    }
  }
  return cases;
}

/**
 * Paths of the free-form JSON fields of a schema: no type at all, or an object whose values may
 * be anything (a record of unknown). Their content is the client's own, so nesting bounds are all
 * that stands between a 25 KB body and a stack overflow wherever it is next serialised.
 */
function freeFormPaths(schema: any, path: string[] = []): string[][] {
  if (!schema || typeof schema !== "object") return [];
  const values = schema.additionalProperties;
  const anyValues = values === undefined || values === true || (typeof values === "object" && Object.keys(values).length === 0);
  const untyped = !schema.type && !schema.anyOf && !schema.oneOf && !schema.enum && !schema.properties && !schema.const;
  const out: string[][] = [];
  if (path.length > 0 && (untyped || (schema.type === "object" && !schema.properties && anyValues))) out.push(path);
  for (const [name, inner] of Object.entries<any>(schema.properties ?? {})) out.push(...freeFormPaths(inner, [...path, name]));
  if (schema.items) out.push(...freeFormPaths(schema.items, [...path, "0"]));
  for (const inner of schema.anyOf ?? schema.oneOf ?? []) out.push(...freeFormPaths(inner, path));
  return out;
}

/** `body` with `marker` placed at `path` (creating what is missing on the way). */
function withValueAt(body: Record<string, unknown>, path: string[], marker: string): Record<string, unknown> {
  const copy = structuredClone(body ?? {});
  let node: any = copy;
  path.forEach((key, i) => {
    if (i === path.length - 1) node[key] = marker;
    else {
      node[key] ??= /^\d+$/.test(path[i + 1]) ? [] : {};
      node = node[key];
    }
  });
  return copy;
}

describe("bad input fuzzing", () => {
  it("answers every invalid variant with a 4xx envelope, in time, and changes no row", async () => {
    const ids: Record<string, string> = {
      orgId: w.orgId,
      agentId: w.agentId,
      skillId: w.skillId,
      keyId: w.chatKey.id,
      userId: w.member.userId,
      conversationId: w.conversationId,
    };
    const cases: Case[] = [];
    for (const op of ops) {
      // Parameters of routes newer than this suite get a made-up id: the answer must still be a 4xx.
      const base = op.path.replace(/\{(\w+)\}/g, (_, name) => ids[name] ?? `unknown_${name}`);
      const required = op.query.filter((q) => q.required).map((q) => `${q.name}=notes.md`);
      const url = required.length ? `${base}?${required.join("&")}` : base;
      if (op.body) cases.push(...bodyCases(op, url));
      if (op.query.length) cases.push(...queryCases(op, base));
      if (op.pathParams.length > 1) {
        for (const bad of ["x".repeat(65), "%00", "..%2F..%2Fetc", "\u202e"]) {
          const last = op.pathParams[op.pathParams.length - 1];
          cases.push({
            label: `path ${last}=${bad.slice(0, 10)}`,
            op,
            url: op.path.replace(/\{(\w+)\}/g, (_, n) => (n === last ? encodeURIComponent(bad) : (ids[n] ?? n))),
          });
        }
      }
    }
    // Every case as the owner's session and again as an admin key (the other authentication path).
    const principals: Array<[string, { cookie?: string; key?: string }]> = [
      ["owner session", { cookie: w.owner.cookie }],
      ["admin key", { key: w.adminKey.key }],
    ];
    expect(cases.length * principals.length).toBeGreaterThanOrEqual(2000);

    const before = await rowCounts(env);
    const wrong: string[] = [];
    let n = 0;
    for (const [who, auth] of principals) {
      for (const c of cases) {
        const started = Date.now();
        const res = await env.call(c.op.method, c.url, { ...auth, body: c.body, raw: c.raw, headers: c.headers }, 10_000);
        n++;
        const ms = Date.now() - started;
        if (res.status < 400 || res.status >= 500 || !isEnvelope(res.body) || ms > 5_000) {
          wrong.push(`${who}: ${c.op.method} ${c.op.path} [${c.label}] -> ${res.status} in ${ms} ms: ${res.text.slice(0, 160)}`);
        }
      }
    }
    const after = await rowCounts(env);
    expect(wrong).toEqual([]);
    expect(after).toEqual(before);
    console.log(
      `fuzz: ${n} invalid requests over ${new Set(cases.map((c) => `${c.op.method} ${c.op.path}`)).size} routes, all 4xx envelopes, row counts of ${Object.keys(before).length} tables unchanged`,
    );
  }, 120_000);

  it("documents every path parameter as an id, so a hostile segment is refused before use", async () => {
    const doc = (await env.h.request("GET", "/openapi.json")).body;
    // OpenAI model names (gpt-4o, llama3.1:8b) are not ids: /openai/v1/models/{model} looks any
    // string up, and one that is not an agent the key may use is 404 model_not_found, as OpenAI answers.
    const notIds = new Set(["/openai/v1/models/{model} model"]);
    const loose: string[] = [];
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const op of Object.values<any>(item)) {
        for (const p of (op.parameters ?? []).filter((x: any) => x.in === "path")) {
          if (p.schema?.pattern !== "^[A-Za-z0-9_]{1,64}$" && !notIds.has(`${path} ${p.name}`)) loose.push(`${path} ${p.name}`);
        }
      }
    }
    expect([...new Set(loose)]).toEqual([]);
    const traversal = await env.call("DELETE", `/v1/orgs/${w.orgId}/api-keys/..%2F..%2F${w.orgId}`, { cookie: w.owner.cookie });
    expect(traversal.status).toBe(400);
    expect(traversal.body.error.param).toBe("keyId");
  });

  it("refuses deep nesting in every free-form JSON field with a 400 naming the field", async () => {
    const ids: Record<string, string> = { orgId: w.orgId, agentId: w.agentId, skillId: w.skillId };
    const wrong: string[] = [];
    const fields: string[] = [];
    const before = await rowCounts(env);
    for (const op of ops.filter((o) => o.body)) {
      const url = op.path.replace(/\{(\w+)\}/g, (_, name) => ids[name] ?? `unknown_${name}`);
      for (const path of freeFormPaths(op.body)) {
        const param = path.join(".");
        fields.push(`${op.method} ${op.path} ${param}`);
        // 5,000 levels is about 25 KB, far under the body limit; 100 levels is a few hundred bytes.
        for (const depth of [5_000, 100]) {
          for (const array of [false, true]) {
            const raw = JSON.stringify(withValueAt(sampleOf(op.body), path, "__DEEP__")).replace('"__DEEP__"', `{"k":${nested(depth, array)}}`);
            const auth = op.keyOnly ? { key: w.adminKey.key } : { cookie: w.owner.cookie };
            // Accept as the MCP transport requires it (a route refusing Accept first would hide the body check).
            const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
            const res = await env.call(op.method, url, { ...auth, raw, headers });
            // OpenAI's error shape writes indexes in brackets (messages[0].tool_calls[0]).
            const named = String(res.body?.error?.param ?? "").replace(/\[(\d+)\]/g, ".$1");
            const shaped = op.path.startsWith("/openai/") ? typeof res.body?.error?.message === "string" : isEnvelope(res.body);
            if (res.status !== 400 || !shaped || !named.startsWith(param)) {
              wrong.push(`${op.method} ${op.path} ${param} depth ${depth}${array ? " (arrays)" : ""} -> ${res.status} ${res.text.slice(0, 160)}`);
            }
          }
        }
      }
    }
    expect(fields.length).toBeGreaterThanOrEqual(2);
    expect(wrong).toEqual([]);
    expect(await rowCounts(env)).toEqual(before);
    console.log(`fuzz free-form: ${fields.length} free-form JSON fields (${fields.join("; ")}), each refused at 100 and 5,000 levels`);
  });

  it("refuses SKILL.md front matter that is nested deeply or too large, naming frontMatter", async () => {
    const markdownOps = ops.filter((o) => o.mediaTypes.includes("text/markdown"));
    expect(markdownOps.length).toBeGreaterThanOrEqual(2);
    const frontMatters = [
      `name: deep-one\ndescription: d\nextra: ${"[".repeat(5_000)}${"]".repeat(5_000)}`,
      `name: deep-two\ndescription: d\nextra: ${"{a: ".repeat(60)}1${"}".repeat(60)}`,
      `name: deep-three\ndescription: d\n${Array.from({ length: 60 }, (_, i) => `${" ".repeat(i * 2)}k${i}:`).join("\n")} 1`,
      `name: big\ndescription: d\nextra: "${"x".repeat(40_000)}"`,
    ];
    const wrong: string[] = [];
    for (const op of markdownOps) {
      const url = op.path.replace("{orgId}", w.orgId).replace("{skillId}", w.skillId);
      for (const fm of frontMatters) {
        const res = await env.call(op.method, url, { cookie: w.owner.cookie, raw: `---\n${fm}\n---\n# Body\n`, headers: { "content-type": "text/markdown" } });
        if (res.status !== 400 || res.body?.error?.param !== "frontMatter") wrong.push(`${op.method} ${op.path} ${fm.slice(0, 40)} -> ${res.status} ${res.text.slice(0, 160)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("drops a model's deeply nested tool input: the run goes on and the conversation stays readable", async () => {
    env.model.enqueue({ toolCalls: [{ id: "toolu_deep", name: "memory_write", input: null, rawInput: nested(5_000, false) }] }, { text: "recovered" });
    const res = await env.call("POST", `/v1/agent/${w.agentId}/chat`, { cookie: w.owner.cookie, body: { message: "nest", stream: false } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ text: "recovered", stopReason: "end_turn", toolCalls: 1 });
    const result = res.body.events.find((e: any) => e.event === "tool_result");
    expect(result.data).toMatchObject({ id: "toolu_deep", isError: true });
    expect(result.data.output).toMatch(/Nested more than 64 levels/);
    const conversation = await env.call("GET", `/v1/orgs/${w.orgId}/agents/${w.agentId}/conversations/${res.body.conversationId}`, { cookie: w.owner.cookie });
    expect(conversation.status).toBe(200);
    expect(conversation.body.messages).toHaveLength(4);
  });

  it("stores or refuses in-range unicode edge cases, never with a 5xx", async () => {
    const wrong: string[] = [];
    let n = 0;
    const agentPath = `/v1/orgs/${w.orgId}/agents/${w.agentId}`;
    for (const u of UNICODE) {
      const attempts: Array<[string, string, unknown]> = [
        ["PATCH", agentPath, { name: `n${u}`, description: u, systemPrompt: `p${u}`, metadata: { [u || "k"]: u } }],
        ["PUT", `${agentPath}/memory/notes`, { notes: [`note ${u}`] }],
        ["PATCH", `/v1/orgs/${w.orgId}`, { name: `org ${u}` }],
        ["POST", `/v1/agent/${w.agentId}/chat`, { message: `hi ${u}`, stream: false }],
        ["PUT", `/v1/orgs/${w.orgId}/custom-domain`, { domain: `a${u}.example.com` }],
      ];
      for (const [method, path, body] of attempts) {
        const res = await env.call(method, path, { cookie: w.owner.cookie, body });
        n++;
        if (res.status >= 500 || (res.status >= 400 && !isEnvelope(res.body)))
          wrong.push(`${method} ${path} ${JSON.stringify(u)} -> ${res.status} ${res.text.slice(0, 160)}`);
      }
      const read = await env.call("GET", agentPath, { cookie: w.owner.cookie });
      n++;
      if (read.status !== 200) wrong.push(`GET agent after ${JSON.stringify(u)} -> ${read.status}`);
    }
    expect(wrong).toEqual([]);
    expect(findLeaks(env)).toEqual([]);
    console.log(`fuzz unicode: ${n} requests with ${UNICODE.length} edge strings, no 5xx`);
  }, 60_000);
});

describe("the OpenAPI document", () => {
  it("declares every status this suite was answered (src/http/routes.ts derives them; see support.ts)", () => {
    expect([...new Set(env.undeclared)]).toEqual([]);
  });
});
