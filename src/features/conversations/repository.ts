import type { Kysely, Transaction } from "kysely";
import { isUniqueViolation } from "../../db";
import type { ConversationsTable, Database } from "../../db/schema";
import type { ChatMessage } from "../../runtime/models/types";
import { newId } from "../../lib/ids";
import { prepare, preparedInsert } from "../../db/prepared";

type Executor = Kysely<Database> | Transaction<Database>;

/** Conversations of an agent and their messages. Every query is scoped by org and agent. */
export function findConversation(db: Kysely<Database>, orgId: string, agentId: string, conversationId: string): Promise<ConversationsTable | undefined> {
  return db
    .selectFrom("conversations")
    .selectAll()
    .where("org_id", "=", orgId)
    .where("agent_id", "=", agentId)
    .where("id", "=", conversationId)
    .executeTakeFirst();
}

export async function insertConversation(db: Kysely<Database>, conversation: ConversationsTable): Promise<void> {
  await insertConversationRow(db, conversation);
}

export async function touchConversation(db: Kysely<Database>, orgId: string, conversationId: string, now: number): Promise<void> {
  await touch.execute(db, [now, orgId, conversationId]);
}

// Prepared (src/db/prepared.ts): every run writes these.
const insertConversationRow = preparedInsert("conversations");
const touch = prepare<[number, string, string], never>((db, p) =>
  db.updateTable("conversations").set({ updated_at: p(0) }).where("org_id", "=", p(1)).where("id", "=", p(2)),
);
const insertMessage = preparedInsert("messages");

