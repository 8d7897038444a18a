/**
 * Dashboard fuzzing, generated from the app's own route table and from the forms its pages
 * render: every dashboard route with hostile path parameters (CR/LF, tabs, encoded `../` aimed at
 * other API routes, NUL, backslashes), anonymously and as the owner, and every form field of every
 * page with hostile values. Nothing may answer 5xx, no redirect may leave the site, and the org's
 * rows (its keys, the org itself) must be exactly as before.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Hono } from "hono";
import { parseHTML } from "linkedom";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { inProcessUrl } from "../../src/dashboard/api";
import { DASHBOARD_PATHS } from "../../src/dashboard/routes";
import { type OrgWorld, type SecurityEnv, buildWorld, findLeaks, snapshotOrg, startSecurityEnv } from "./support";

let env: SecurityEnv;
let w: OrgWorld;
/** Dashboard routes as the app registered them, e.g. `POST /orgs/:orgId/agents/:agentId/delete`. */
let routes: Array<{ method: string; path: string }>;

const ORIGIN = "http://localhost";
const FORM = { "content-type": "application/x-www-form-urlencoded", origin: ORIGIN, host: "localhost" };

beforeAll(async () => {
  env = await startSecurityEnv({ OPENPAW_DEFAULT_PLAN: "unlimited" });
  env.model.setFallback(() => ({ text: "fine" }));
  w = await buildWorld(env, "Echo");
  const owned = (path: string) => DASHBOARD_PATHS.some((p) => (p.endsWith("/*") ? path.startsWith(p.slice(0, -1)) : path === p));
  const seen = new Set<string>();
  routes = createApp(env.h.services)
    .routes.filter((r) => (r.method === "GET" || r.method === "POST") && owned(r.path) && !r.path.includes("*"))
    .filter((r) => !seen.has(`${r.method} ${r.path}`) && seen.add(`${r.method} ${r.path}`));
}, 60_000);

afterAll(async () => {
  await env?.close();
});

/** Real ids for each route parameter name. */
const idsOf = (): Record<string, string> => ({
  orgId: w.orgId,
  agentId: w.agentId,
  skillId: w.skillId,
  keyId: w.chatKey.id,
  userId: w.memberUserId,
  id: "mcp_unknown",
});

/** Hostile values of one path segment, already as they appear in the request line. */
const hostileSegments = (): string[] => [
  "%0a",
  "%0d%0aSet-Cookie:%20x=1",
  "%09",
  "%00",
  "..",
  "%2e%2e",
  `..%2F..%2F${w.orgId}`,
  `..%2Fapi-keys%2F${w.adminKey.id}`,
  `..%2F..%2F..%2Fv1%2Forgs%2F${w.orgId}`,
  "..%5C..%5C",
  "%5C%5Cevil.example",
  encodeURIComponent("\u202e\u0000x"),
  "x".repeat(300),
];

/** Hostile values of a form field. */
const hostileValues = (): string[] => [
  "\r\nSet-Cookie: x=1",
  "\n",
  "/\t/evil.example",
  "//evil.example",
  "/\\evil.example",
  "https://evil.example/",
  `../../${w.orgId}`,
  `..%2F..%2F${w.orgId}`,
  "\u0000",
  "\ud800",
  `${'{"a":'.repeat(5_000)}1${"}".repeat(5_000)}`,
  "x".repeat(20_000),
];

const encodeForm = (fields: Array<[string, string]>) => {
  const params = new URLSearchParams();
  for (const [k, v] of fields) params.append(k, v);
  return params.toString();
};

/** Where a redirect leads, or null when the answer is not a redirect. */
const locationOf = (headers: Headers) => headers.get("location");

/** True when `location` stays on this site, however a browser would parse it. */
function sameSite(location: string): boolean {
  // Browsers strip tabs and newlines from URLs and treat backslashes as slashes; so does URL.
  try {
    return new URL(location, `${ORIGIN}/base/`).origin === ORIGIN;
  } catch {
    return false;
  }
}

/** The org's rows that must not move, minus the domain's DNS check times (a background sweep may touch them). */
async function guardedRows(): Promise<Record<string, string[]>> {
  const { custom_domains: _, ...rest } = await snapshotOrg(env, w.orgId);
  return rest;
}

