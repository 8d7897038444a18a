/**
 * The webhook outbox against a real gateway process on SQLite: the run ends (its delivery is
 * written in the same transaction), the gateway is SIGKILLed before its worker sends anything,
 * and the restarted gateway delivers it, signed, with the delivery's id.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { type IncomingHttpHeaders, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeAnthropic } from "../../fakes/anthropic";
import type { FakeModelServer } from "../../fakes/model-script";
import { bootstrapKey, openDataDir, serverEnv, startServerProcess } from "../process";
import { SONNET } from "../support";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("webhook deliveries survive SIGKILL between the run's end and the delivery (real process, SQLite)", () => {
  let model: FakeModelServer;
  let dataDir: string;
  let env: Record<string, string>;
  let key: string;
  let orgId: string;
  const received: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  let receiver: ReturnType<typeof createServer>;
  let receiverUrl: string;

  beforeAll(async () => {
    model = await startFakeAnthropic();
    model.setFallback(() => ({ text: "report written" }));
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
        res.statusCode = 200;
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    const port = (receiver.address() as AddressInfo).port;
    receiverUrl = `http://127.0.0.1:${port}/hook`;
    dataDir = mkdtempSync(join(tmpdir(), "openpaw-webhook-faults-"));
    env = serverEnv(dataDir, {
      ANTHROPIC_API_KEY: "sk-ant-faults",
      ANTHROPIC_BASE_URL: model.url,
      OPENPAW_SECRET_KEY: randomBytes(32).toString("base64"),
      OPENPAW_FETCH_ALLOWLIST: `127.0.0.1:${port}`,
    });
    ({ key, orgId } = await bootstrapKey(env));
  }, 60_000);
  afterAll(async () => {
    await model?.close();
    receiver?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const api = (base: string, method: string, path: string, body?: unknown) =>
    fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  async function deliveries() {
    const db = openDataDir(dataDir);
    try {
      return await db.kysely.selectFrom("webhook_deliveries").selectAll().execute();
    } finally {
      await db.close();
    }
  }

  it("the restarted gateway delivers what the killed one had written with the run's end", async () => {
    // This gateway's worker would first look after an hour: the kill comes before any attempt.
    let server = await startServerProcess({ ...env, OPENPAW_WEBHOOK_SWEEP_MS: "3600000" });
    const agent = (await (await api(server.url, "POST", `/v1/orgs/${orgId}/agents`, { name: "Reporter", model: SONNET })).json()) as { id: string };
    const hook = await api(server.url, "POST", `/v1/orgs/${orgId}/webhooks`, { url: receiverUrl, events: ["run.completed"] });
    expect(hook.status).toBe(201);
    const { secret } = (await hook.json()) as { secret: string };
    const chat = await api(server.url, "POST", `/v1/agent/${agent.id}/chat`, { message: "write it", stream: false });
    expect(chat.status).toBe(200);
    const { runId } = (await chat.json()) as { runId: string };
    const pending = await deliveries();
    expect(pending).toHaveLength(1);
    expect(pending[0]).toMatchObject({ run_id: runId, status: "pending", attempts: 0 });
    server.child.kill("SIGKILL");
    await server.exited;
    expect(received).toHaveLength(0);

    server = await startServerProcess({ ...env, OPENPAW_WEBHOOK_SWEEP_MS: "100" });
    for (let i = 0; i < 200 && received.length === 0; i++) await sleep(50);
    expect(received).toHaveLength(1);
    const message = received[0];
    expect(message.headers["webhook-id"]).toBe(pending[0].id);
    const payload = new Webhook(secret).verify(message.body, {
      "webhook-id": String(message.headers["webhook-id"]),
      "webhook-timestamp": String(message.headers["webhook-timestamp"]),
      "webhook-signature": String(message.headers["webhook-signature"]),
    }) as { type: string; data: { run: { id: string; status: string } } };
    expect(payload).toMatchObject({ type: "run.completed", data: { run: { id: runId, status: "completed" } } });
    let after = await deliveries();
    for (let i = 0; i < 100 && after[0].status !== "delivered"; i++) {
      await sleep(50);
      after = await deliveries();
    }
    expect(after[0]).toMatchObject({ status: "delivered", attempts: 1, response_code: 200 });
    server.child.kill("SIGTERM");
    await server.exited;
  }, 90_000);
});
