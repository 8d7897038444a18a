import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertAgentRow, runRow } from "../../../test/helpers/fixtures";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";
import { newId } from "../../lib/ids";
import type { SequencedEvent } from "../../runtime/events";
import { RunEventLog, RunEventSink, readRunEvents } from "./event-log";

describe("the run event log's group commit", () => {
  let h: Harness;
  let a: Account;
  let agentId: string;

  beforeAll(async () => {
    h = await createHarness();
    a = await h.signup();
    agentId = await insertAgentRow(h, a.orgId);
  });
  afterAll(() => h.close());

  async function newRun(): Promise<string> {
    const db = h.services.db.kysely;
    const conversationId = newId("conv");
    const now = Date.now();
    await db
      .insertInto("conversations")
      .values({ id: conversationId, org_id: a.orgId, agent_id: agentId, title: "t", created_at: now, updated_at: now })
      .execute();
    const row = runRow({ org_id: a.orgId, agent_id: agentId, conversation_id: conversationId, status: "running" });
    await db.insertInto("runs").values(row).execute();
    return row.id;
  }

  /** Counts the transactions the log commits, by wrapping the database's `transaction()`. */
  function countingLog(flushMs: number) {
    const db = h.services.db.kysely;
    let transactions = 0;
    const counted = new Proxy(db, {
      get(target, prop, receiver) {
        if (prop === "transaction") {
          return () => {
            transactions++;
            return target.transaction();
          };
        }
        return Reflect.get(target, prop, receiver);
      },
    });
    return { log: new RunEventLog(counted, flushMs), transactions: () => transactions };
  }

  const sinkOf = (log: RunEventLog, runId: string, flushed: SequencedEvent[][]) =>
    new RunEventSink({ log, logger: h.services.logger, orgId: a.orgId, runId, lastSeq: 0, onFlushed: (batch) => flushed.push(batch) });

  it("writes every run's events due in one window in one transaction, in seq order, and moves each run's last_event_seq", async () => {
    const { log, transactions } = countingLog(20);
    const runs = await Promise.all([newRun(), newRun(), newRun()]);
    const flushed: SequencedEvent[][] = [];
    const sinks = runs.map((id) => sinkOf(log, id, flushed));
    for (let i = 0; i < 4; i++) for (const sink of sinks) sink.emit({ event: "text", data: { text: `t${i}` } });
    await log.flush();
    expect(transactions()).toBe(1);
    expect(flushed.map((b) => b.map((e) => e.seq))).toEqual([
      [1, 2, 3, 4],
      [1, 2, 3, 4],
      [1, 2, 3, 4],
    ]);
    for (const id of runs) {
      const events = await readRunEvents(h.services.db.kysely, a.orgId, id, 0, 10);
      expect(events.map((e) => (e.data as { text: string }).text)).toEqual(["t0", "t1", "t2", "t3"]);
      const row = await h.services.db.kysely.selectFrom("runs").select("last_event_seq").where("id", "=", id).executeTakeFirstOrThrow();
      expect(Number(row.last_event_seq)).toBe(4);
    }
  });

  it("moves last_event_seq of many runs of two orgs in one window, each run to its own newest seq", async () => {
    // 11 runs of two orgs, each with its own number of events: every run's row, matched by org and
    // id, gets its own newest seq, and its own events only.
    const b = await h.signup();
    const agentB = await insertAgentRow(h, b.orgId);
    const db = h.services.db.kysely;
    const runOf = async (orgId: string, agent: string) => {
      const conversationId = newId("conv");
      const now = Date.now();
      await db.insertInto("conversations").values({ id: conversationId, org_id: orgId, agent_id: agent, title: "t", created_at: now, updated_at: now }).execute();
      const row = runRow({ org_id: orgId, agent_id: agent, conversation_id: conversationId, status: "running" });
      await db.insertInto("runs").values(row).execute();
      return { orgId, id: row.id };
    };
    const runs = await Promise.all(Array.from({ length: 11 }, (_, i) => (i % 3 === 0 ? runOf(b.orgId, agentB) : runOf(a.orgId, agentId))));
    const { log, transactions } = countingLog(20);
    const sinks = runs.map(
      (r) => new RunEventSink({ log, logger: h.services.logger, orgId: r.orgId, runId: r.id, lastSeq: 0, onFlushed: () => {} }),
    );
    // Run i gets i + 1 events.
    sinks.forEach((sink, i) => {
      for (let n = 0; n <= i; n++) sink.emit({ event: "text", data: { text: `t${n}` } });
    });
    await log.flush();
    expect(transactions()).toBe(1);
    for (const [i, r] of runs.entries()) {
      const row = await db.selectFrom("runs").select("last_event_seq").where("org_id", "=", r.orgId).where("id", "=", r.id).executeTakeFirstOrThrow();
      expect(Number(row.last_event_seq), `run ${i}`).toBe(i + 1);
      expect(await readRunEvents(db, r.orgId, r.id, 0, 20)).toHaveLength(i + 1);
    }
  });

  it("writes within its window without being asked, and hands what is left to the closing transaction", async () => {
    const { log } = countingLog(10);
    const id = await newRun();
    const flushed: SequencedEvent[][] = [];
    const sink = sinkOf(log, id, flushed);
    sink.emit({ event: "text", data: { text: "a" } });
    const deadline = Date.now() + 5_000;
    while (flushed.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(flushed.map((b) => b.map((e) => e.seq))).toEqual([[1]]);
    sink.emit({ event: "text", data: { text: "b" } });
    const rest = await sink.takeRest();
    expect(rest.map((e) => e.seq)).toEqual([2]);
    // Closed: nothing more is written for it, whatever the log flushes later.
    sink.emit({ event: "text", data: { text: "c" } });
    await log.flush();
    expect((await readRunEvents(h.services.db.kysely, a.orgId, id, 0, 10)).map((e) => e.seq)).toEqual([1]);
  });

  it("does not let one run whose batch cannot be written hold back the others; it keeps that batch", async () => {
    const { log, transactions } = countingLog(20);
    const good = await newRun();
    const flushed: SequencedEvent[][] = [];
    const goodSink = sinkOf(log, good, flushed);
    // A run whose row is gone: its events violate the log's foreign key.
    const gone = sinkOf(log, newId("run"), flushed);
    goodSink.emit({ event: "text", data: { text: "kept" } });
    gone.emit({ event: "text", data: { text: "lost row" } });
    await log.flush();
    // The shared transaction failed, then each run was tried alone.
    expect(transactions()).toBe(3);
    expect((await readRunEvents(h.services.db.kysely, a.orgId, good, 0, 10)).map((e) => e.data)).toEqual([{ text: "kept" }]);
    expect(flushed).toHaveLength(1);
    expect((await gone.takeRest()).map((e) => e.seq)).toEqual([1]);
    expect(h.logs.some((line) => line.includes("writing run events failed"))).toBe(true);
  });
});
