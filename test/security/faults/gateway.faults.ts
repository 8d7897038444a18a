/**
 * Faults (`npm run test:faults`): a failing, hanging, dropping or garbling model provider,
 * clients vanishing mid-stream, SIGTERM with 50 streams in flight, SIGKILL and restart. After
 * each: every run has exactly one usage record, no conversation is corrupt, the server answers.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeAnthropic } from "../../fakes/anthropic";
import type { FakeModelServer, FakeTurn } from "../../fakes/model-script";
import { chatOverHttp } from "../../helpers/sse";
import { bootstrapKey, checkIntegrity, openDataDir, serverEnv, startServerProcess } from "../process";
import { type OrgWorld, type SecurityEnv, SONNET, buildWorld, findLeaks, startSecurityEnv } from "../support";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const totals: string[] = [];

/** Waits until no run is `running` (cancelled runs settle asynchronously). */
async function settled(env: SecurityEnv, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const running = await env.h.services.db.kysely.selectFrom("runs").select("id").where("status", "=", "running").execute();
    if (running.length === 0) return;
    await sleep(50);
  }
}

describe("provider and client faults (in process, over real HTTP)", () => {
  let env: SecurityEnv;
  let w: OrgWorld;
  let url: string;

  beforeAll(async () => {
    env = await startSecurityEnv({ OPENPAW_SSE_PING_MS: "100" });
    w = await buildWorld(env, "Faults");
    url = (await env.h.listen()).url;
  }, 60_000);
  afterAll(async () => {
    await env?.close();
  });

  async function assertIntact(label: string): Promise<void> {
    await settled(env);
    const integrity = await checkIntegrity(env.h.services.db.kysely);
    expect(integrity.problems, label).toEqual([]);
    expect((await fetch(`${url}/healthz`)).status, label).toBe(200);
    totals.push(`${label}: ${integrity.runs} runs = ${integrity.usageRecords} usage records`);
  }

  const failures: Array<[string, FakeTurn]> = [
    ["429", { status: 429, retryAfterSeconds: 0 }],
    ["529", { status: 529 }],
    ["500", { status: 500 }],
    ["in-stream error", { errorAfterEvents: 3, errorKind: "server" }],
    ["drop mid-stream", { text: "partial answer that is cut", dropAfterEvents: 4 }],
    ["malformed tool JSON", { toolCalls: [{ name: "memory_write", input: {}, rawInput: '{"content": "unterminated' }] }],
  ];

  it.each(failures)(
    "survives a provider answering %s",
    async (label, turn) => {
      // A fallback, not a queue: retries take as many turns as they like and none is left over.
      env.model.setFallback(() => turn);
      const res = await chatOverHttp(url, w.agentId, { message: `fault ${label}` }, { key: w.chatKey.key });
      expect([200, 502, 503]).toContain(res.status);
      if (res.status === 200) expect(["done", "error"]).toContain(res.events.at(-1)?.event);
      else expect(res.text).toMatch(/"error"/);
      env.model.setFallback(() => ({ text: "recovered" }));
      await assertIntact(`provider ${label}`);
    },
    60_000,
  );

  it("cancels a run whose provider hangs when the client gives up, recording its usage", async () => {
    env.model.setFallback(() => ({ text: "this stream will hang forever after a few events", hangAfterEvents: 4 }));
    const controller = new AbortController();
    const res = await fetch(`${url}/v1/agent/${w.agentId}/chat`, {
      method: "POST",
      headers: { authorization: `Bearer ${w.chatKey.key}`, "content-type": "application/json" },
      body: JSON.stringify({ message: "hang" }),
      signal: controller.signal,
    });
    const reader = res.body?.getReader();
    await reader?.read();
    await sleep(500);
    controller.abort();
    env.model.setFallback(() => ({ text: "ok" }));
    await assertIntact("provider hang + client abort");
    const last = await env.h.services.db.kysely.selectFrom("runs").select("status").orderBy("started_at", "desc").executeTakeFirstOrThrow();
    expect(last.status).toBe("cancelled");
  }, 30_000);

  it("survives clients disconnecting at random points", async () => {
    env.model.setFallback(() => ({ text: "a slowly streamed answer with many words in it", textChunks: 10, delayMs: 30 }));
    const chats = Array.from({ length: 12 }, async (_, i) => {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), Math.floor(Math.random() * 400));
      try {
        const res = await fetch(`${url}/v1/agent/${w.agentId}/chat`, {
          method: "POST",
          headers: { authorization: `Bearer ${w.chatKey.key}`, "content-type": "application/json" },
          body: JSON.stringify({ message: `disconnect ${i}` }),
          signal: controller.signal,
        });
        await res.text();
      } catch {
        // The abort is the point.
      }
    });
    await Promise.all(chats);
    env.model.setFallback(() => ({ text: "ok" }));
    await assertIntact("12 random client disconnects");
    expect(findLeaks(env)).toEqual([]);
  }, 60_000);
});

