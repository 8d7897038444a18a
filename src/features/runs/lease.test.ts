/**
 * The lease a gateway holds on the runs it executes: renewed for all of them together, and what a
 * renewal finds (the lease taken by another gateway, a cancel whose signal never arrived) stops the run.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeAnthropic } from "../../../test/fakes/anthropic";
import type { FakeModelServer } from "../../../test/fakes/model-script";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";

const SONNET = "claude-sonnet-4-20250514";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("runs: the lease renewal", () => {
  let h: Harness;
  let fake: FakeModelServer;
  let a: Account;
  let key: string;
  let agentId: string;

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    // A 1 s lease is renewed every 333 ms.
    h = await createHarness({
      ANTHROPIC_API_KEY: "sk-ant-test-key-000000000000",
      ANTHROPIC_BASE_URL: fake.url,
      OPENPAW_DEFAULT_PLAN: "unlimited",
      OPENPAW_RUN_LEASE_SECONDS: "1",
    });
    a = await h.signup();
    key = (await h.createKey(a, { scopes: ["admin"] })).key;
    const agent = await h.request("POST", `/v1/orgs/${a.orgId}/agents`, { cookie: a.cookie, body: { name: "Holder", systemPrompt: "Hold.", model: SONNET } });
    agentId = agent.body.id;
  });
  afterAll(async () => {
    await h.close();
    await fake.close();
  });

  const row = (id: string) => h.services.db.kysely.selectFrom("runs").selectAll().where("id", "=", id).executeTakeFirstOrThrow();

  async function until<T>(fn: () => Promise<T>, ok: (value: T) => boolean, ms = 5_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = await fn();
      if (ok(value) || Date.now() > deadline) return value;
      await sleep(25);
    }
  }

  it("keeps every held run's lease; a lost lease stops the run here and writes nothing more; a cancel found at renewal ends the run", async () => {
    // Each run streams a delta every 100 ms for ~6 s: long past the lease unless it is renewed.
    fake.setFallback(() => ({ text: "x ".repeat(60), textChunks: 60, delayMs: 100 }));
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await h.request("POST", `/v1/agent/${agentId}/chat`, { key, body: { message: `hold ${i}`, background: true } });
      expect(res.status).toBe(202);
      ids.push(res.body.id);
    }
    const [kept, taken, cancelled] = ids;
    await until(() => Promise.all(ids.map(row)), (rows) => rows.every((r) => r.last_event_seq >= 2));

    // Another gateway takes one run over; a cancel is recorded for another without its signal.
    const db = h.services.db.kysely;
    await db.updateTable("runs").set({ lease_owner: "other-host/1/taker", lease_expires_at: Date.now() + 60_000 }).where("id", "=", taken).execute();
    await db.updateTable("runs").set({ cancel_requested_at: Date.now() }).where("id", "=", cancelled).execute();

    const stopped = await until(
      async () => ({ taken: h.services.runs.executor.isActive(taken), cancelled: (await row(cancelled)).status }),
      (s) => !s.taken && s.cancelled === "cancelled",
    );
    expect(stopped).toEqual({ taken: false, cancelled: "cancelled" });
    expect(h.logs.some((line) => line.includes("run lease lost") && line.includes(taken))).toBe(true);

    // The taken run is the other gateway's now: this one wrote nothing after it noticed.
    const afterLoss = await row(taken);
    await sleep(700);
    const later = await row(taken);
    expect(later).toMatchObject({ status: "running", lease_owner: "other-host/1/taker", last_event_seq: afterLoss.last_event_seq, updated_at: afterLoss.updated_at });

    // The untouched run outlives three lease lengths, its lease a fresh one each time it is read.
    for (let i = 0; i < 3; i++) {
      const held = await row(kept);
      expect(held.status).toBe("running");
      expect(held.lease_owner).toBe(h.services.runs.executor.owner);
      expect(held.lease_expires_at).toBeGreaterThan(Date.now());
      await sleep(1_000);
    }
    const ended = await until(() => row(kept), (r) => r.status !== "running", 10_000);
    expect(ended.status).toBe("completed");
    const usage = await db.selectFrom("usage_records").select("run_id").where("run_id", "in", [kept, cancelled]).execute();
    expect(usage.map((u) => u.run_id).sort()).toEqual([kept, cancelled].sort());
  }, 30_000);
});
