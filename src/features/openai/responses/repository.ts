import type { Kysely } from "kysely";
import type { Database, OpenAiResponsesTable } from "../../../db/schema";

/** The Response side of runs created through /openai/v1/responses; every query scoped by org. */
export async function insertResponse(db: Kysely<Database>, row: OpenAiResponsesTable): Promise<void> {
  await db.insertInto("openai_responses").values(row).execute();
}

export function findResponse(db: Kysely<Database>, orgId: string, runId: string): Promise<OpenAiResponsesTable | undefined> {
  return db.selectFrom("openai_responses").selectAll().where("org_id", "=", orgId).where("run_id", "=", runId).executeTakeFirst();
}
