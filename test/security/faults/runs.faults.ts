/**
 * Durable background runs against a real gateway process on SQLite: SIGKILL in the middle of a
 * model call and in the middle of a tool call, then a restart. The run completes on the restarted
 * gateway from its last recorded step: no half step, nothing run twice, the log continues after
 * `resumed` with contiguous seqs, one usage record.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeAnthropic } from "../../fakes/anthropic";
import type { FakeModelServer } from "../../fakes/model-script";
import { bootstrapKey, checkIntegrity, openDataDir, serverEnv, startServerProcess } from "../process";
import { SONNET } from "../support";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("background runs survive SIGKILL of their gateway (real process, SQLite)", () => {
  let model: FakeModelServer;
  let dataDir: string;
  let env: Record<string, string>;
  let key: string;
  let orgId: string;
  let agentId: string;
  /** A page that never answers by itself: a tool call in flight at the moment of the kill. */
  let page: { url: string; hits: number; close(): void; held: ServerResponse[] };

  beforeAll(async () => {
    model = await startFakeAnthropic();
    const held: ServerResponse[] = [];
    const pageServer = createServer((_req: IncomingMessage, res: ServerResponse) => {
      page.hits++;
      held.push(res);
    });
    await new Promise<void>((r) => pageServer.listen(0, "127.0.0.1", r));
    const port = (pageServer.address() as AddressInfo).port;
    page = {
      url: `http://127.0.0.1:${port}/slow`,
      hits: 0,
      held,
      close: () => {
        pageServer.closeAllConnections();
        pageServer.close();
      },
    };
    dataDir = mkdtempSync(join(tmpdir(), "openpaw-runs-faults-"));
    env = serverEnv(dataDir, {
      ANTHROPIC_API_KEY: "sk-ant-faults",
      ANTHROPIC_BASE_URL: model.url,
      OPENPAW_FETCH_ALLOWLIST: `127.0.0.1:${port}`,
    });
    ({ key, orgId } = await bootstrapKey(env));
  }, 60_000);
  afterAll(async () => {
    await model?.close();
    page?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const api = (base: string, method: string, path: string, body?: unknown) =>
    fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  async function loggedEvents(runId: string) {
    const db = openDataDir(dataDir);
    try {
      const rows = await db.kysely.selectFrom("run_events").selectAll().where("run_id", "=", runId).orderBy("seq").execute();
      return rows.map((r) => ({ seq: r.seq, event: r.event, data: JSON.parse(r.data) }));
    } finally {
      await db.close();
    }
  }

  async function waitFor<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (ok(v) || Date.now() > deadline) return v;
      await sleep(50);
    }
  }

  async function finalState(runId: string) {
    const db = openDataDir(dataDir);
    try {
      const run = await db.kysely.selectFrom("runs").selectAll().where("id", "=", runId).executeTakeFirstOrThrow();
      const usage = await db.kysely.selectFrom("usage_records").selectAll().where("run_id", "=", runId).execute();
      const messages = await db.kysely.selectFrom("messages").selectAll().where("run_id", "=", runId).orderBy("seq").execute();
      const integrity = await checkIntegrity(db.kysely);
      return { run, usage, messages: messages.map((m) => JSON.parse(m.content)), integrity };
    } finally {
      await db.close();
    }
  }

  it("SIGKILL during a model call: the restarted gateway redoes the step and completes the run", async () => {
    let server = await startServerProcess(env);
    const agent = await api(server.url, "POST", `/v1/orgs/${orgId}/agents`, {
      name: "Durable",
      model: SONNET,
      enabledTools: ["memory_write"],
    });
    agentId = ((await agent.json()) as { id: string }).id;
    model.enqueue({ text: "a very slow answer that will be cut by the kill", textChunks: 30, delayMs: 150 });
    const res = await api(server.url, "POST", `/v1/agent/${agentId}/chat`, { message: "survive this", background: true });
    expect(res.status).toBe(202);
    const { id: runId } = (await res.json()) as { id: string };
    await waitFor(
      () => loggedEvents(runId),
      (events) => events.filter((e) => e.event === "text").length >= 3,
    );
    server.child.kill("SIGKILL");
    await server.exited;

    model.enqueue({ text: "The whole answer, after the restart.", textChunks: 3 });
    server = await startServerProcess(env);
    const ended = await waitFor(
      () => finalState(runId),
      (s) => s.run.ended_at !== null,
    );
    expect(ended.run.status).toBe("completed");
    expect(ended.usage).toHaveLength(1);
    expect(ended.integrity.problems).toEqual([]);
    // No half step: one user message and one whole answer.
    expect(ended.messages.map((m: { role: string }) => m.role)).toEqual(["user", "assistant"]);
    expect(JSON.stringify(ended.messages[1])).toContain("after the restart");
    const events = await loggedEvents(runId);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const resumed = events.findIndex((e) => e.event === "resumed");
    expect(resumed).toBeGreaterThan(0);
    expect(events[resumed].data).toEqual({ iteration: 1 });
    expect(events.slice(resumed + 1).map((e) => e.event)).toEqual(["text", "text", "text", "done"]);
    // Followers see the same log over HTTP.
    const follow = await fetch(`${server.url}/v1/orgs/${orgId}/runs/${runId}/events`, { headers: { authorization: `Bearer ${key}` } });
    const text = await follow.text();
    expect(text.match(/^id: \d+$/gm)).toHaveLength(events.length);
    server.child.kill("SIGTERM");
    await server.exited;
  }, 90_000);

  it("SIGKILL during a tool call: the call is not run again and the model is told it was interrupted", async () => {
    let server = await startServerProcess(env);
    const agent = await api(server.url, "POST", `/v1/orgs/${orgId}/agents`, { name: "Reader", model: SONNET, enabledTools: ["read_url"] });
    const readerId = ((await agent.json()) as { id: string }).id;
    model.enqueue({ text: "Reading it.", textChunks: 1, toolCalls: [{ id: "toolu_slow", name: "read_url", input: { url: page.url } }] });
    const res = await api(server.url, "POST", `/v1/agent/${readerId}/chat`, { message: "read the slow page", background: true });
    const { id: runId } = (await res.json()) as { id: string };
    await waitFor(
      async () => page.hits,
      (hits) => hits >= 1,
    );
    // Let the tool_start reach the log, then kill while the page still holds the request.
    await waitFor(
      () => loggedEvents(runId),
      (events) => events.some((e) => e.event === "tool_start"),
    );
    server.child.kill("SIGKILL");
    await server.exited;

    model.requests.length = 0;
    model.enqueue({ text: "The read was interrupted; I will not assume it worked.", textChunks: 2 });
    server = await startServerProcess(env);
    const ended = await waitFor(
      () => finalState(runId),
      (s) => s.run.ended_at !== null,
    );
    expect(ended.run.status).toBe("completed");
    expect(ended.usage).toHaveLength(1);
    expect(page.hits).toBe(1);
    const toolResult = model.requests[0].body.messages.at(-1).content[0];
    expect(toolResult).toMatchObject({ type: "tool_result", tool_use_id: "toolu_slow", is_error: true });
    expect(JSON.stringify(toolResult.content)).toContain("may or may not have taken effect");
    expect(ended.messages.map((m: { role: string }) => m.role)).toEqual(["user", "assistant", "tool", "assistant"]);
    const events = await loggedEvents(runId);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const names = events.map((e) => e.event);
    expect(names.slice(names.indexOf("resumed"))).toEqual(["resumed", "tool_result", "text", "text", "done"]);
    for (const res of page.held) res.destroy();
    server.child.kill("SIGTERM");
    await server.exited;
  }, 90_000);
});