export async function listConversations(db: Kysely<Database>, orgId: string, agentId: string, page: number, limit: number) {
  const base = db.selectFrom("conversations").where("org_id", "=", orgId).where("agent_id", "=", agentId);
  const [rows, count] = await Promise.all([
    base.selectAll().orderBy("updated_at", "desc").orderBy("id", "desc").limit(limit).offset((page - 1) * limit).execute(),
    base.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

/**
 * Deletes a conversation with everything made of it: its messages, its runs and the HISTORY
 * entries summarising it. Usage records stay (billing history). False when not found.
 */
export async function deleteConversation(db: Kysely<Database>, orgId: string, agentId: string, conversationId: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const found = await trx
      .selectFrom("conversations")
      .select("id")
      .where("org_id", "=", orgId)
      .where("agent_id", "=", agentId)
      .where("id", "=", conversationId)
      .executeTakeFirst();
    if (!found) return false;
    await trx.deleteFrom("messages").where("org_id", "=", orgId).where("conversation_id", "=", conversationId).execute();
    await trx.deleteFrom("runs").where("org_id", "=", orgId).where("conversation_id", "=", conversationId).execute();
    // A schedule that posts into the conversation has nowhere left to post.
    await trx.deleteFrom("schedules").where("org_id", "=", orgId).where("conversation_id", "=", conversationId).execute();
    await trx
      .deleteFrom("memory_history")
      .where("org_id", "=", orgId)
      .where("agent_id", "=", agentId)
      .where("conversation_id", "=", conversationId)
      .execute();
    await trx.deleteFrom("conversations").where("org_id", "=", orgId).where("id", "=", conversationId).execute();
    return true;
  });
}

/** The messages of a conversation in order, as the runtime's ChatMessages. */
export async function loadMessages(db: Kysely<Database>, orgId: string, conversationId: string) {
  const rows = await db
    .selectFrom("messages")
    .selectAll()
    .where("org_id", "=", orgId)
    .where("conversation_id", "=", conversationId)
    .orderBy("seq")
    .execute();
  return rows.map((r) => ({ id: r.id, runId: r.run_id, seq: r.seq, createdAt: r.created_at, message: JSON.parse(r.content) as ChatMessage }));
}

/**
 * Appends messages to a conversation, numbering them after its last one. Runs of one
 * conversation may overlap (two tabs); the unique (conversation, seq) index turns a collision into
 * a retry instead of an interleaving.
 */
export class MessageAppender {
  private next: number | null;

  /** `next`: the seq the caller expects the next message to take (it read the conversation); read from the table when absent. */
  constructor(
    private readonly db: Kysely<Database>,
    private readonly orgId: string,
    private readonly conversationId: string,
    private readonly runId: string,
    next?: number,
  ) {
    this.next = next ?? null;
  }

  /**
   * Appends `message` (when there is one) and, when given, `alsoWrite` (the rest of its step) in
   * one transaction. On a seq collision the whole transaction is tried again with the seq read
   * anew: the step's other writes were rolled back with the message, so none is made twice.
   */
  async append(message: ChatMessage | null, alsoWrite?: (trx: Transaction<Database>) => Promise<void>): Promise<void> {
    const insert = async (db: Executor) => {
      if (message)
        await insertMessage(db, {
          id: newId("msg"),
          org_id: this.orgId,
          conversation_id: this.conversationId,
          run_id: this.runId,
          seq: this.next as number,
          role: message.role,
          content: JSON.stringify(message),
          created_at: Date.now(),
        });
    };
    for (let attempt = 0; ; attempt++) {
      // Read outside the transaction: on SQLite its one connection is the transaction's until it ends.
      if (message && (this.next === null || attempt > 0)) this.next = await this.lastSeq() + 1;
      try {
        if (alsoWrite)
          await this.db.transaction().execute(async (trx) => {
            await alsoWrite(trx);
            await insert(trx);
          });
        else await insert(this.db);
        if (message) this.next = (this.next as number) + 1;
        return;
      } catch (error) {
        if (!message || !isUniqueViolation(error) || attempt === 4) throw error;
      }
    }
  }

  private async lastSeq(): Promise<number> {
    const row = await this.db
      .selectFrom("messages")
      .select((eb) => eb.fn.max("seq").as("seq"))
      .where("org_id", "=", this.orgId)
      .where("conversation_id", "=", this.conversationId)
      .executeTakeFirst();
    return Number(row?.seq ?? 0);
  }
}

/** The runs of a conversation, oldest first, with their figures (the transcript's stats line per turn). */
export function listRunsOfConversation(db: Kysely<Database>, orgId: string, conversationId: string) {
  return db
    .selectFrom("runs")
    .select([
      "id",
      "status",
      "iterations",
      "tool_calls",
      "input_tokens",
      "output_tokens",
      "cache_read_tokens",
      "cache_write_tokens",
      "cost",
      "started_at",
      "ended_at",
    ])
    .where("org_id", "=", orgId)
    .where("conversation_id", "=", conversationId)
    .orderBy("started_at")
    .orderBy("id")
    .execute();
}

/**
 * Where a run's messages sit in its conversation: the seq of its last one, and whether messages
 * of other runs follow it (the conversation went on without it). Null when it recorded none.
 */
export async function runPlaceInConversation(
  db: Kysely<Database>,
  orgId: string,
  conversationId: string,
  runId: string,
): Promise<{ lastSeq: number; followed: boolean } | null> {
  const own = await db
    .selectFrom("messages")
    .select((eb) => eb.fn.max("seq").as("seq"))
    .where("org_id", "=", orgId)
    .where("conversation_id", "=", conversationId)
    .where("run_id", "=", runId)
    .executeTakeFirst();
  if (own?.seq === null || own?.seq === undefined) return null;
  const lastSeq = Number(own.seq);
  const later = await db
    .selectFrom("messages")
    .select("id")
    .where("org_id", "=", orgId)
    .where("conversation_id", "=", conversationId)
    .where("seq", ">", lastSeq)
    .limit(1)
    .executeTakeFirst();
  return { lastSeq, followed: later !== undefined };
}

/**
 * A new conversation of the agent holding a copy of another's messages up to `throughSeq`: the
 * branch a client continues from an earlier point. Each copy keeps the run that wrote it.
 */
export async function forkConversation(
  db: Kysely<Database>,
  orgId: string,
  source: ConversationsTable,
  throughSeq: number,
  now: number,
): Promise<string> {
  const id = newId("conv");
  await db.transaction().execute(async (trx) => {
    await trx.insertInto("conversations").values({ ...source, id, created_at: now, updated_at: now }).execute();
    const rows = await trx
      .selectFrom("messages")
      .selectAll()
      .where("org_id", "=", orgId)
      .where("conversation_id", "=", source.id)
      .where("seq", "<=", throughSeq)
      .orderBy("seq")
      .execute();
    // In batches: a statement's bound parameters are limited (SQLite: 32 766).
    for (let at = 0; at < rows.length; at += 500) {
      await trx
        .insertInto("messages")
        .values(rows.slice(at, at + 500).map((r) => ({ ...r, id: newId("msg"), conversation_id: id })))
        .execute();
    }
  });
  return id;
}
