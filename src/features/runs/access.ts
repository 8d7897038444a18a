import type { RunsTable } from "../../db/schema";
import type { OrgAccess } from "../../http/context";
import { canSeeAgent } from "../../http/permissions";

/** True when the principal of `access` started the run (the same API key, or the same user). */
export function startedBy(access: OrgAccess, run: Pick<RunsTable, "api_key_id" | "user_id">): boolean {
  const p = access.principal;
  return p.kind === "key" ? run.api_key_id === p.keyId : run.user_id === p.userId;
}

/**
 * Who may see a run (DESIGN.md §6): whoever may read its agent (members' sessions, read, write
 * and admin keys, within their `agentIds`), and the principal that started it (a chat key reads
 * and follows its own runs). Anyone else gets 404, as if it did not exist.
 */
export function canSeeRun(access: OrgAccess, run: RunsTable): boolean {
  if (!canSeeAgent(access, run.agent_id)) return false;
  return access.permissions.has("read") || startedBy(access, run);
}

/** Who may cancel a run it can see: a principal with `write`, or the one that started it. */
export function canCancelRun(access: OrgAccess, run: RunsTable): boolean {
  return canSeeRun(access, run) && (access.permissions.has("write") || startedBy(access, run));
}
