import type { Kysely, Transaction } from "kysely";
import type { Database, RunApprovalsTable } from "../../db/schema";

type Executor = Kysely<Database> | Transaction<Database>;

export interface PendingCall {
  id: string;
  name: string;
  input: unknown;
}

/** Records the calls a run waits for (in the transaction that makes it `requires_action`). */
export async function insertPendingApprovals(trx: Executor, orgId: string, runId: string, calls: PendingCall[], now: number, expiresAt: number): Promise<void> {
  if (calls.length === 0) return;
  await trx
    .insertInto("run_approvals")
    .values(
      calls.map((call) => ({
        run_id: runId,
        tool_call_id: call.id,
        org_id: orgId,
        tool: call.name,
        input: JSON.stringify(call.input ?? null),
        created_at: now,
        expires_at: expiresAt,
        decided_at: null,
        approved: null,
        reason: null,
        decided_by: null,
      })),
    )
    // A call asked again (its run was cut before the wait was recorded) keeps its first row.
    .onConflict((oc) => oc.columns(["run_id", "tool_call_id"]).doNothing())
    .execute();
}

export function findApproval(db: Executor, orgId: string, runId: string, toolCallId: string): Promise<RunApprovalsTable | undefined> {
  return db
    .selectFrom("run_approvals")
    .selectAll()
    .where("org_id", "=", orgId)
    .where("run_id", "=", runId)
    .where("tool_call_id", "=", toolCallId)
    .executeTakeFirst();
}

/** Every approval of some calls of a run (decided or not), by call id. */
export async function approvalsOfCalls(db: Executor, orgId: string, runId: string, toolCallIds: string[]): Promise<Map<string, RunApprovalsTable>> {
  if (toolCallIds.length === 0) return new Map();
  const rows = await db
    .selectFrom("run_approvals")
    .selectAll()
    .where("org_id", "=", orgId)
    .where("run_id", "=", runId)
    .where("tool_call_id", "in", toolCallIds)
    .execute();
  return new Map(rows.map((r) => [r.tool_call_id, r]));
}

/** The undecided calls of some runs as the run object shows them (`pendingApprovals`), by run id. */
export async function pendingCallsOf(
  db: Executor,
  orgId: string,
  runIds: string[],
): Promise<Map<string, Array<{ toolCallId: string; tool: string; input: unknown }>>> {
  const rows = await pendingApprovalsOf(db, orgId, runIds);
  return new Map(
    [...rows].map(([runId, list]) => [runId, list.map((a) => ({ toolCallId: a.tool_call_id, tool: a.tool, input: JSON.parse(a.input) as unknown }))]),
  );
}

/** The undecided approvals of some runs, oldest first, by run id. */
export async function pendingApprovalsOf(db: Executor, orgId: string, runIds: string[]): Promise<Map<string, RunApprovalsTable[]>> {
  const out = new Map<string, RunApprovalsTable[]>();
  if (runIds.length === 0) return out;
  const rows = await db
    .selectFrom("run_approvals")
    .selectAll()
    .where("org_id", "=", orgId)
    .where("run_id", "in", runIds)
    .where("decided_at", "is", null)
    .orderBy("created_at")
    .orderBy("tool_call_id")
    .execute();
  for (const row of rows) out.set(row.run_id, [...(out.get(row.run_id) ?? []), row]);
  return out;
}

export interface Decision {
  approved: boolean;
  reason: string | null;
  by: string;
  now: number;
}

/** Decides a pending call once: false (changing nothing) when it was already decided. */
export async function decideApproval(db: Executor, orgId: string, runId: string, toolCallId: string, decision: Decision): Promise<boolean> {
  const result = await db
    .updateTable("run_approvals")
    .set({ decided_at: decision.now, approved: decision.approved ? 1 : 0, reason: decision.reason, decided_by: decision.by })
    .where("org_id", "=", orgId)
    .where("run_id", "=", runId)
    .where("tool_call_id", "=", toolCallId)
    .where("decided_at", "is", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function countUndecided(db: Executor, orgId: string, runId: string): Promise<number> {
  const row = await db
    .selectFrom("run_approvals")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("org_id", "=", orgId)
    .where("run_id", "=", runId)
    .where("decided_at", "is", null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Cross-tenant on purpose (the timeout sweep of every gateway): undecided approvals past their expiry. */
export function findExpiredApprovals(db: Executor, now: number, limit = 200): Promise<RunApprovalsTable[]> {
  return db.selectFrom("run_approvals").selectAll().where("decided_at", "is", null).where("expires_at", "<", now).limit(limit).execute();
}
