import { newId } from "../../src/lib/ids";
import type { Harness } from "./harness";

/** Inserts a minimal agent row straight into the database (for tests of what hangs off agents). */
export async function insertAgentRow(h: Harness, orgId: string, name = "Test agent"): Promise<string> {
  const id = newId("ag");
  const now = Date.now();
  await h.services.db.kysely
    .insertInto("agents")
    .values({
      id,
      org_id: orgId,
      name,
      description: null,
      system_prompt: "",
      model: "claude-sonnet-4-20250514",
      temperature: 0.7,
      max_iterations: 25,
      enabled_tools: "[]",
      metadata: "{}",
      created_at: now,
      updated_at: now,
    })
    .execute();
  return id;
}