function check(label: string, res: { status: number; headers: Headers; text: string }, wrong: string[]): void {
  const location = locationOf(res.headers);
  if (res.status >= 500) wrong.push(`${label} -> ${res.status} ${res.text.slice(0, 160)}`);
  else if (location !== null && !sameSite(location)) wrong.push(`${label} -> redirect off-site: ${JSON.stringify(location)}`);
  for (const [name, value] of res.headers) if (/[\r\n]/.test(value)) wrong.push(`${label} -> header ${name} carries CR/LF`);
}

describe("dashboard fuzzing", () => {
  it("redirects only through redirect.ts, whose targets are parsed as URLs of this site", () => {
    const dir = join(import.meta.dirname, "../../src/dashboard");
    const files = readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => /\.tsx?$/.test(f) && !f.endsWith(".test.ts") && !f.endsWith("redirect.ts"));
    const direct = files.filter((f) => /\bc\.redirect\(/.test(readFileSync(join(dir, f), "utf8")));
    expect(direct).toEqual([]);
  });

  it("refuses in-process API paths that URL parsing would rewrite", async () => {
    const app = new Hono();
    app.get("*", (c) => {
      const out: Record<string, string> = {};
      for (const path of ["/v1/orgs/o/agents/a", "/v1/orgs/o/agents/..", "/v1/orgs/o/agents/%2e%2e", "/v1/orgs/o/agents/..%2Fx", "/v1/orgs/o/a\\b", "/v1/orgs/o/agents/\n"]) {
        try {
          out[path] = new URL(inProcessUrl(c as never, path)).pathname;
        } catch {
          out[path] = "refused";
        }
      }
      return c.json(out);
    });
    const res = await (await app.request("http://localhost/x")).json();
    expect(res).toEqual({
      "/v1/orgs/o/agents/a": "/v1/orgs/o/agents/a",
      "/v1/orgs/o/agents/..": "refused",
      "/v1/orgs/o/agents/%2e%2e": "refused",
      "/v1/orgs/o/agents/..%2Fx": "refused",
      "/v1/orgs/o/a\\b": "refused",
      "/v1/orgs/o/agents/\n": "refused",
    });
  });

  it("finds the dashboard's routes in the app's route table", () => {
    expect(routes.length).toBeGreaterThan(40);
    expect(routes.some((r) => r.method === "POST" && r.path === "/orgs/:orgId/agents/:agentId/delete")).toBe(true);
  });

  it("cannot reach other API routes through an encoded ../ in an id (revoke a key, delete the org)", async () => {
    const key = w.adminKey;
    const attempts = [
      `/orgs/${w.orgId}/agents/..%2Fapi-keys%2F${key.id}/delete`,
      `/orgs/${w.orgId}/agents/..%2F..%2F${w.orgId}/delete`,
      `/orgs/${w.orgId}/agents/${w.agentId}/skills/..%2F..%2F..%2F..%2F${w.orgId}/detach`,
      `/orgs/${w.orgId}/members/..%2Fapi-keys%2F${key.id}/delete`,
      `/orgs/${w.orgId}/api-keys/..%2F..%2F${w.orgId}/revoke`,
    ];
    const wrong: string[] = [];
    for (const path of attempts) {
      const res = await env.call("POST", path, { cookie: w.owner.cookie, raw: "", headers: FORM });
      check(`POST ${path}`, res, wrong);
    }
    expect(wrong).toEqual([]);
    expect((await env.call("GET", `/v1/orgs/${w.orgId}`, { key: key.key })).status).toBe(200);
  });

  it("keeps every redirect after login on this site, whatever the next parameter carries", async () => {
    const nexts = ["/%09/evil.example", "/\t/evil.example", "//evil.example", "/\\evil.example", "/%5Cevil.example", "https://evil.example", "http:evil.example", "/\n/evil.example", "\r\n", "javascript:alert(1)", " //evil.example", "/%2F/evil.example", "\\\\evil.example"];
    const wrong: string[] = [];
    // Login is rate limited per email: the attempts take turns between two accounts.
    const logins = [w.owner.email, w.admin.email];
    for (const [i, next] of nexts.entries()) {
      const shown = await env.call("GET", `/login?next=${encodeURIComponent(next)}`);
      check(`GET /login next=${JSON.stringify(next)}`, shown, wrong);
      const hidden = parseHTML(shown.text).document.querySelector('input[name="next"]')?.getAttribute("value") ?? "/";
      if (!sameSite(hidden)) wrong.push(`login form keeps next=${JSON.stringify(hidden)}`);
      const res = await env.call("POST", "/login", {
        raw: encodeForm([["email", logins[i % 2]], ["password", "correct horse battery"], ["next", next]]),
        headers: FORM,
      });
      if (res.status !== 303) wrong.push(`POST /login next=${JSON.stringify(next)} -> ${res.status}`);
      check(`POST /login next=${JSON.stringify(next)}`, res, wrong);
    }
    expect(wrong).toEqual([]);
  });

  it("answers every route with hostile path parameters without a 5xx, an off-site redirect or a changed row", async () => {
    const before = await guardedRows();
    const wrong: string[] = [];
    let n = 0;
    const ids = idsOf();
    for (const route of routes) {
      const params = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]);
      for (const param of params) {
        for (const bad of hostileSegments()) {
          const url = route.path.replace(/:(\w+)/g, (_, name) => (name === param ? bad : (ids[name] ?? name)));
          for (const [who, cookie] of [
            ["anonymous", undefined],
            ["owner", w.owner.cookie],
          ] as const) {
            const res = await env.call(route.method, url, { cookie, ...(route.method === "POST" ? { raw: "", headers: FORM } : {}) });
            n++;
            check(`${who} ${route.method} ${url}`, res, wrong);
          }
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(await guardedRows()).toEqual(before);
    for (const key of [w.adminKey, w.chatKey, w.restrictedKey]) expect((await env.call("GET", `/v1/orgs/${w.orgId}/agents`, { key: key.key })).status).not.toBe(401);
    console.log(`dashboard fuzz: ${n} requests with hostile path parameters over ${routes.length} routes, no 5xx, no off-site redirect, org rows unchanged`);
  }, 180_000);

  it("answers every field of every form with hostile values without a 5xx or an off-site redirect", async () => {
    const ids = idsOf();
    const pages = routes.filter((r) => r.method === "GET").map((r) => r.path.replace(/:(\w+)/g, (_, name) => ids[name] ?? name));
    const forms = new Map<string, { action: string; fields: Array<[string, string]> }>();
    for (const page of pages) {
      const res = await env.call("GET", page, { cookie: w.owner.cookie });
      if (res.status !== 200 || !(res.headers.get("content-type") ?? "").includes("text/html")) continue;
      const { document } = parseHTML(res.text);
      for (const form of document.querySelectorAll('form[method="post"]')) {
        const action = new URL(form.getAttribute("action") ?? page, `${ORIGIN}${page}`).pathname;
        // Signing out would end the session the rest of the suite uses.
        if (action === "/logout") continue;
        const fields: Array<[string, string]> = [];
        for (const el of form.querySelectorAll("input[name], textarea[name], select[name]")) {
          const type = (el.getAttribute("type") ?? "").toLowerCase();
          if (type === "file" || type === "submit") continue;
          if ((type === "checkbox" || type === "radio") && !el.hasAttribute("checked")) continue;
          const value = el.tagName === "TEXTAREA" ? el.textContent : el.tagName === "SELECT" ? (el.querySelector("option")?.getAttribute("value") ?? "") : (el.getAttribute("value") ?? "");
          fields.push([el.getAttribute("name") as string, value ?? ""]);
        }
        if (fields.length) forms.set(`${action} ${fields.map(([n]) => n).join(",")}`, { action, fields });
      }
    }
    expect(forms.size).toBeGreaterThan(10);
    const wrong: string[] = [];
    let n = 0;
    for (const { action, fields } of forms.values()) {
      for (const name of new Set(fields.map(([f]) => f))) {
        for (const value of hostileValues()) {
          const sent = fields.map(([f, v]): [string, string] => [f, f === name ? value : v]);
          const res = await env.call("POST", action, { cookie: w.owner.cookie, raw: encodeForm(sent), headers: FORM });
          n++;
          check(`POST ${action} ${name}=${JSON.stringify(value.slice(0, 20))}`, res, wrong);
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(findLeaks(env)).toEqual([]);
    console.log(`dashboard fuzz: ${n} posts of ${forms.size} forms with hostile field values, no 5xx, no off-site redirect`);
  }, 180_000);
});