describe("process faults (real server child)", () => {
  let model: FakeModelServer;
  let dataDir: string;
  let env: Record<string, string>;
  let key: string;
  let orgId: string;
  let agentId: string;

  beforeAll(async () => {
    model = await startFakeAnthropic();
    dataDir = mkdtempSync(join(tmpdir(), "openpaw-faults-"));
    env = serverEnv(dataDir, { ANTHROPIC_API_KEY: "sk-ant-faults", ANTHROPIC_BASE_URL: model.url });
    ({ key, orgId } = await bootstrapKey(env));
  }, 60_000);
  afterAll(async () => {
    await model?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  async function createAgent(base: string): Promise<string> {
    const res = await fetch(`${base}/v1/orgs/${orgId}/agents`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "Faulty", model: SONNET, enabledTools: ["memory_write"] }),
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { id: string }).id;
  }

  /** Starts `n` slow streams and resolves once each has received its first bytes. */
  async function startStreams(base: string, n: number): Promise<Array<Promise<string>>> {
    // A quick tool call first (so each run has usage on record), then a slow streamed answer.
    model.setFallback((body) => {
      const last = body?.messages?.at(-1)?.content;
      const afterTool = Array.isArray(last) && last.some((b: { type?: string }) => b.type === "tool_result");
      return afterTool
        ? { text: "word ".repeat(40), textChunks: 40, delayMs: 100 }
        : { toolCalls: [{ name: "memory_write", input: { content: "seen" } }] };
    });
    const started: Array<Promise<void>> = [];
    const bodies = Array.from({ length: n }, (_, i) => {
      let onFirst: () => void = () => {};
      started.push(new Promise<void>((r) => (onFirst = r)));
      return (async () => {
        try {
          const res = await fetch(`${base}/v1/agent/${agentId}/chat`, {
            method: "POST",
            headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
            body: JSON.stringify({ message: `stream ${i}` }),
          });
          const reader = res.body?.getReader();
          let text = "";
          for (;;) {
            const chunk = await reader?.read();
            if (!chunk || chunk.done) break;
            text += new TextDecoder().decode(chunk.value);
            if (/event: text/.test(text)) onFirst();
          }
          onFirst();
          return text;
        } catch {
          onFirst();
          return "";
        }
      })();
    });
    await Promise.all(started);
    return bodies;
  }

  it("SIGTERM with 50 streams in flight: streams end, every run is settled and counted once", async () => {
    const server = await startServerProcess(env);
    agentId = await createAgent(server.url);
    const bodies = await startStreams(server.url, 50);
    server.child.kill("SIGTERM");
    const [code, texts] = await Promise.all([server.exited, Promise.all(bodies)]);
    expect(code).toBe(0);
    const ended = texts.filter((t) => /event: (done|error)/.test(t)).length;
    const db = openDataDir(dataDir);
    const integrity = await checkIntegrity(db.kysely);
    await db.close();
    expect(integrity.problems).toEqual([]);
    expect(integrity.runs).toBe(50);
    expect(ended).toBe(50);
    totals.push(`SIGTERM: 50 streams, ${ended} ended with done/error, ${integrity.runs} runs = ${integrity.usageRecords} usage records`);
  }, 90_000);

  it("SIGKILL and restart: runs left running are marked interrupted with the usage counted so far", async () => {
    const server = await startServerProcess(env);
    const bodies = await startStreams(server.url, 10);
    await sleep(300);
    server.child.kill("SIGKILL");
    await server.exited;
    await Promise.all(bodies);
    const before = openDataDir(dataDir);
    const running = await before.kysely.selectFrom("runs").select("id").where("status", "=", "running").execute();
    await before.close();
    expect(running.length).toBe(10);

    const restarted = await startServerProcess(env);
    const db = openDataDir(dataDir);
    const interrupted = await db.kysely
      .selectFrom("runs")
      .selectAll()
      .where(
        "id",
        "in",
        running.map((r) => r.id),
      )
      .execute();
    const integrity = await checkIntegrity(db.kysely);
    const usage = await db.kysely
      .selectFrom("usage_records")
      .selectAll()
      .where(
        "run_id",
        "in",
        running.map((r) => r.id),
      )
      .execute();
    await db.close();
    expect(interrupted.every((r) => r.status === "interrupted")).toBe(true);
    expect(usage).toHaveLength(10);
    expect(usage.every((u) => u.status === "interrupted" && u.input_tokens > 0)).toBe(true);
    expect(integrity.problems).toEqual([]);
    expect((await fetch(`${restarted.url}/readyz`)).status).toBe(200);
    restarted.child.kill("SIGTERM");
    await restarted.exited;
    totals.push(`SIGKILL: 10 runs interrupted and recorded at restart, ${integrity.runs} runs = ${integrity.usageRecords} usage records`);
  }, 90_000);

  it("prints its totals", () => {
    console.log(`faults:\n  ${totals.join("\n  ")}`);
  });
});
