import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Kysely, Transaction } from "kysely";
import type { Database } from "../../db/schema";
import { type Harness, createHarness } from "../../../test/helpers/harness";
import { SONNET } from "../../../test/security/support";
import { MessageAppender, insertConversation, loadMessages } from "./repository";

type Executor = Kysely<Database> | Transaction<Database>;

describe("MessageAppender", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness({ OPENPAW_DEFAULT_PLAN: "pro" });
  });
  afterAll(() => h.close());

  it("a step that collides on the message's seq is written again whole, once: its other writes were rolled back with it", async () => {
    const account = await h.signup();
    const agent = await h.request("POST", `/v1/orgs/${account.orgId}/agents`, {
      cookie: account.cookie,
      body: { name: "Appender", systemPrompt: "x", model: SONNET, enabledTools: [] },
    });
    const db = h.services.db.kysely;
    const now = Date.now();
    const conversationId = `conv_appender_${now}`;
    await insertConversation(db, { id: conversationId, org_id: account.orgId, agent_id: agent.body.id, title: "t", created_at: now, updated_at: now });
    const usedTokens = async () => (await h.services.quota.periodUsage(account.orgId)).tokensUsed;
    const before = await usedTokens();
    // Two turns of one conversation (two tabs), each sure the next seq is 1.
    const first = new MessageAppender(db, account.orgId, conversationId, "run_first", 1);
    const second = new MessageAppender(db, account.orgId, conversationId, "run_second", 1);
    const step = (tokens: number) => async (trx: Executor) =>
      (await h.services.quota.settlement(account.orgId, 0, tokens))(trx);
    await first.append({ role: "assistant", content: [{ type: "text", text: "one" }] }, step(100));
    // Its settlement is written before its message, so the collision rolls back a write already made.
    await second.append({ role: "assistant", content: [{ type: "text", text: "two" }] }, step(10));
    await second.append({ role: "assistant", content: [{ type: "text", text: "three" }] });

    const messages = await loadMessages(db, account.orgId, conversationId);
    expect(messages.map((m) => [m.seq, m.runId])).toEqual([
      [1, "run_first"],
      [2, "run_second"],
      [3, "run_second"],
    ]);
    expect((await usedTokens()) - before).toBe(110);
  });
});
