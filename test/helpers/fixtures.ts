import type { RunsTable } from "../../src/db/schema";
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
      approval_required: "[]",
      created_at: now,
      updated_at: now,
    })
    .execute();
  return id;
}

/** A run row with every column at its default, overridden by `fields` (for tests of what reads runs). */
export function runRow(fields: Partial<RunsTable> & Pick<RunsTable, "org_id" | "agent_id">): RunsTable {
  const now = Date.now();
  return {
    id: newId("run"),
    conversation_id: newId("conv"),
    parent_run_id: null,
    api_key_id: null,
    user_id: null,
    schedule_id: null,
    model: "claude-sonnet-4-20250514",
    status: "completed",
    background: 0,
    input: "",
    instructions: null,
    prelude: null,
    stop_reason: null,
    error: null,
    input_tokens: 0,
    output_tokens: 0,
    cache_read_tokens: 0,
    cache_write_tokens: 0,
    cost: 0,
    iterations: 0,
    tool_calls: 0,
    last_event_seq: 0,
    lease_owner: null,
    lease_expires_at: null,
    cancel_requested_at: null,
    events_expired_at: null,
    created_at: now,
    started_at: now,
    updated_at: now,
    ended_at: null,
    ...fields,
  };
}
