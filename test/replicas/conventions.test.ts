/**
 * Idempotency keys and request rate limits hold across two gateway processes sharing one
 * PostgreSQL database and one Redis: a retry that lands on the other replica is replayed, and
 * both replicas count against the same per-key and per-org limits.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Replica, freePort, startReplica, stopReplicas, waitReady } from "./replica-process";

const DB_BASE = process.env.TEST_DATABASE_URL;
const REDIS_URL = process.env.REDIS_URL;

describe.skipIf(!DB_BASE || !REDIS_URL)("idempotency and rate limits across two replicas", () => {
  const dbName = `openpaw_conv_${process.pid}_${Date.now().toString(36)}`;
  const dataDir = mkdtempSync(join(tmpdir(), "openpaw-conv-"));
  let A: Replica;
  let B: Replica;

  const call = async (replica: Replica, method: string, path: string, opts: { body?: unknown; cookie?: string; key?: string; headers?: Record<string, string> } = {}) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    if (opts.cookie) headers.cookie = opts.cookie;
    if (opts.key) headers.authorization = `Bearer ${opts.key}`;
    const res = await fetch(`${replica.url}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    const text = await res.text();
    let body: any = null;
    try {
      body = JSON.parse(text);
    } catch {}
    return { status: res.status, headers: res.headers, body, text };
  };

  const signup = async (on: Replica) => {
    const email = `c${Date.now()}${Math.random().toString(36).slice(2, 7)}@example.com`;
    const s = await call(on, "POST", "/v1/auth/signup", { body: { email, password: "correct horse battery", orgName: "Conv org" } });
    expect(s.status, s.text).toBe(201);
    return { cookie: (s.headers.get("set-cookie") ?? "").split(";")[0], orgId: s.body.org.id as string };
  };

  beforeAll(async () => {
    const admin = new pg.Client({ connectionString: DB_BASE });
    await admin.connect();
    await admin.query(`create database ${dbName}`);
    await admin.end();
    const db = new URL(DB_BASE as string);
    db.pathname = `/${dbName}`;
    const plansFile = join(dataDir, "plans.json");
    writeFileSync(
      plansFile,
      JSON.stringify([
        {
          id: "metered",
          name: "Metered",
          priceMonthly: 0,
          tokenLimit: null,
          overageRate: null,
          toolTier: "free",
          maxAgents: null,
          maxConcurrentRuns: 5,
          workspaceBytes: 0,
          rateLimitPerKey: 4,
          rateLimitPerOrg: 6,
        },
      ]),
    );
    const env = (name: string) => ({
      DATABASE_URL: db.toString(),
      REDIS_URL: REDIS_URL as string,
      OPENPAW_DATA_DIR: join(dataDir, name),
      OPENPAW_PASSWORD_HASH_COST: "10",
      OPENPAW_PLANS_FILE: plansFile,
      OPENPAW_DEFAULT_PLAN: "metered",
      OPENPAW_RATE_LIMIT_WINDOW_SECONDS: "3600",
      LOG_LEVEL: "warn",
    });
    A = startReplica(env("a"), await freePort());
    await waitReady(A);
    B = startReplica(env("b"), await freePort());
    await waitReady(B);
  }, 90_000);

  afterAll(async () => {
    await stopReplicas([A, B]);
    const admin = new pg.Client({ connectionString: DB_BASE });
    await admin.connect();
    await admin.query(`drop database if exists ${dbName} with (force)`);
    await admin.end();
    rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  it("replays on B the key created on A with the same Idempotency-Key; another body on B is 409", async () => {
    const org = await signup(A);
    const body = { name: "deploy", scopes: ["read"] };
    const headers = { "Idempotency-Key": "deploy-key-1" };
    const first = await call(A, "POST", `/v1/orgs/${org.orgId}/api-keys`, { cookie: org.cookie, body, headers });
    expect(first.status, first.text).toBe(201);
    const retry = await call(B, "POST", `/v1/orgs/${org.orgId}/api-keys`, { cookie: org.cookie, body, headers });
    expect(retry.status).toBe(201);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(retry.body).toEqual(first.body);
    const reused = await call(B, "POST", `/v1/orgs/${org.orgId}/api-keys`, { cookie: org.cookie, body: { ...body, name: "other" }, headers });
    expect(reused.status).toBe(409);
    expect(reused.body.error).toMatchObject({ code: "idempotency_key_reused", param: "Idempotency-Key" });
    const keys = await call(A, "GET", `/v1/orgs/${org.orgId}/api-keys`, { cookie: org.cookie });
    expect(keys.body.data.filter((k: { name: string }) => k.name === "deploy")).toHaveLength(1);
  });

  it("counts one key's requests on both replicas against one limit, and the org's across its keys", async () => {
    const org = await signup(B);
    const mk = async () => (await call(B, "POST", `/v1/orgs/${org.orgId}/api-keys`, { cookie: org.cookie, body: { scopes: ["read"] } })).body.key as string;
    const [k1, k2] = [await mk(), await mk()];
    const statuses: number[] = [];
    for (const r of [A, B, A, B, A]) statuses.push((await call(r, "GET", `/v1/orgs/${org.orgId}/agents`, { key: k1 })).status);
    // Per key 4: the fifth, wherever it lands, is refused.
    expect(statuses).toEqual([200, 200, 200, 200, 429]);
    // Per org 6: k1 used 5, so k2 gets one on either replica, then 429.
    const k2a = await call(B, "GET", `/v1/orgs/${org.orgId}/agents`, { key: k2 });
    expect(k2a.status).toBe(200);
    expect(k2a.headers.get("ratelimit-remaining")).toBe("0");
    const k2b = await call(A, "GET", `/v1/orgs/${org.orgId}/agents`, { key: k2 });
    expect(k2b.status).toBe(429);
    expect(k2b.body.error.type).toBe("rate_limit_error");
    expect(Number(k2b.headers.get("retry-after"))).toBeGreaterThan(0);
  });
});
