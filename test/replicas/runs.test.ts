/**
 * Durable runs across two real gateway processes on one PostgreSQL database: followers on both
 * replicas see the same events, a cancel on one stops a run executing on the other (and its model
 * call), and a replica SIGKILLed in the middle of a background run has it continued by the
 * survivor. Once with Redis pub/sub carrying the live signals, once with PostgreSQL LISTEN/NOTIFY.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeAnthropic } from "../fakes/anthropic";
import type { FakeModelServer } from "../fakes/model-script";
import { readFrames } from "../helpers/sse";
import { type Replica, freePort, startReplica, stopReplicas, waitReady } from "./replica-process";

const DB_BASE = process.env.TEST_DATABASE_URL;
const REDIS_URL = process.env.REDIS_URL;
const SONNET = "claude-sonnet-4-20250514";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const buses: Array<[string, string | null]> = [
  ["Redis pub/sub", REDIS_URL ?? null],
  ["PostgreSQL LISTEN/NOTIFY", null],
];

describe.skipIf(!DB_BASE || !REDIS_URL).each(buses)("durable runs on two replicas (%s)", (_name, redisUrl) => {
  const dbName = `openpaw_runs_${process.pid}_${Date.now().toString(36)}_${redisUrl ? "r" : "p"}`;
  const dataDir = mkdtempSync(join(tmpdir(), "openpaw-runs-replicas-"));
  let fake: FakeModelServer;
  let A: Replica;
  let B: Replica;
  let key: string;
  let orgId: string;
  let agentId: string;
  let dbUrl: string;

  const api = async (on: Replica, method: string, path: string, body?: unknown, extra: RequestInit = {}) =>
    fetch(`${on.url}${path}`, {
      method,
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: body === undefined ? undefined : JSON.stringify(body),
      ...extra,
    });
  const run = async (on: Replica, runId: string) => (await (await api(on, "GET", `/v1/orgs/${orgId}/runs/${runId}`)).json()) as any;
  async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (ok(v) || Date.now() > deadline) return v;
      await sleep(50);
    }
  }
  const usageRows = async (runId: string) => {
    const client = new pg.Client({ connectionString: dbUrl });
    await client.connect();
    const { rows } = await client.query("select status from usage_records where run_id = $1", [runId]);
    await client.end();
    return rows;
  };

  beforeAll(async () => {
    const admin = new pg.Client({ connectionString: DB_BASE });
    await admin.connect();
    await admin.query(`create database ${dbName}`);
    await admin.end();
    const url = new URL(DB_BASE as string);
    url.pathname = `/${dbName}`;
    dbUrl = url.toString();
    fake = await startFakeAnthropic();
    const env = (name: string) => ({
      DATABASE_URL: dbUrl,
      ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
      OPENPAW_DATA_DIR: join(dataDir, name),
      ANTHROPIC_API_KEY: "sk-ant-test-key-000000000000",
      ANTHROPIC_BASE_URL: fake.url,
      OPENPAW_PASSWORD_HASH_COST: "10",
      OPENPAW_DEFAULT_PLAN: "unlimited",
      OPENPAW_RUN_LEASE_SECONDS: "2",
      OPENPAW_SHUTDOWN_GRACE_MS: "500",
      LOG_LEVEL: "warn",
    });
    A = startReplica(env("a"), await freePort());
    B = startReplica(env("b"), await freePort());
    await Promise.all([waitReady(A), waitReady(B)]);
    const email = `runs${Date.now()}@example.com`;
    const signup = await fetch(`${A.url}/v1/auth/signup`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password: "correct horse battery", orgName: "Runs" }),
    });
    const cookie = (signup.headers.get("set-cookie") ?? "").split(";")[0];
    orgId = ((await signup.json()) as { org: { id: string } }).org.id;
    const created = await fetch(`${A.url}/v1/orgs/${orgId}/api-keys`, {
      method: "POST",
      headers: { "content-type": "application/json", cookie },
      body: JSON.stringify({ scopes: ["admin"] }),
    });
    key = ((await created.json()) as { key: string }).key;
    const agent = await api(A, "POST", `/v1/orgs/${orgId}/agents`, { name: "Replicated", model: SONNET, enabledTools: ["memory_write"] });
    agentId = ((await agent.json()) as { id: string }).id;
  }, 90_000);

  afterAll(async () => {
    await stopReplicas([A, B]);
    await fake?.close();
    const admin = new pg.Client({ connectionString: DB_BASE });
    await admin.connect();
    await admin.query(`drop database if exists ${dbName} with (force)`);
    await admin.end();
    rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  it("two followers, one on each replica, see identical sequences of a run executing on one of them", async () => {
    fake.enqueue(
      { text: "tool first", textChunks: 3, delayMs: 30, toolCalls: [{ id: "toolu_r", name: "memory_write", input: { content: "replicated" } }] },
      { text: "and then a long streamed answer in many pieces", textChunks: 25, delayMs: 30 },
    );
    const started = await api(A, "POST", `/v1/agent/${agentId}/chat`, { message: "follow me", background: true });
    expect(started.status).toBe(202);
    const { id } = (await started.json()) as { id: string };
    const [onA, onB] = await Promise.all([
      api(A, "GET", `/v1/orgs/${orgId}/runs/${id}/events`).then(readFrames),
      api(B, "GET", `/v1/orgs/${orgId}/runs/${id}/events`).then(readFrames),
    ]);
    expect(onA.at(-1)?.event).toBe("done");
    expect(onB.map((f) => f.raw)).toEqual(onA.map((f) => f.raw));
    expect(onA.map((f) => f.id)).toEqual(onA.map((_, i) => String(i + 1)));
    // A late follower on B, resuming in the middle, gets exactly the rest.
    const rest = await readFrames(await api(B, "GET", `/v1/orgs/${orgId}/runs/${id}/events`, undefined, { headers: { authorization: `Bearer ${key}`, "last-event-id": "7" } }));
    expect(rest.map((f) => f.raw)).toEqual(onA.slice(7).map((f) => f.raw));
  });

  it("a cancel on the other replica stops the run and its model call within 2 s, usage recorded once", async () => {
    fake.enqueue({ text: "a very long answer ".repeat(10), textChunks: 40, delayMs: 200, usage: { inputTokens: 21 } });
    const aborted = fake.abortedRequests;
    const started = await api(A, "POST", `/v1/agent/${agentId}/chat`, { message: "cancel me elsewhere", background: true });
    const { id } = (await started.json()) as { id: string };
    await until(() => run(B, id), (r) => r.lastEventId >= 2);
    const t0 = Date.now();
    const cancelled = await api(B, "POST", `/v1/orgs/${orgId}/runs/${id}/cancel`);
    const body = (await cancelled.json()) as { status: string };
    expect(cancelled.status).toBe(200);
    expect(body.status).toBe("cancelled");
    await until(async () => fake.abortedRequests, (n) => n > aborted, 2_000);
    expect(fake.abortedRequests).toBeGreaterThan(aborted);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(await usageRows(id)).toEqual([{ status: "cancelled" }]);
  });

  it("a replica SIGKILLed in the middle of a background run: the survivor continues it from its last step", async () => {
    fake.enqueue({ text: "cut off by the kill, this answer is slow", textChunks: 40, delayMs: 100 });
    const started = await api(A, "POST", `/v1/agent/${agentId}/chat`, { message: "outlive your gateway", background: true });
    const { id } = (await started.json()) as { id: string };
    await until(() => run(B, id), (r) => r.lastEventId >= 3);
    fake.enqueue({ text: "Finished by the survivor.", textChunks: 2 });
    A.proc.kill("SIGKILL");
    await A.exited;
    const ended = await until(() => run(B, id), (r) => r.status !== "running", 20_000);
    expect(ended).toMatchObject({ status: "completed", stopReason: "end_turn" });
    const frames = await readFrames(await api(B, "GET", `/v1/orgs/${orgId}/runs/${id}/events`));
    const names = frames.map((f) => f.event);
    expect(frames.map((f) => f.id)).toEqual(frames.map((_, i) => String(i + 1)));
    expect(names.slice(names.indexOf("resumed"))).toEqual(["resumed", "text", "text", "done"]);
    expect(await usageRows(id)).toEqual([{ status: "completed" }]);
  }, 40_000);
});
